/**
 * Tracks, from what ListParticipants already returns (each participant's published `tracks`): no
 * extra LiveKit call.
 * - A verified room: a track LiveKit lists for an ACTIVE participant that we have no item for at
 *   all → missed `track_published`; a track we hold as published for a participant of this room
 *   that LiveKit does not list under any participant (unpublished, or its participant left) →
 *   missed `track_unpublished`.
 * - A room ListRooms no longer lists: every track we still hold as published in it → missed
 *   `track_unpublished` (LiveKit unpublishes every track before `participant_left`,
 *   livekit/livekit pkg/rtc/participant.go `Close`; sent before the participant's repair).
 */
import type { ParticipantInfo, Room } from '@livekit/protocol';
import { ParticipantInfo_State } from '@livekit/protocol';
import { keys } from '../../../contracts/table-schema';
import { existingTrackSids, getEntity, LocalTrack } from '../local-state';
import { Repair, repairId, trackFromStored, trackRepair } from '../repairs';
import type { DiffContext } from './context';
import { entityInfo } from '../../process/state-model';

/** Local published tracks by room sid (a track item names its room). */
export function tracksByRoom(tracksByParticipant: ReadonlyMap<string, readonly LocalTrack[]>): Map<string, LocalTrack[]> {
  const byRoom = new Map<string, LocalTrack[]>();
  for (const tracks of tracksByParticipant.values()) {
    for (const track of tracks) {
      if (!track.roomSid) continue;
      const list = byRoom.get(track.roomSid) ?? [];
      list.push(track);
      byRoom.set(track.roomSid, list);
    }
  }
  return byRoom;
}

/** Tracks of rooms ListRooms does not list: each one's `track_unpublished` was missed. */
export function diffOrphanTracks(
  ctx: DiffContext,
  remoteBySid: ReadonlyMap<string, Room>,
  localTracksByRoom: ReadonlyMap<string, readonly LocalTrack[]>,
): void {
  for (const [roomSid, tracks] of localTracksByRoom) {
    if (remoteBySid.has(roomSid)) continue;
    for (const track of tracks) {
      ctx.report.tracksChecked++;
      observeUnpublished(ctx, { sid: roomSid, name: track.roomName ?? '' }, track, 'rooms');
    }
  }
}

/** One verified room: LiveKit's tracks (from its participant list) against ours. */
export async function compareRoomTracks(
  ctx: DiffContext,
  room: Room,
  remote: readonly ParticipantInfo[],
  mine: readonly LocalTrack[],
): Promise<void> {
  const scope = `room#${room.sid}`;
  // Missed publishes are looked for under ACTIVE participants only (a repair publishes for a
  // participant whose join is in state). A track LiveKit lists at all is published, whatever its
  // participant's state: LiveKit sends `track_published` when the track's media arrives
  // (livekit/livekit pkg/rtc/participant.go `handleTrackPublished`), which does not wait for the
  // participant to be ACTIVE, so a JOINING or JOINED participant can list one we hold as published.
  const remoteTracks = new Map<string, { participant: ParticipantInfo; index: number }>();
  const listed = new Set<string>();
  for (const participant of remote) {
    for (const track of participant.tracks) listed.add(track.sid);
    if (participant.state !== ParticipantInfo_State.ACTIVE) continue;
    participant.tracks.forEach((track, index) => remoteTracks.set(track.sid, { participant, index }));
  }
  ctx.report.tracksChecked += remoteTracks.size;
  const mineBySid = new Set(mine.map((t) => t.sid));
  const unknown = [...remoteTracks.keys()].filter((sid) => !mineBySid.has(sid));
  // A track with an item at all (unpublished already: our end arrived first) is no missed publish.
  const existing = unknown.length > 0 ? await existingTrackSids(ctx.ddb, ctx.tableName, unknown) : new Set<string>();
  for (const sid of unknown) {
    if (existing.has(sid)) continue;
    const { participant, index } = remoteTracks.get(sid)!;
    const track = participant.tracks[index];
    ctx.observe({
      repairId: repairId('track_published', sid),
      eventType: 'track_published',
      entityId: sid,
      scope,
      roomSid: room.sid,
      roomName: room.name,
      build: async () => trackRepair('track_published', room, participant, track, ctx.nowSeconds()),
    });
  }
  for (const track of mine) {
    if (listed.has(track.sid)) continue;
    observeUnpublished(ctx, room, track, scope);
  }
}

function observeUnpublished(
  ctx: DiffContext,
  room: { readonly sid: string; readonly name: string },
  track: LocalTrack,
  scope: string,
): void {
  ctx.observe({
    repairId: repairId('track_unpublished', track.sid),
    eventType: 'track_unpublished',
    entityId: track.sid,
    scope,
    roomSid: room.sid,
    roomName: room.name,
    build: async (): Promise<Repair | undefined> => {
      const item = await getEntity(ctx.ddb, ctx.tableName, keys.track(track.sid));
      if (!item || item.terminal) return undefined;
      return trackRepair(
        'track_unpublished',
        room,
        { sid: track.participantSid, identity: track.identity ?? String((item.identity as string | undefined) ?? '') },
        trackFromStored(entityInfo(item), track.sid),
        ctx.nowSeconds(),
      );
    },
  });
}
