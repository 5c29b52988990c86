/**
 * Evidence of a dropped webhook that costs no LiveKit call, per room (plan.ts ranks rooms by it).
 *
 * Late arrival. LiveKit sends a room's events through one serial queue and drops an event that
 * waited longer than MaxAge (30 s by default; livekit/protocol webhook/resource_url_notifier.go)
 * or that finds the queue MaxDepth (200) deep. An event that reached us long after its `createdAt`
 * sat in that queue close to MaxAge: the events queued behind it, or beside it, were likely
 * dropped. The processor writes one evidence item per room when that happens (`EVIDENCE#LATE` /
 * `<roomSid>`, contracts/table-schema.ts `LATE_ARRIVAL_MS`), and nothing in the common case;
 * the reconciler reads that one partition per run. A room already verified after the late event
 * arrived is not flagged.
 *
 * Unknown reference. A track we hold as published whose participant we do not hold as present:
 * that participant's `participant_joined` was dropped (or its room's).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryAll } from '../process/queries';
import { keys } from '../../contracts/table-schema';
import type { LocalState } from './local-state';

/** Room sids with a webhook that arrived late after the room's last verification (one paginated Query). */
export async function lateArrivalRooms(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  lastVerifiedAt: (roomSid: string) => number,
): Promise<Set<string>> {
  const late = new Set<string>();
  const items = await queryAll(
    { ddb, tableName },
    {
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.lateArrivalsPk },
      ProjectionExpression: 'roomSid, receivedAt',
    },
  );
  for (const item of items) {
    const roomSid: unknown = item.roomSid;
    const receivedAt: unknown = item.receivedAt;
    if (typeof roomSid === 'string' && typeof receivedAt === 'number' && receivedAt > lastVerifiedAt(roomSid)) late.add(roomSid);
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
