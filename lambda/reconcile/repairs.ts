/**
 * Repairs: webhook events the reconciler synthesizes for what LiveKit never delivered, shaped
 * exactly like LiveKit's own (protojson via @livekit/protocol's `WebhookEvent`: camelCase, int64
 * as strings, enums as names) and built only from what LiveKit's API returned or, for an entity
 * the API no longer has (a finished room, a participant who left), from the last state we stored.
 *
 * Ids are deterministic, `RC_` + a hash of (event type, entity): a repeated run, or two
 * overlapping runs, send the same id, and the processor applies an event id once.
 *
 * Revisions (docs/state-model.md) the processor gives them:
 * - `participant_joined` carries the API's current `version`, which is at least the version of
 *   the join LiveKit dropped, and `createdAt` = now, later than that join's: a late real join is
 *   stale (equal version: older createdAt; the id breaks a same-second tie, `EV_` < `RC_`).
 * - `room_finished`, `participant_left`, `egress_ended` are terminal (rank 9) and absorb every live
 *   event. A late real `room_finished` (rooms have no version) and a late real `egress_ended`
 *   (same `updatedAt` as the EgressInfo LiveKit's API returned) are older by createdAt: stale.
 *   A late real `participant_left` can carry a higher participant version than the last one we
 *   saw; it then wins with the real disconnect details, the status stays LEFT, and the feed
 *   publishes a `participant.corrected` (its info differs from the repair's; the `ended` change
 *   was published once, by the repair).
 * - `room_started`, `egress_started`, `egress_updated` carry the API's object as it is now.
 * - `ingress_started` carries the IngressInfo `ListIngress` returned (its `state.updatedAt` is at
 *   least that of the dropped start, and `createdAt` = now): a late real start is stale.
 * - `ingress_ended` (terminal) carries the session as we stored it, marked ended: LiveKit's own
 *   end state when `ListIngress` still shows this session (status, `endedAt`, `updatedAt`: a late
 *   real end then has the same version and an older createdAt), else `endedAt` = `updatedAt` = now
 *   (later than the real end's): either way the late real `ingress_ended` is stale.
 *
 * An ingress session is keyed by (ingress id, `state.resourceId`, else `state.startedAt`): the repair
 * keeps the session's own resource id / startedAt, so the processor derives the same session.
 */
import { createHash } from 'node:crypto';
import {
  EgressInfo,
  IngressInfo,
  IngressState,
  IngressState_Status,
  ParticipantInfo,
  ParticipantInfo_State,
  Room,
  TrackInfo,
  WebhookEvent,
} from '@livekit/protocol';
import { KNOWN_EVENT_TYPES, KnownEventType } from '../process/state-model';

/**
 * The event types a run can find missed: every type the processor knows but
 * `participant_connection_aborted` (a participant gone from ListParticipants is repaired as
 * `participant_left`).
 */
export type MissedEventType = Exclude<KnownEventType, 'participant_connection_aborted'>;
export const MISSED_EVENT_TYPES: readonly MissedEventType[] = KNOWN_EVENT_TYPES.filter(
  (type): type is MissedEventType => type !== 'participant_connection_aborted',
);

export const REPAIR_ID_PREFIX = 'RC_';

/** The id of the repair for `eventType` on one entity (plus a phase, for egress updates). */
export function repairId(eventType: MissedEventType, entityId: string, phase?: string): string {
  const digest = createHash('sha256')
    .update([eventType, entityId, phase ?? ''].join('\u0000'))
    .digest('base64url');
  return `${REPAIR_ID_PREFIX}${digest.slice(0, 22)}`;
}

export interface Repair {
  readonly id: string;
  readonly eventType: MissedEventType;
  readonly entityId: string;
  readonly roomName?: string;
  /** The event's JSON, as it goes into the queue. */
  readonly body: string;
}

type JsonObject = Record<string, unknown>;

