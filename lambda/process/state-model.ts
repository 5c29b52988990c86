/**
 * The state model: how one webhook event moves one entity, and which changes a write makes, as
 * pure functions, so the same rules hold in the Lambdas, the local runtime and the property test.
 *
 * Each event is projected onto exactly one entity (room, participant, track, egress, ingress
 * session) as a candidate item with a revision `rev`. Revisions are totally ordered strings:
 * `<phase rank>.<the entity's own version>.<event createdAt>.<event id>`. The processor stores the
 * candidate only if its `rev` is greater than the stored one (one conditional write), so the state
 * is a max over the events and cannot depend on their order or on duplicates; terminal phases rank
 * above every live phase, which is what makes them absorbing.
 *
 * Changes are derived from a write's item before and after (the table's stream: `changesFor`).
 * They are published for lifecycle transitions (appeared, ended), for egress in-state progress,
 * and for a later terminal event that changes the terminal content (a correction). Their ids name
 * the entity and the phase (or the correcting event), never the delivery, so the same change has
 * the same id whichever event happened to cause it.
 */
import { EGRESS_LIVE_RANK, EGRESS_TERMINAL } from '../shared/egress-status';
import { keys, TABLE_SCHEMA } from '../../contracts/table-schema';
import { InvalidEventError, isIntString, WebhookEvent } from './webhook-event';

export type EntityType = 'room' | 'participant' | 'track' | 'egress' | 'ingress';
/** Item types the processor writes: the entities, and the room-level record of an auto-egress that failed to start. */
export type ItemType = EntityType | 'egress_start_failure';

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

/**
 * Event types LiveKit defines that describe no room state: agent jobs (livekit/protocol
 * `webhook/consts.go`, sent by LiveKit Cloud only). Kept as event records like an unknown type, but
 * expected: not worth a warning each.
 */
export const RECORD_ONLY_EVENT_TYPES = ['agent_job_started', 'agent_job_ended'] as const;

export function isKnownEventType(type: string): type is KnownEventType {
  return (KNOWN_EVENT_TYPES as readonly string[]).includes(type);
}

/** The keys that identify an entity and relate it to others; present on items and in changes. */
export interface EntityRef {
  readonly type: ItemType;
  readonly id: string;
  readonly [key: string]: string;
}

/** What is stored for an entity. */
export interface EntityItem {
  pk: string;
  sk: string;
  entityType: ItemType;
  entityId: string;
  status: string;
  terminal: boolean;
  rev: string;
  lastEventId: string;
  lastEventType: string;
  /** The event's own `createdAt` (unix seconds), not the processing time: items stay a function of their events. */
  lastEventCreatedAt?: number;
  /** `webhook` or `reconciler`: who sent the winning event. */
  lastEventSource?: string;
  /**
   * The LiveKit object as the winning event carried it, as a JSON string: no LiveKit key or value
   * (`constructor`, `__proto__`, numbers beyond DynamoDB's range, nesting deeper than its 32 levels)
   * can break the conversion to a DynamoDB item. Read it with `entityInfo`.
   */
  info: string;
  /** Top-level fields of `info` left out to fit DynamoDB's 400 KB item limit (see `fitInfo`). */
  infoOmitted?: string[];
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
  /** Top-level attributes of the entity taken from the winning event (e.g. `participantKind`). */
  extra?: Record<string, string>;
}

/**
 * Bytes `info` may take in an item. DynamoDB refuses items over 400 KB (names and values); the
 * other attributes are ids and keys, a few KB at most. A genuine event can exceed this: LiveKit
 * allows 512 KiB of metadata and 64 KiB of attributes by default (livekit/livekit
 * `pkg/config/config.go`, `max_metadata_size`, `max_attributes_size`), and JSON escaping can grow
 * them up to sixfold (`\u0000`).
 */
export const INFO_BUDGET_BYTES = 350_000;

/**
 * `info` as stored: the whole object as JSON when it fits `INFO_BUDGET_BYTES`, else without its
 * largest top-level fields (named in `omitted`) until it does. The event is still applied: its
 * ids, status and revision are always stored; only the oversized payload is left out (it stays
 * in the queue message's log line and in LiveKit).
 */
export function fitInfo(info: Record<string, unknown>, budget = INFO_BUDGET_BYTES): { info: string; omitted?: string[] } {
  let json = JSON.stringify(info);
  if (Buffer.byteLength(json) <= budget) return { info: json };
  const sizes = Object.entries(info)
    .map(([name, value]) => [name, Buffer.byteLength(JSON.stringify(value) ?? '')] as const)
    .sort((a, b) => b[1] - a[1]);
  const kept = new Map(Object.entries(info));
  const omitted: string[] = [];
  for (const [name] of sizes) {
    kept.delete(name);
    omitted.push(name);
    // A Map keeps `__proto__` and friends as plain keys; Object.fromEntries defines own properties.
    json = JSON.stringify(Object.fromEntries(kept));
    if (Buffer.byteLength(json) <= budget) break;
  }
  return { info: json, omitted };
}

