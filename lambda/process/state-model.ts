/**
 * The state model: how one webhook event moves one entity, as pure functions, so the same rules
 * hold in the Lambda, the local runtime and the property test.
 *
 * Each event is projected onto exactly one entity (room, participant, track, egress, ingress
 * session) as a candidate item with a revision `rev`. Revisions are totally ordered strings:
 * `<phase rank>.<the entity's own version>.<event createdAt>.<event id>`. The stored item is always
 * the candidate with the greatest `rev` seen so far, so the state is a max over the events and
 * cannot depend on their order or on duplicates; terminal phases rank above every live phase,
 * which is what makes them absorbing.
 *
 * Changes are published only for lifecycle transitions (appeared, ended) and, for egress, for
 * in-state progress (ACTIVE, ENDING). Their ids name the entity and the phase, never the event,
 * so the same change has the same id whichever event happened to cause it.
 */
import { keys, TABLE_SCHEMA } from './table-schema';
import { InvalidEventError, isIntString, WebhookEvent } from './webhook-event';

export type EntityType = 'room' | 'participant' | 'track' | 'egress' | 'ingress';

export const KNOWN_EVENT_TYPES = [
  'room_started',
  'room_finished',
  'participant_joined',
  'participant_left',
  'participant_connection_aborted',
  'track_published',
  'track_unpublished',
  'egress_started',
  'egress_updated',
  'egress_ended',
  'ingress_started',
  'ingress_ended',
] as const;
export type KnownEventType = (typeof KNOWN_EVENT_TYPES)[number];

export function isKnownEventType(type: string): type is KnownEventType {
  return (KNOWN_EVENT_TYPES as readonly string[]).includes(type);
}

/** The keys that identify an entity and relate it to others; present on items and in changes. */
export interface EntityRef {
  readonly type: EntityType;
  readonly id: string;
  readonly [key: string]: string;
}

/** What is stored for an entity. */
export interface EntityItem {
  pk: string;
  sk: string;
  entityType: EntityType;
  entityId: string;
  status: string;
  terminal: boolean;
  rev: string;
  lastEventId: string;
  lastEventType: string;
  /** The event's own `createdAt` (unix seconds), not the processing time: items stay a function of their events. */
  lastEventCreatedAt?: number;
  info: Record<string, unknown>;
  gsi1pk?: string;
  gsi1sk?: string;
  gsi2pk?: string;
  gsi2sk?: string;
  expiresAt?: number;
  [attribute: string]: unknown;
}

/** An event's effect on its entity, before it is compared with what is stored. */
export interface Projection {
  readonly ref: EntityRef;
  readonly item: EntityItem;
  /** Rank + own version only: a newer `significance` is news worth a change; `rev` adds tie breakers. */
  readonly significance: string;
  /** The live status an entity first seen through its terminal event is taken to have started in. */
  readonly startStatus: string;
}

/** A change before the processor stamps it with the event that caused it. */
export interface ChangeDraft {
  readonly changeId: string;
  readonly detailType: string;
  readonly entity: EntityRef;
  readonly old: EntityView | null;
  readonly new: EntityView;
}

export type EntityView = Record<string, unknown>;

export interface Decision {
  /** Store `item` (conditional on the stored item still being `current`). */
  readonly write: boolean;
  readonly changes: readonly ChangeDraft[];
}

const DIGITS = 20;
const pad = (value: bigint): string => (value < 0n ? 0n : value).toString().padStart(DIGITS, '0');
const big = (value: unknown): bigint => (isIntString(value) ? BigInt(value as string | number) : 0n);
const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function required(value: unknown, what: string, event: WebhookEvent): string {
  const text = str(value);
  if (text === undefined) throw new InvalidEventError(`${event.event} without ${what}`);
  return text;
}

const EGRESS_RANK: Record<string, number> = { EGRESS_STARTING: 1, EGRESS_ACTIVE: 2, EGRESS_ENDING: 3 };
const EGRESS_TERMINAL = new Set(['EGRESS_COMPLETE', 'EGRESS_FAILED', 'EGRESS_ABORTED', 'EGRESS_LIMIT_REACHED']);
const TERMINAL_RANK = 9;

/** Removes `undefined` so items and views compare and marshal cleanly. */
function compact<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

interface ProjectionInput {
  ref: EntityRef;
  key: { pk: string; sk: string };
  rank: number;
  version: bigint;
  status: string;
  startStatus: string;
  info: Record<string, unknown>;
  open?: { pk: string; sk: string };
  identity?: { pk: string; sk: string };
}

