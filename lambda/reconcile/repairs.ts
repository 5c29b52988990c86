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
 *   saw; it then replaces the stored info (the real disconnect details) but publishes nothing and
 *   the status stays LEFT: the terminal change was already published once, by the repair.
 * - `room_started`, `egress_started`, `egress_updated` carry the API's object as it is now.
 */
import { createHash } from 'node:crypto';
import { EgressInfo, ParticipantInfo, ParticipantInfo_State, Room, WebhookEvent } from '@livekit/protocol';

export const MISSED_EVENT_TYPES = [
  'room_started',
  'room_finished',
  'participant_joined',
  'participant_left',
  'egress_started',
  'egress_updated',
  'egress_ended',
] as const;
export type MissedEventType = (typeof MISSED_EVENT_TYPES)[number];

export const REPAIR_ID_PREFIX = 'RC_';

/** The id of the repair for `eventType` on one entity (plus a phase, for egress updates). */
export function repairId(eventType: MissedEventType, entityId: string, phase?: string): string {
  const digest = createHash('sha256').update([eventType, entityId, phase ?? ''].join('\u0000')).digest('base64url');
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

function webhook(id: string, event: MissedEventType, createdAtSeconds: number, fields: Partial<Pick<WebhookEvent, 'room' | 'participant' | 'egressInfo'>>): string {
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
  return { id, eventType: 'room_started', entityId: room.sid, roomName: room.name, body: webhook(id, 'room_started', nowSeconds, { room }) };
}

export function roomFinishedRepair(stored: { readonly sid: string; readonly name: string; readonly info?: JsonObject }, nowSeconds: number): Repair {
  const id = repairId('room_finished', stored.sid);
  const room = roomFromStored(stored.info, stored.sid, stored.name);
  return { id, eventType: 'room_finished', entityId: stored.sid, roomName: stored.name, body: webhook(id, 'room_finished', nowSeconds, { room }) };
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
  return { id, eventType: 'participant_left', entityId: stored.sid, roomName: room.name, body: webhook(id, 'participant_left', nowSeconds, { room, participant }) };
}

/** Egress repairs carry the EgressInfo LiveKit's API returned, with its real status. */
export function egressRepair(eventType: 'egress_started' | 'egress_updated' | 'egress_ended', info: EgressInfo, nowSeconds: number, phase?: string): Repair {
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
