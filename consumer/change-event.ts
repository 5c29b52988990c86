/**
 * The change feed as a consumer receives it: the EventBridge event a rule's target gets, with the
 * pipeline's `detail-type`s and `detail` (docs/state-model.md, "The change feed"; the JSON Schema
 * of the detail is `change-event.schema.json` next to this file). Types, guards and one builder: no AWS
 * SDK, no CDK, so a consumer's bundle stays small.
 */
import { randomUUID } from 'node:crypto';
import { CHANGE_DETAIL_TYPES, CHANGE_EVENT_SOURCE, CHANGE_EVENT_VERSION, type ChangeDetailType } from '../contracts/change-event';

export { CHANGE_DETAIL_TYPES, CHANGE_EVENT_SOURCE, CHANGE_EVENT_VERSION, type ChangeDetailType };

/** Who sent the event that caused a change: LiveKit (`webhook`) or the reconciler, which repairs what LiveKit never delivered. */
export type ChangeSource = 'webhook' | 'reconciler';

/** The entities the pipeline keeps, each keyed by LiveKit's own id. */
export type EntityType = 'room' | 'participant' | 'track' | 'egress' | 'ingress';

/**
 * `detail.entity`: the entity a change is about and the ids that relate it to others (object types,
 * not interfaces, so they stay assignable to string maps).
 */
export type RoomRef = {
  readonly type: 'room';
  /** The room sid. */
  readonly id: string;
  readonly roomSid: string;
  readonly roomName?: string;
};
export type ParticipantRef = {
  readonly type: 'participant';
  /** The participant sid: one session of an identity (a rejoin is a new sid). */
  readonly id: string;
  readonly participantSid: string;
  readonly identity: string;
  readonly roomSid: string;
  readonly roomName: string;
};
export type TrackRef = {
  readonly type: 'track';
  /** The track sid. */
  readonly id: string;
  readonly trackSid: string;
  readonly participantSid: string;
  readonly identity?: string;
  readonly roomSid?: string;
  readonly roomName?: string;
};
export type EgressRef = {
  readonly type: 'egress';
  /** The egress id. */
  readonly id: string;
  readonly egressId: string;
  readonly roomSid?: string;
  readonly roomName?: string;
};
export type IngressRef = {
  readonly type: 'ingress';
  /** The ingress id (reusable: each session is its own entity, `sessionId`). */
  readonly id: string;
  readonly ingressId: string;
  readonly sessionId: string;
  readonly roomName?: string;
};
export type EntityRef = RoomRef | ParticipantRef | TrackRef | EgressRef | IngressRef;

/**
 * `detail.old` / `detail.new`: an entity as stored, without the table's keys, `info` parsed. An
 * implied start (the entity was first seen through its terminal event) carries only the ids,
 * `entityType`, `entityId`, the live `status` and `implied: true`, hence the optional fields.
 */
export interface EntityStateBase {
  readonly entityType: string;
  readonly entityId: string;
  readonly status: string;
  readonly terminal?: boolean;
  /** Present (true) only on an implied start. */
  readonly implied?: true;
  /** The event that won (the state is the one with the greatest revision seen). */
  readonly lastEventId?: string;
  readonly lastEventType?: string;
  /** The winning event's `createdAt`, unix seconds. */
  readonly lastEventCreatedAt?: number;
  readonly lastEventSource?: ChangeSource;
  /** The LiveKit object (room, participant, track, egress or ingress info) as the winning event carried it. */
  readonly info?: Record<string, unknown>;
  /** Top-level fields of `info` left out to fit DynamoDB's item limit. */
  readonly infoOmitted?: readonly string[];
  readonly [attribute: string]: unknown;
}
export interface RoomState extends EntityStateBase {
  readonly entityType: 'room';
  readonly status: 'ACTIVE' | 'FINISHED';
  readonly roomSid: string;
  readonly roomName?: string;
}
export interface ParticipantState extends EntityStateBase {
  readonly entityType: 'participant';
  readonly status: 'ACTIVE' | 'LEFT' | 'ABORTED';
  readonly participantSid: string;
  readonly identity: string;
  readonly roomSid: string;
  readonly roomName: string;
  /** LiveKit's participant `kind` (`STANDARD` when absent); absent on an implied start. */
  readonly participantKind?: string;
}
export interface TrackState extends EntityStateBase {
  readonly entityType: 'track';
  readonly status: 'PUBLISHED' | 'UNPUBLISHED';
  readonly trackSid: string;
  readonly participantSid: string;
}
export type EgressStatus =
  'EGRESS_STARTING' | 'EGRESS_ACTIVE' | 'EGRESS_ENDING' | 'EGRESS_COMPLETE' | 'EGRESS_FAILED' | 'EGRESS_ABORTED' | 'EGRESS_LIMIT_REACHED';