/** The LiveKit object of an item (stored as a JSON string; older items held a map). */
export function entityInfo(item: { info?: unknown }): Record<string, unknown> {
  if (typeof item.info === 'string') {
    try {
      const value = JSON.parse(item.info) as unknown;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // fall through: an unreadable info is no info
    }
    return {};
  }
  return typeof item.info === 'object' && item.info !== null ? (item.info as Record<string, unknown>) : {};
}

function buildItem(event: WebhookEvent, input: ProjectionInput, ttlSeconds: number, source: string): Projection {
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
    lastEventSource: source,
    ...input.extra,
    ...(() => {
      const fitted = fitInfo(input.info);
      return { info: fitted.info, infoOmitted: fitted.omitted };
    })(),
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
export function project(event: WebhookEvent & { event: KnownEventType }, ttlSeconds: number, source = 'webhook'): Projection {
  const room = event.room ?? {};
  const build = (e: WebhookEvent, input: ProjectionInput, ttl: number) => buildItem(e, input, ttl, source);
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
          // Top level, so a reader of the open index (the reconciler's kind-aware count) needs no `info`.
          extra: { participantKind: str(participant.kind) ?? 'STANDARD' },
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
      if (event.event === 'egress_ended' && str(egress.egressId) === undefined && egress.status === 'EGRESS_FAILED') {
        return egressStartFailure(event, egress, room, ttlSeconds, source);
      }
      const egressId = required(egress.egressId, 'egressInfo.egressId', event);
      const status = str(egress.status) ?? (event.event === 'egress_ended' ? 'EGRESS_COMPLETE' : 'EGRESS_STARTING');
      const terminal = EGRESS_TERMINAL.has(status) || event.event === 'egress_ended';
      const roomName = str(egress.roomName) ?? str(room.name);
      return build(
        event,
        {
          ref: compact({ type: 'egress', id: egressId, egressId, roomSid: str(egress.roomId) ?? str(room.sid), roomName }) as EntityRef,
          key: keys.egress(egressId),
          rank: terminal ? TERMINAL_RANK : (EGRESS_LIVE_RANK[status] ?? 1),
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
          ref: compact({
            type: 'ingress',
            id: ingressId,
            ingressId,
            sessionId,
            roomName: str(ingress.roomName) ?? str(room.name),
          }) as EntityRef,
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

/**
 * LiveKit's auto-egress (a room or participant/track egress requested with the room) reports a
 * failure to start as `egress_ended` with `status: EGRESS_FAILED`, the error and the request, but
 * no egress id: there is no egress (livekit/livekit pkg/rtc/egress.go, `StartParticipantEgress` and
 * `StartTrackEgress`: `EgressInfo{RoomId, RoomName, Status: EGRESS_FAILED, Error, Request}`).
 * It is genuine, so it becomes a record under its room (`ROOM#<roomSid>` /
 * `EGRESS_START_FAILED#<eventId>`), one per event, and an `egress.start_failed` change.
 */
function egressStartFailure(
  event: WebhookEvent,
  egress: Record<string, unknown>,
  room: Record<string, unknown>,
  ttlSeconds: number,
  source: string,
): Projection {
  const roomSid = str(egress.roomId) ?? str(room.sid);
  if (roomSid === undefined) throw new InvalidEventError('egress_ended without egressInfo.egressId and without a room id');
  const roomName = str(egress.roomName) ?? str(room.name);
  const projection = buildItem(
    event,
    {
      ref: compact({ type: 'egress_start_failure', id: event.id, roomSid, roomName }) as EntityRef,
      key: keys.egressStartFailure(roomSid, event.id),
      rank: TERMINAL_RANK,
      version: 0n,
      status: 'EGRESS_FAILED',
      startStatus: 'EGRESS_FAILED',
      info: egress,
    },
    ttlSeconds,
    source,
  );
  return { ...projection, item: compact({ ...projection.item, error: str(egress.error) }) };
}

const START_TYPE: Record<EntityType, string> = {
  room: 'room.started',
  participant: 'participant.joined',
  track: 'track.published',
  egress: 'egress.started',
  ingress: 'ingress.started',
};

const START_STATUS: Record<EntityType, string> = {
  room: 'ACTIVE',
  participant: 'ACTIVE',
  track: 'PUBLISHED',
  egress: 'EGRESS_STARTING',
  ingress: 'ACTIVE',
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
    case 'egress_start_failure':
      return 'egress.start_failed';
  }
}

const HIDDEN = new Set([
  TABLE_SCHEMA.partitionKey,
  TABLE_SCHEMA.sortKey,
  'gsi1pk',
  'gsi1sk',
  'gsi2pk',
  'gsi2sk',
  TABLE_SCHEMA.ttlAttribute,
  'rev',
]);

/** An item as consumers see it in a change: the entity, without table housekeeping, `info` as an object. */
export function view(item: EntityItem): EntityView {
  const entries = Object.entries(item)
    .filter(([name]) => !HIDDEN.has(name))
    .map(([name, value]): [string, unknown] => (name === 'info' ? [name, entityInfo(item)] : [name, value]));
  return Object.fromEntries(entries);
}

/** Attributes an item carries that relate it to other entities (they form the change's `entity`). */
const REF_ATTRIBUTES = ['roomSid', 'roomName', 'participantSid', 'identity', 'trackSid', 'egressId', 'ingressId', 'sessionId'] as const;

/** The entity reference of a stored item. */
export function refOf(item: EntityItem): EntityRef {
  const ref: Record<string, string> = { type: item.entityType, id: item.entityId };
  for (const name of REF_ATTRIBUTES) if (typeof item[name] === 'string') ref[name] = item[name];
  return ref as unknown as EntityRef;
}

/** `<type>:<id>:<phase…>`; an ingress is reusable, so its change ids name the session too (`IN_x#<session>`). */
const changeId = (ref: EntityRef, ...phase: string[]): string =>
  [ref.type, ref.type === 'ingress' ? `${ref.id}#${ref.sessionId}` : ref.id, ...phase].join(':');

const significanceOf = (rev: string): string => rev.split('.').slice(0, 2).join('.');

/** What a terminal change says: a later terminal event that says the same changes nothing worth publishing. */
const terminalContent = (item: EntityItem): string => JSON.stringify([item.status, item.info, item.error ?? null]);

/**
 * The changes one write makes, from the item before it (`old`, absent: never seen) and after it
 * (`next`). Pure and deterministic, so a stream record redelivered, or the same history in
 * another order, gives the same change ids:
 *
 * - first seen: `started` (implied, with the live status, when the first event is terminal), and
 *   `ended` too if terminal;
 * - live to terminal: `ended`;
 * - terminal to a later terminal with other content (status, info): `corrected`, id
 *   `<type>:<id>:corrected:<event id>`, so the last change of an ended entity always carries its
 *   final state whatever the arrival order;
 * - egress, live, a newer phase or version: `egress.updated`.
 */
export function changesFor(old: EntityItem | undefined, next: EntityItem): ChangeDraft[] {
  if (old !== undefined && old.rev >= next.rev) return [];
  const ref = refOf(next);
  if (next.entityType === 'egress_start_failure') {
    if (old !== undefined) return [];
    const roomRef = compact({
      type: 'room',
      id: next.roomSid as string,
      roomSid: next.roomSid as string,
      roomName: next.roomName as string | undefined,
    }) as EntityRef;
    return [
      {
        changeId: `room:${next.roomSid as string}:egress_start_failed:${next.entityId}`,
        detailType: 'egress.start_failed',
        entity: roomRef,
        old: null,
        new: view(next),
      },
    ];
  }
  const type = next.entityType;
  if (old === undefined) {
    // A terminal event for an unseen entity implies its start: publishing it keeps the set of
    // changes the same whichever of the entity's events arrives first.
    const { type: _type, id, ...refKeys } = ref;
    const startView = next.terminal
      ? { ...refKeys, entityType: type, entityId: id, status: START_STATUS[type], implied: true }
      : view(next);
    const changes: ChangeDraft[] = [
      { changeId: changeId(ref, 'started'), detailType: START_TYPE[type], entity: ref, old: null, new: startView },
    ];
    if (next.terminal)
      changes.push({ changeId: changeId(ref, 'ended'), detailType: endType(next), entity: ref, old: startView, new: view(next) });
    return changes;
  }
  if (old.terminal) {
    if (terminalContent(old) === terminalContent(next)) return [];
    return [
      {
        changeId: changeId(ref, 'corrected', next.lastEventId),
        detailType: `${type}.corrected`,
        entity: ref,
        old: view(old),
        new: view(next),
      },
    ];
  }
  if (next.terminal) return [{ changeId: changeId(ref, 'ended'), detailType: endType(next), entity: ref, old: view(old), new: view(next) }];
  const significance = significanceOf(next.rev);
  if (type === 'egress' && significance > significanceOf(old.rev)) {
    return [
      {
        changeId: changeId(ref, 'updated', next.status, BigInt(significance.split('.')[1]).toString()),
        detailType: 'egress.updated',
        entity: ref,
        old: view(old),
        new: view(next),
      },
    ];
  }
  return [];
}

/**
 * Compares an event's projection with the stored item (absent: never seen): whether the
 * processor's conditional write would store it, and the changes the stream would then carry.
 */
export function decide(current: EntityItem | undefined, projection: Projection): Decision {
  const { item } = projection;
  if (current !== undefined && current.rev >= item.rev) return { write: false, changes: [] };
  return { write: true, changes: changesFor(current, item) };
}
