/**
 * Rooms: live remotely and unknown locally → missed `room_started`; active locally and not
 * listed by ListRooms → missed `room_finished` (built from the room as we stored it). The
 * participants and tracks such a room still has locally are the participant and track diffs'
 * business (diff/participants.ts, diff/tracks.ts); their repairs are sent before `room_finished`.
 */
import type { Room } from '@livekit/protocol';
import { keys } from '../../../contracts/table-schema';
import { getEntity } from '../local-state';
import { repairId, roomFinishedRepair, roomStartedRepair } from '../repairs';
import type { DiffContext } from './context';
import { entityInfo } from '../../process/state-model';

export function diffRooms(ctx: DiffContext, remoteBySid: ReadonlyMap<string, Room>): void {
  ctx.check('rooms');
  for (const room of remoteBySid.values()) {
    if (ctx.local.rooms.has(room.sid)) continue;
    ctx.observe({
      repairId: repairId('room_started', room.sid),
      eventType: 'room_started',
      entityId: room.sid,
      scope: 'rooms',
      roomSid: room.sid,
      roomName: room.name,
      build: async () => roomStartedRepair(room, ctx.nowSeconds()),
    });
  }
  for (const room of ctx.local.rooms.values()) {
    if (remoteBySid.has(room.sid)) continue;
    ctx.observe({
      repairId: repairId('room_finished', room.sid),
      eventType: 'room_finished',
      entityId: room.sid,
      scope: 'rooms',
      roomSid: room.sid,
      roomName: room.name,
      build: async () => {
        const stored = await getEntity(ctx.ddb, ctx.tableName, keys.room(room.sid));
        if (!stored || stored.terminal) return undefined;
        return roomFinishedRepair({ sid: room.sid, name: room.name, info: entityInfo(stored) }, ctx.nowSeconds());
      },
    });
  }
}