export interface EgressState extends EntityStateBase {
  readonly entityType: 'egress';
  /** LiveKit's status; `string` because LiveKit may add statuses. */
  readonly status: EgressStatus | (string & {});
  readonly egressId: string;
}
export interface IngressState extends EntityStateBase {
  readonly entityType: 'ingress';
  readonly status: 'ACTIVE' | 'ENDED';
  readonly ingressId: string;
  readonly sessionId: string;
}
/** `new` of an `egress.start_failed` change: an auto-egress that failed to start (there is no egress id). */
export interface EgressStartFailureState extends EntityStateBase {
  readonly entityType: 'egress_start_failure';
  readonly status: 'EGRESS_FAILED';
  readonly roomSid: string;
  /** LiveKit's error message. */
  readonly error?: string;
}
export type EntityState = RoomState | ParticipantState | TrackState | EgressState | IngressState;

/** The entity type each detail type is about (`egress.start_failed` is published under its room). */
export interface DetailTypeEntity {
  'room.started': 'room';
  'room.finished': 'room';
  'room.corrected': 'room';
  'participant.joined': 'participant';
  'participant.left': 'participant';
  'participant.connection_aborted': 'participant';
  'participant.corrected': 'participant';
  'track.published': 'track';
  'track.unpublished': 'track';
  'track.corrected': 'track';
  'egress.started': 'egress';
  'egress.updated': 'egress';
  'egress.ended': 'egress';
  'egress.corrected': 'egress';
  'ingress.started': 'ingress';
  'ingress.ended': 'ingress';
  'ingress.corrected': 'ingress';
  'egress.start_failed': 'room';
}
interface RefByType {
  room: RoomRef;
  participant: ParticipantRef;
  track: TrackRef;
  egress: EgressRef;
  ingress: IngressRef;
}
interface StateByType {
  room: RoomState;
  participant: ParticipantState;
  track: TrackState;
  egress: EgressState;
  ingress: IngressState;
}
type NewStateOf<T extends ChangeDetailType> = T extends 'egress.start_failed' ? EgressStartFailureState : StateByType[DetailTypeEntity[T]];

/**
 * `detail` of one change. Dedupe on `changeId`: the same change has the same id on every delivery
 * and in every event order (docs/state-model.md, "Exactly once in effect").
 */
export interface ChangeDetailOf<T extends ChangeDetailType> {
  /** `<type>:<id>:started|ended`, `egress:<id>:updated:<status>:<updatedAt>`, `<type>:<id>:corrected:<eventId>`, `room:<sid>:egress_start_failed:<eventId>`. */
  readonly changeId: string;
  /** Equal to the event's `detail-type`. */
  readonly detailType: T;
  readonly entity: RefByType[DetailTypeEntity[T]];
  /** The entity before the change; null when it was first seen. */
  readonly old: (T extends 'egress.start_failed' ? never : StateByType[DetailTypeEntity[T]]) | null;
  readonly new: NewStateOf<T>;
  /** The LiveKit event (id and type) that caused the change in this delivery. */
  readonly eventId: string;
  readonly eventType: string;
  readonly source: ChangeSource;
  /** When LiveKit created the event (ISO 8601). */
  readonly occurredAt: string;
  /** Parts left out to fit EventBridge's 256 KB limit (`old.info`, then `new.info`). */
  readonly omitted?: readonly ('old.info' | 'new.info')[];
}

/** `detail` of any change: a union discriminated by `detailType`. */
export type ChangeDetail<T extends ChangeDetailType = ChangeDetailType> = { [K in T]: ChangeDetailOf<K> }[T];

/**
 * What an EventBridge rule's target receives for one change (the same shape as `EventBridgeEvent`
 * of `@types/aws-lambda`). `time` is the change's `occurredAt` to the second, as the bus renders it.
 */
export interface ChangeEventOf<T extends ChangeDetailType> {
  readonly version: string;
  /** The bus's id for this delivery: differs between repeats of one change; dedupe on `detail.changeId`. */
  readonly id: string;
  readonly 'detail-type': T;
  readonly source: typeof CHANGE_EVENT_SOURCE;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  /** Mutable, as in `EventBridgeEvent`, so that a `ChangeEvent` is assignable to one. */
  readonly resources: string[];
  readonly detail: ChangeDetailOf<T>;
  /** Set by EventBridge on events replayed from the archive. */
  readonly 'replay-name'?: string;
}

