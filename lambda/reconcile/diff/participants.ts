/**
 * Participants. Every participant we hold as present is accounted for, whatever state its room is in:
 * - its room is live remotely and was verified this run (ListParticipants): present remotely only,
 *   ACTIVE, and no item of that sid at all → missed `participant_joined` (LiveKit sends it when a
 *   participant becomes ACTIVE, livekit/livekit pkg/telemetry/events.go `ParticipantActive`; a
 *   JOINING one missed nothing); present locally only → missed `participant_left`. A rejoin is a
 *   new sid: both apply. A sid we hold a tombstone of (LEFT/ABORTED) missed no join, whatever the
 *   listing says: on a self-hosted server ListParticipants reads a store that LiveKit writes without
 *   ordering (pkg/service/roommanager.go `OnParticipantChanged` → `StoreParticipant`, racing the
 *   close's `DeleteParticipant`), so a closed session can be listed again for a while; its join
 *   repair would be refused as stale anyway, and counting it would be a false missed event.
 * - its room is not live remotely (ListRooms no longer lists it: finished, or deleted; whether we
 *   know the room as active, as finished, or never saw it) → missed `participant_left`: LiveKit
 *   sends one for everyone before `room_finished` (report 1's commonest shape, and DeleteRoom's).
 */
import { ParticipantInfo, ParticipantInfo_State, Room } from '@livekit/protocol';
import { keys } from '../../../contracts/table-schema';
import { existingParticipantSids, getEntity, LocalParticipant } from '../local-state';
import { participantJoinedRepair, participantLeftRepair, Repair, repairId, roomFromStored } from '../repairs';
import type { DiffContext } from './context';
import { entityInfo } from '../../process/state-model';

/** Participants of rooms ListRooms does not list: each one's `participant_left` was missed. */
export function diffOrphanParticipants(ctx: DiffContext, remoteBySid: ReadonlyMap<string, Room>): void {
  for (const [roomSid, participants] of ctx.local.participantsByRoom) {
    if (remoteBySid.has(roomSid)) continue;
    for (const participant of participants) {
      ctx.observe({
        repairId: repairId('participant_left', participant.sid),
        eventType: 'participant_left',
        entityId: participant.sid,
        scope: 'rooms',
        roomSid,
        roomName: participant.roomName,
        build: async () => {
          const room = await storedRoom(ctx, roomSid, participant.roomName);
          return leftRepair(ctx, room, participant);
        },
      });
    }
  }
}

/** One verified room: LiveKit's participant list against ours. */
export async function compareRoomParticipants(
  ctx: DiffContext,
  room: Room,
  remote: readonly ParticipantInfo[],
  mine: readonly LocalParticipant[],
): Promise<void> {
  const scope = `room#${room.sid}`;
  const mineBySid = new Map(mine.map((p) => [p.sid, p]));
  const remoteSids = new Set(remote.map((p) => p.sid));
  const unknown = remote.filter((p) => !mineBySid.has(p.sid) && p.state === ParticipantInfo_State.ACTIVE);
  // A participant with an item at all (a tombstone: our leave arrived, or the listing is stale) is no missed join.
  const existing =
    unknown.length > 0
      ? await existingParticipantSids(
          ctx.ddb,
          ctx.tableName,
          unknown.map((p) => p.sid),
        )
      : new Set<string>();
  for (const participant of unknown) {
    if (existing.has(participant.sid)) continue;
    ctx.observe({
      repairId: repairId('participant_joined', participant.sid),
      eventType: 'participant_joined',
      entityId: participant.sid,
      scope,
      roomSid: room.sid,
      roomName: room.name,
      build: async () => participantJoinedRepair(room, participant, ctx.nowSeconds()),
    });
  }
  for (const participant of mine) {
    if (remoteSids.has(participant.sid)) continue;
    ctx.observe({
      repairId: repairId('participant_left', participant.sid),
      eventType: 'participant_left',
      entityId: participant.sid,
      scope,
      roomSid: room.sid,
      roomName: room.name,
      build: () => leftRepair(ctx, room, participant),
    });
  }
}

async function leftRepair(ctx: DiffContext, room: Room, participant: LocalParticipant): Promise<Repair | undefined> {
  const item = await getEntity(ctx.ddb, ctx.tableName, keys.participant(participant.sid));
  if (!item || item.terminal) return undefined;
  return participantLeftRepair(room, { sid: participant.sid, identity: participant.identity, info: entityInfo(item) }, ctx.nowSeconds());
}

/** The room as we stored it (any state), else just its sid and name (a room we never saw). */
export async function storedRoom(ctx: DiffContext, roomSid: string, roomName: string): Promise<Room> {
  const stored = await getEntity(ctx.ddb, ctx.tableName, keys.room(roomSid));
  return roomFromStored(stored ? entityInfo(stored) : undefined, roomSid, roomName);
}