function build(event: WebhookEvent, input: ProjectionInput, ttlSeconds: number): Projection {
  const createdAt = big(event.createdAt);
  const significance = `${input.rank}.${pad(input.version)}`;
  const terminal = input.rank === TERMINAL_RANK;
  const { type, id, ...refKeys } = input.ref;
  const item: EntityItem = compact({
    ...input.key,
    ...refKeys,
    entityType: type,
    entityId: id,
    status: input.status,
    terminal,
    rev: `${significance}.${pad(createdAt)}.${event.id}`,
    lastEventId: event.id,
    lastEventType: event.event,
    lastEventCreatedAt: event.createdAt === undefined ? undefined : Number(createdAt),
    info: input.info,
    gsi1pk: terminal ? undefined : input.open?.pk,
    gsi1sk: terminal ? undefined : input.open?.sk,
    gsi2pk: input.identity?.pk,
    gsi2sk: input.identity?.sk,
    // Tombstones absorb late events; they outlive every redelivery window (queue + DLQ retention)
    // and then expire. Dated from the event, not the clock, so the item stays order-independent.
    expiresAt: terminal && event.createdAt !== undefined ? Number(createdAt) + ttlSeconds : undefined,
  });
  return { ref: input.ref, item, significance, startStatus: input.startStatus };
}

/**
 * Projects a known event onto its entity. Throws `InvalidEventError` when the event lacks the
 * ids its entity is keyed by (it can never be applied). `ttlSeconds` dates tombstones.
 */
export function project(event: WebhookEvent & { event: KnownEventType }, ttlSeconds: number): Projection {
  const room = event.room ?? {};
  switch (event.event) {
    case 'room_started':
    case 'room_finished': {
      const roomSid = required(room.sid, 'room.sid', event);
      const roomName = str(room.name);
      const finished = event.event === 'room_finished';
      return build(
        event,
        {
          ref: compact({ type: 'room', id: roomSid, roomSid, roomName }) as EntityRef,
          key: keys.room(roomSid),
          rank: finished ? TERMINAL_RANK : 1,
          version: 0n,
          status: finished ? 'FINISHED' : 'ACTIVE',
          startStatus: 'ACTIVE',
          info: room,
          open: { pk: keys.activeRoomsPk, sk: `${JSON.stringify(roomName ?? '')}#${roomSid}` },
        },
        ttlSeconds,
      );
    }
    case 'participant_joined':
    case 'participant_left':
    case 'participant_connection_aborted': {
      const participant = event.participant ?? {};
      const participantSid = required(participant.sid, 'participant.sid', event);
      const identity = required(participant.identity, 'participant.identity', event);
      const roomSid = required(room.sid, 'room.sid', event);
      const roomName = required(room.name, 'room.name', event);
      const status = event.event === 'participant_joined' ? 'ACTIVE' : event.event === 'participant_left' ? 'LEFT' : 'ABORTED';
      const joinedAtMs = participant.joinedAtMs !== undefined ? big(participant.joinedAtMs) : big(participant.joinedAt) * 1000n;
      return build(
        event,
        {
          ref: { type: 'participant', id: participantSid, participantSid, identity, roomSid, roomName },
          key: keys.participant(participantSid),
          rank: status === 'ACTIVE' ? 1 : TERMINAL_RANK,
          version: big(participant.version),
          status,
          startStatus: 'ACTIVE',
          info: participant,
          open: { pk: keys.roomParticipantsPk(roomSid), sk: `${JSON.stringify(identity)}#${participantSid}` },
          identity: { pk: keys.identityPk(roomName, identity), sk: `${pad(joinedAtMs)}#${participantSid}` },
        },
        ttlSeconds,
      );
    }
    case 'track_published':
    case 'track_unpublished': {
      const track = event.track ?? {};
      const participant = event.participant ?? {};
      const trackSid = required(track.sid, 'track.sid', event);
      const participantSid = required(participant.sid, 'participant.sid', event);
      const unpublished = event.event === 'track_unpublished';
      return build(
        event,
        {
          ref: compact({
            type: 'track',
            id: trackSid,
            trackSid,
            participantSid,
            identity: str(participant.identity),
            roomSid: str(room.sid),
            roomName: str(room.name),
          }) as EntityRef,
          key: keys.track(trackSid),
          rank: unpublished ? TERMINAL_RANK : 1,
          version: big(track.version?.unixMicro),
          status: unpublished ? 'UNPUBLISHED' : 'PUBLISHED',
          startStatus: 'PUBLISHED',
          info: track,
          open: { pk: keys.participantTracksPk(participantSid), sk: trackSid },
        },
        ttlSeconds,
      );
    }
    case 'egress_started':
    case 'egress_updated':
    case 'egress_ended': {
      const egress = event.egressInfo ?? {};
      const egressId = required(egress.egressId, 'egressInfo.egressId', event);
      const status = str(egress.status) ?? (event.event === 'egress_ended' ? 'EGRESS_COMPLETE' : 'EGRESS_STARTING');
      const terminal = EGRESS_TERMINAL.has(status) || event.event === 'egress_ended';
      const roomName = str(egress.roomName) ?? str(room.name);
      return build(
        event,
        {
          ref: compact({ type: 'egress', id: egressId, egressId, roomSid: str(egress.roomId) ?? str(room.sid), roomName }) as EntityRef,
          key: keys.egress(egressId),
          rank: terminal ? TERMINAL_RANK : (EGRESS_RANK[status] ?? 1),
          version: big(egress.updatedAt ?? egress.endedAt ?? egress.startedAt),
          status,
          startStatus: 'EGRESS_STARTING',
          info: egress,
          open: { pk: keys.openEgressesPk, sk: `${JSON.stringify(roomName ?? '')}#${egressId}` },
        },
        ttlSeconds,
      );
    }
    case 'ingress_started':
    case 'ingress_ended': {
      const ingress = event.ingressInfo ?? {};
      const ingressId = required(ingress.ingressId, 'ingressInfo.ingressId', event);
      const state = ingress.state ?? {};
      // An ingress is reusable: each session (LiveKit's resource id) starts and ends on its own.
      const sessionId = str(state.resourceId) ?? str(state.startedAt) ?? 'default';
      const ended = event.event === 'ingress_ended';
      return build(
        event,
        {
          ref: compact({ type: 'ingress', id: ingressId, ingressId, sessionId, roomName: str(ingress.roomName) ?? str(room.name) }) as EntityRef,
          key: keys.ingress(ingressId, sessionId),
          rank: ended ? TERMINAL_RANK : 1,
          version: big(state.updatedAt ?? state.startedAt),
          status: ended ? 'ENDED' : 'ACTIVE',
          startStatus: 'ACTIVE',
          info: ingress,
          open: { pk: keys.activeIngressesPk, sk: `${ingressId}#${sessionId}` },
        },
        ttlSeconds,
      );
    }
  }
}