/** Any change event: a union discriminated by `detail-type` (and `detail.detailType`). */
export type ChangeEvent<T extends ChangeDetailType = ChangeDetailType> = { [K in T]: ChangeEventOf<K> }[T];

const DETAIL_TYPES: ReadonlySet<string> = new Set(CHANGE_DETAIL_TYPES);

/** Whether `value` is a detail-type of the feed. */
export function isChangeDetailType(value: unknown): value is ChangeDetailType {
  return typeof value === 'string' && DETAIL_TYPES.has(value);
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Whether `value` is a change detail: an object with a string `changeId`, a known `detailType`, and
 * `entity` and `new` objects. A structural check of what dispatching needs, not a full validation
 * (validate against `change-event.schema.json` for that).
 */
export function isChangeDetail(value: unknown): value is ChangeDetail {
  return (
    isObject(value) &&
    typeof value.changeId === 'string' &&
    value.changeId !== '' &&
    isChangeDetailType(value.detailType) &&
    isObject(value.entity) &&
    isObject(value.new) &&
    (value.old === null || isObject(value.old))
  );
}

/** Whether `value` is an EventBridge event of the feed: our source, a known detail-type, and a detail of that type. */
export function isChangeEvent(value: unknown): value is ChangeEvent {
  return (
    isObject(value) &&
    value.source === CHANGE_EVENT_SOURCE &&
    isChangeDetailType(value['detail-type']) &&
    isChangeDetail(value.detail) &&
    value.detail.detailType === value['detail-type']
  );
}

/** Narrows a change event to the given detail-type(s). */
export function isChangeOf<T extends ChangeDetailType>(
  event: ChangeEvent,
  ...types: readonly T[]
): event is Extract<ChangeEvent, { readonly 'detail-type': T }> {
  return (types as readonly string[]).includes(event['detail-type']);
}

const guard =
  <T extends ChangeDetailType>(type: T) =>
  (event: ChangeEvent): event is Extract<ChangeEvent, { readonly 'detail-type': T }> =>
    event['detail-type'] === type;

export const isRoomStarted = guard('room.started');
export const isRoomFinished = guard('room.finished');
export const isParticipantJoined = guard('participant.joined');
export const isParticipantLeft = guard('participant.left');
export const isParticipantConnectionAborted = guard('participant.connection_aborted');
export const isTrackPublished = guard('track.published');
export const isTrackUnpublished = guard('track.unpublished');
export const isEgressStarted = guard('egress.started');
export const isEgressUpdated = guard('egress.updated');
export const isEgressEnded = guard('egress.ended');
export const isIngressStarted = guard('ingress.started');
export const isIngressEnded = guard('ingress.ended');
export const isEgressStartFailed = guard('egress.start_failed');

/** The corrections: a later terminal event won over the published terminal state; `new` is the entity's final state. */
export type CorrectionDetailType =
  'room.corrected' | 'participant.corrected' | 'track.corrected' | 'egress.corrected' | 'ingress.corrected';
export function isCorrection(event: ChangeEvent): event is ChangeEvent<CorrectionDetailType> {
  return event['detail-type'].endsWith('.corrected');
}

/** Every change about a participant session: joined, left, connection aborted, corrected. */
export function isParticipantChange(
  event: ChangeEvent,
): event is ChangeEvent<'participant.joined' | 'participant.left' | 'participant.connection_aborted' | 'participant.corrected'> {
  return event.detail.entity.type === 'participant';
}

/** Where a change event came from, for `changeEventOf`. */
export interface ChangeEventEnvelope {
  readonly id?: string;
  readonly account?: string;
  readonly region?: string;
}

/**
 * The event an EventBridge target receives for `detail`, as the bus builds it from the publisher's
 * PutEvents entry (`Source`, `DetailType`, `Detail`, `Resources: []`, `Time: occurredAt`):
 * `version` "0", `time` to the second. For the local runtime and for consumers' own tests.
 */
export function changeEventOf<T extends ChangeDetailType>(detail: ChangeDetailOf<T>, envelope: ChangeEventEnvelope = {}): ChangeEvent<T> {
  const occurred = new Date(detail.occurredAt);
  const time = Number.isNaN(occurred.getTime()) ? new Date() : occurred;
  const event: ChangeEventOf<T> = {
    version: '0',
    id: envelope.id ?? randomUUID(),
    'detail-type': detail.detailType,
    source: CHANGE_EVENT_SOURCE,
    account: envelope.account ?? '000000000000',
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: envelope.region ?? 'us-east-1',
    resources: [],
    detail,
  };
  // ChangeEventOf<'a' | 'b'> and ChangeEventOf<'a'> | ChangeEventOf<'b'> hold the same values.
  return event;
}