function webhook(
  id: string,
  event: MissedEventType,
  createdAtSeconds: number,
  fields: Partial<Pick<WebhookEvent, 'room' | 'participant' | 'track' | 'egressInfo' | 'ingressInfo'>>,
): string {
  return new WebhookEvent({ id, event, createdAt: BigInt(createdAtSeconds), ...fields }).toJsonString();
}

/** A Room from what we stored (protojson from a webhook); at least sid and name. */
export function roomFromStored(info: JsonObject | undefined, sid: string, name: string): Room {
  try {
    const room = Room.fromJson((info ?? {}) as never, { ignoreUnknownFields: true });
    room.sid = room.sid || sid;
    room.name = room.name || name;
    return room;
  } catch {
    return new Room({ sid, name });
  }
}

function participantFromStored(info: JsonObject | undefined, sid: string, identity: string): ParticipantInfo {
  try {
    const participant = ParticipantInfo.fromJson((info ?? {}) as never, { ignoreUnknownFields: true });
    participant.sid = participant.sid || sid;
    participant.identity = participant.identity || identity;
    return participant;
  } catch {
    return new ParticipantInfo({ sid, identity });
  }
}

export function roomStartedRepair(room: Room, nowSeconds: number): Repair {
  const id = repairId('room_started', room.sid);
  return {
    id,
    eventType: 'room_started',
    entityId: room.sid,
    roomName: room.name,
    body: webhook(id, 'room_started', nowSeconds, { room }),
  };
}

export function roomFinishedRepair(
  stored: { readonly sid: string; readonly name: string; readonly info?: JsonObject },
  nowSeconds: number,
): Repair {
  const id = repairId('room_finished', stored.sid);
  const room = roomFromStored(stored.info, stored.sid, stored.name);
  return {
    id,
    eventType: 'room_finished',
    entityId: stored.sid,
    roomName: stored.name,
    body: webhook(id, 'room_finished', nowSeconds, { room }),
  };
}

export function participantJoinedRepair(room: Room, participant: ParticipantInfo, nowSeconds: number): Repair {
  const id = repairId('participant_joined', participant.sid);
  return {
    id,
    eventType: 'participant_joined',
    entityId: participant.sid,
    roomName: room.name,
    body: webhook(id, 'participant_joined', nowSeconds, { room, participant }),
  };
}

export function participantLeftRepair(
  room: Room,
  stored: { readonly sid: string; readonly identity: string; readonly info?: JsonObject },
  nowSeconds: number,
): Repair {
  const id = repairId('participant_left', stored.sid);
  const participant = participantFromStored(stored.info, stored.sid, stored.identity);
  participant.state = ParticipantInfo_State.DISCONNECTED;
  return {
    id,
    eventType: 'participant_left',
    entityId: stored.sid,
    roomName: room.name,
    body: webhook(id, 'participant_left', nowSeconds, { room, participant }),
  };
}

/**
 * Track repairs are shaped as LiveKit's track events: a reduced room (sid, name) and participant
 * (sid, identity) and the TrackInfo (livekit/livekit pkg/telemetry/events.go `TrackPublished`,
 * `TrackUnpublished`). A missed `track_published` carries the TrackInfo ListParticipants returned
 * (same `version` as the dropped event, `createdAt` = now: a late real one is stale); a missed
 * `track_unpublished` (terminal) the TrackInfo we stored.
 */
export function trackRepair(
  eventType: 'track_published' | 'track_unpublished',
  room: { readonly sid: string; readonly name: string },
  participant: { readonly sid: string; readonly identity: string },
  track: TrackInfo,
  nowSeconds: number,
): Repair {
  const id = repairId(eventType, track.sid);
  return {
    id,
    eventType,
    entityId: track.sid,
    roomName: room.name,
    body: webhook(id, eventType, nowSeconds, {
      room: new Room({ sid: room.sid, name: room.name }),
      participant: new ParticipantInfo({ sid: participant.sid, identity: participant.identity }),
      track,
    }),
  };
}