const START_TYPE: Record<EntityType, string> = {
  room: 'room.started',
  participant: 'participant.joined',
  track: 'track.published',
  egress: 'egress.started',
  ingress: 'ingress.started',
};

function endType(item: EntityItem): string {
  switch (item.entityType) {
    case 'room':
      return 'room.finished';
    case 'participant':
      return item.status === 'ABORTED' ? 'participant.connection_aborted' : 'participant.left';
    case 'track':
      return 'track.unpublished';
    case 'egress':
      return 'egress.ended';
    case 'ingress':
      return 'ingress.ended';
  }
}

const HIDDEN = new Set([TABLE_SCHEMA.partitionKey, TABLE_SCHEMA.sortKey, 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk', TABLE_SCHEMA.ttlAttribute, 'rev']);

/** An item as consumers see it in a change: the entity, without table housekeeping. */
export function view(item: EntityItem): EntityView {
  return Object.fromEntries(Object.entries(item).filter(([name]) => !HIDDEN.has(name)));
}

/** `<type>:<id>:<phase…>`; an ingress is reusable, so its change ids name the session too (`IN_x#<session>`). */
const changeId = (ref: EntityRef, ...phase: string[]): string =>
  [ref.type, ref.type === 'ingress' ? `${ref.id}#${ref.sessionId}` : ref.id, ...phase].join(':');

/**
 * Compares an event's projection with the stored item (absent: never seen) and says whether to
 * store it and which changes that makes. Pure; the processor makes the write conditional on
 * `current` still being what is stored.
 */
export function decide(current: EntityItem | undefined, projection: Projection): Decision {
  const { item, ref } = projection;
  if (current !== undefined && current.rev >= item.rev) return { write: false, changes: [] };

  const changes: ChangeDraft[] = [];
  if (current === undefined) {
    // A terminal event for an unseen entity implies its start: publishing it keeps the set of
    // changes the same whichever of the entity's events arrives first.
    const { type, id, ...refKeys } = ref;
    const startView = item.terminal ? { ...refKeys, entityType: type, entityId: id, status: projection.startStatus, implied: true } : view(item);
    changes.push({ changeId: changeId(ref, 'started'), detailType: START_TYPE[ref.type], entity: ref, old: null, new: startView });
    if (item.terminal) changes.push({ changeId: changeId(ref, 'ended'), detailType: endType(item), entity: ref, old: startView, new: view(item) });
    return { write: true, changes };
  }
  if (current.terminal) return { write: true, changes };
  if (item.terminal) {
    changes.push({ changeId: changeId(ref, 'ended'), detailType: endType(item), entity: ref, old: view(current), new: view(item) });
    return { write: true, changes };
  }
  const currentSignificance = current.rev.split('.').slice(0, 2).join('.');
  if (ref.type === 'egress' && projection.significance > currentSignificance) {
    changes.push({
      changeId: changeId(ref, 'updated', item.status, BigInt(projection.significance.split('.')[1]).toString()),
      detailType: 'egress.updated',
      entity: ref,
      old: view(current),
      new: view(item),
    });
  }
  return { write: true, changes };
}
