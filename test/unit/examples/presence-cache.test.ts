/** The example's presence cache alone: order-proof joins and leaves, rooms finishing, reused room names. */
import { changeEventOf, ChangeEvent } from '../../../consumer';
import { PresenceCache } from '../../../examples/presence-consumer/presence-cache';

const participant = (
  detailType: 'participant.joined' | 'participant.left' | 'participant.connection_aborted',
  sid: string,
  identity: string,
  roomSid = 'RM_1',
  roomName = 'standup',
): ChangeEvent =>
  changeEventOf({
    changeId: `participant:${sid}:${detailType === 'participant.joined' ? 'started' : 'ended'}`,
    detailType,
    entity: { type: 'participant', id: sid, participantSid: sid, identity, roomSid, roomName },
    old: null,
    new: {
      entityType: 'participant',
      entityId: sid,
      status: detailType === 'participant.joined' ? 'ACTIVE' : detailType === 'participant.left' ? 'LEFT' : 'ABORTED',
      participantSid: sid,
      identity,
      roomSid,
      roomName,
      info: { joinedAtMs: '1771351800000' },
    },
    eventId: 'EV_x',
    eventType: detailType.replace('.', '_'),
    source: 'webhook',
    occurredAt: '2026-02-17T18:10:00.000Z',
  });

const roomFinished = (roomSid: string, roomName = 'standup'): ChangeEvent =>
  changeEventOf({
    changeId: `room:${roomSid}:ended`,
    detailType: 'room.finished',
    entity: { type: 'room', id: roomSid, roomSid, roomName },
    old: null,
    new: { entityType: 'room', entityId: roomSid, status: 'FINISHED', roomSid, roomName },
    eventId: 'EV_y',
    eventType: 'room_finished',
    source: 'webhook',
    occurredAt: '2026-02-17T18:20:00.000Z',
  });

test('joins and leaves, in any order', () => {
  const cache = new PresenceCache();
  expect(cache.apply(participant('participant.joined', 'PA_a', 'alice'))).toBe(true);
  expect(cache.apply(participant('participant.joined', 'PA_b', 'bob'))).toBe(true);
  expect(cache.participants('standup')).toEqual([
    { participantSid: 'PA_a', identity: 'alice', roomSid: 'RM_1', joinedAtMs: 1771351800000 },
    { participantSid: 'PA_b', identity: 'bob', roomSid: 'RM_1', joinedAtMs: 1771351800000 },
  ]);
  expect(cache.apply(participant('participant.connection_aborted', 'PA_a', 'alice'))).toBe(true);
  // Carol's leave arrives before her join (a retried delivery): she never shows up.
  expect(cache.apply(participant('participant.left', 'PA_c', 'carol'))).toBe(false);
  expect(cache.apply(participant('participant.joined', 'PA_c', 'carol'))).toBe(false);
  // Alice rejoins: a new session (sid) is present.
  expect(cache.apply(participant('participant.joined', 'PA_a2', 'alice'))).toBe(true);
  expect(cache.participants('standup').map((p) => p.participantSid)).toEqual(['PA_a2', 'PA_b']);
  expect(cache.updates).toBe(4);
});

test('a finished room empties its instance only; a late join into it is ignored', () => {
  const cache = new PresenceCache();
  cache.apply(participant('participant.joined', 'PA_a', 'alice', 'RM_old'));
  cache.apply(participant('participant.joined', 'PA_b', 'bob', 'RM_new'));
  expect(cache.apply(roomFinished('RM_old'))).toBe(true);
  expect(cache.participants('standup').map((p) => p.identity)).toEqual(['bob']);
  expect(cache.apply(participant('participant.joined', 'PA_late', 'late', 'RM_old'))).toBe(false);
  expect(cache.apply(roomFinished('RM_new'))).toBe(true);
  expect(cache.rooms()).toEqual([]);
  expect(cache.apply(roomFinished('RM_new'))).toBe(false);
});