/** A TrackInfo from what we stored (protojson from a webhook); at least the sid. */
export function trackFromStored(info: JsonObject | undefined, sid: string): TrackInfo {
  try {
    const track = TrackInfo.fromJson((info ?? {}) as never, { ignoreUnknownFields: true });
    track.sid = track.sid || sid;
    return track;
  } catch {
    return new TrackInfo({ sid });
  }
}

/** Egress repairs carry the EgressInfo LiveKit's API returned, with its real status. */
export function egressRepair(
  eventType: 'egress_started' | 'egress_updated' | 'egress_ended',
  info: EgressInfo,
  nowSeconds: number,
  phase?: string,
): Repair {
  const id = repairId(eventType, info.egressId, phase);
  return {
    id,
    eventType,
    entityId: info.egressId,
    roomName: info.roomName,
    // Egress events carry a reduced room (sid and name), as LiveKit sends them.
    body: webhook(id, eventType, nowSeconds, { room: new Room({ sid: info.roomId, name: info.roomName }), egressInfo: info }),
  };
}

/** The session id the processor derives from an IngressInfo (lambda/process/state-model.ts). */
export function ingressSessionId(info: IngressInfo): string | undefined {
  const state = info.state;
  if (state?.resourceId) return state.resourceId;
  if (state?.startedAt) return state.startedAt.toString();
  return undefined;
}

function ingressRoom(info: IngressInfo): Room {
  // Ingress events carry a reduced room (sid and name), as LiveKit sends them.
  return new Room({ sid: info.state?.roomId ?? '', name: info.roomName });
}

/** A missed `ingress_started`: the IngressInfo ListIngress returned for a publishing session. */
export function ingressStartedRepair(info: IngressInfo, nowSeconds: number): Repair {
  const sessionId = ingressSessionId(info) ?? '';
  const id = repairId('ingress_started', info.ingressId, sessionId);
  return {
    id,
    eventType: 'ingress_started',
    entityId: `${info.ingressId}#${sessionId}`,
    roomName: info.roomName,
    body: webhook(id, 'ingress_started', nowSeconds, { room: ingressRoom(info), ingressInfo: info }),
  };
}

/** The stored IngressInfo (protojson from a webhook); at least the ingress id. */
export function ingressFromStored(info: JsonObject | undefined, ingressId: string): IngressInfo {
  try {
    const ingress = IngressInfo.fromJson((info ?? {}) as never, { ignoreUnknownFields: true });
    ingress.ingressId = ingress.ingressId || ingressId;
    return ingress;
  } catch {
    return new IngressInfo({ ingressId });
  }
}

const NANOS_PER_MS = 1_000_000n;

/**
 * A missed `ingress_ended`: the session as we stored it, marked ended. `remote` is what ListIngress
 * says of the same session when it still lists it as not publishing (its real end state).
 */
export function ingressEndedRepair(stored: IngressInfo, sessionId: string, nowMs: number, remote?: IngressState): Repair {
  const info = stored.clone();
  const state = info.state ?? new IngressState();
  const now = BigInt(nowMs) * NANOS_PER_MS;
  if (remote) {
    state.status = remote.status;
    state.error = remote.error;
    state.endedAt = remote.endedAt || now;
    // LiveKit's own end (same version as its dropped event); without one, no earlier than the end.
    state.updatedAt = remote.updatedAt || (state.endedAt > state.updatedAt ? state.endedAt : state.updatedAt);
  } else {
    state.status = IngressState_Status.ENDPOINT_INACTIVE;
    state.endedAt = now;
    if (now > state.updatedAt) state.updatedAt = now;
  }
  info.state = state;
  const id = repairId('ingress_ended', info.ingressId, sessionId);
  return {
    id,
    eventType: 'ingress_ended',
    entityId: `${info.ingressId}#${sessionId}`,
    roomName: info.roomName,
    body: webhook(id, 'ingress_ended', Math.floor(nowMs / 1000), { room: ingressRoom(info), ingressInfo: info }),
  };
}
