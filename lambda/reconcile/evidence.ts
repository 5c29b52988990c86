/**
 * Evidence of a dropped webhook that costs no LiveKit call, per room (plan.ts ranks rooms by it).
 *
 * Late arrival. LiveKit sends a room's events through one serial queue and drops an event that
 * waited longer than MaxAge (30 s by default; livekit/protocol webhook/resource_url_notifier.go)
 * or that finds the queue MaxDepth (200) deep. An event that reached us long after its `createdAt`
 * sat in that queue close to MaxAge: the events queued behind it, or beside it, were likely
 * dropped. How late: the processing record of the item's last event (`receivedAt` when the
 * processor keeps the ingest's receipt time, else `processedAt`: docs/state-model.md) against the
 * event's `createdAt` (seconds) that the item holds. Only items whose last event was created
 * recently are looked at, so the cost follows recent churn (one BatchGetItem per 100 events) and
 * not the number of rooms. A room already verified after the late event arrived is not flagged.
 *
 * Unknown reference. A track we hold as published whose participant we do not hold as present:
 * that participant's `participant_joined` was dropped (or its room's).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { eventArrivals, LocalState } from './local-state';

export interface LateArrivalOptions {
  readonly nowMs: number;
  /** Items whose last event was created within this window are looked at. */
  readonly windowMs: number;
  /** An event that arrived at least this long after its `createdAt` counts as late. */
  readonly lateMs: number;
  /** Last verification (ms) by room sid. */
  readonly lastVerifiedAt: (roomSid: string) => number;
}

/** Default lateness: two thirds of LiveKit's default MaxAge (30 s). */
export const DEFAULT_LATE_ARRIVAL_MS = 20_000;

/** Room sids with a webhook that arrived late since the room's last verification. */
export async function lateArrivalRooms(ddb: DynamoDBDocumentClient, tableName: string, local: LocalState, options: LateArrivalOptions): Promise<Set<string>> {
  const since = (options.nowMs - options.windowMs) / 1000;
  const recent: { roomSid: string; eventId: string; createdAt: number }[] = [];
  const consider = (roomSid: string | undefined, eventId: string | undefined, createdAt: number | undefined) => {
    if (roomSid && eventId && createdAt !== undefined && createdAt >= since) recent.push({ roomSid, eventId, createdAt });
  };
  for (const [roomSid, participants] of local.participantsByRoom) for (const p of participants) consider(roomSid, p.lastEventId, p.lastEventCreatedAt);
  for (const tracks of local.tracksByParticipant.values()) for (const t of tracks) consider(t.roomSid, t.lastEventId, t.lastEventCreatedAt);
  if (recent.length === 0) return new Set();
  const arrivals = await eventArrivals(ddb, tableName, recent.map((r) => r.eventId));
  const late = new Set<string>();
  for (const { roomSid, eventId, createdAt } of recent) {
    const arrivedAt = arrivals.get(eventId);
    if (arrivedAt === undefined) continue;
    // createdAt has a resolution of one second: count the lateness from the end of that second.
    if (arrivedAt - (createdAt + 1) * 1000 >= options.lateMs && arrivedAt > options.lastVerifiedAt(roomSid)) late.add(roomSid);
  }
  return late;
}

/** Room sids where a published track's participant is not present in our state. */
export function unknownReferenceRooms(local: LocalState): Set<string> {
  const present = new Set<string>();
  for (const participants of local.participantsByRoom.values()) for (const p of participants) present.add(p.sid);
  const rooms = new Set<string>();
  for (const [participantSid, tracks] of local.tracksByParticipant) {
    if (present.has(participantSid)) continue;
    for (const track of tracks) if (track.roomSid) rooms.add(track.roomSid);
  }
  return rooms;
}
