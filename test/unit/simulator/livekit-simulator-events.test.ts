import { WebhookReceiver } from 'livekit-server-sdk';
import type { LiveKitSimulator, LiveKitSimulatorProps } from '../../../simulator/livekit-simulator';
import { fixture } from '../../../simulator/signing';
import { Json, useSimulator } from '../../support/simulator';

const KEYS = { APIdev: 'dev-secret-that-is-long-enough-for-hs256' };
const GUID = /^[2-9A-HJ-NP-Za-km-z]{12}$/;

const FIXTURE = JSON.parse(fixture('livekit-track-unpublished.json').toString('utf8')) as Json;

describe('LiveKitSimulator webhook events', () => {
  const simulator = useSimulator({ keys: KEYS });
  const received = simulator.received;
  let sim: LiveKitSimulator;

  async function startSim(props: Partial<LiveKitSimulatorProps> = {}): Promise<LiveKitSimulator> {
    ({ sim } = await simulator.start(props));
    return sim;
  }

  it('sends room_started and participant_joined as protojson: int64 as strings, enums as names, ids like LiveKit', async () => {
    await startSim();
    sim.join('room-a', 'alice', { name: 'Alice' });
    await sim.idle();

    const [started] = received('room_started');
    expect(started.id).toMatch(/^EV_/);
    expect(started.id.slice(3)).toMatch(GUID);
    expect(started.createdAt).toMatch(/^\d+$/);
    expect(Math.abs(Number(started.createdAt) - Date.now() / 1000)).toBeLessThan(60);
    expect(started.room.sid.slice(3)).toMatch(GUID);
    expect(started.room.creationTime).toMatch(/^\d+$/);

    const [joined] = received('participant_joined');
    expect(joined.participant).toMatchObject({ identity: 'alice', name: 'Alice', state: 'ACTIVE', version: 1 });
    expect(joined.participant.sid).toMatch(/^PA_/);
    expect(joined.participant.joinedAt).toMatch(/^\d+$/);
    expect(joined.participant.joinedAtMs).toMatch(/^\d+$/);
    // STANDARD is the zero value: protojson leaves it out
    expect(joined.participant).not.toHaveProperty('kind');
    expect(joined.room).toMatchObject({ name: 'room-a', sid: started.room.sid, numParticipants: 1 });
  });

  it('names a non-default participant kind', async () => {
    await startSim();
    sim.join('room-a', 'agent-1', { kind: 'AGENT' });
    await sim.idle();
    expect(received('participant_joined')[0].participant.kind).toBe('AGENT');
  });

  it('gives a rejoin a new sid and increases the version within a session', async () => {
    await startSim();
    const first = sim.join('room-a', 'alice');
    sim.publishTrack('room-a', 'alice');
    sim.leave('room-a', 'alice');
    const second = sim.join('room-a', 'alice');
    await sim.idle();

    expect(second.sid).not.toBe(first.sid);
    const [left] = received('participant_left');
    expect(left.participant).toMatchObject({ sid: first.sid, state: 'DISCONNECTED', disconnectReason: 'CLIENT_INITIATED' });
    expect(left.participant.version).toBeGreaterThan(first.version);
    expect(received('participant_joined').map((e) => e.participant.sid)).toEqual([first.sid, second.sid]);
  });

  it('replaces a session when the same identity joins again (DUPLICATE_IDENTITY)', async () => {
    await startSim();
    const first = sim.join('room-a', 'alice');
    sim.join('room-a', 'alice');
    await sim.idle();
    expect(received().map((e) => e.event)).toEqual(['room_started', 'participant_joined', 'participant_left', 'participant_joined']);
    expect(received('participant_left')[0].participant).toMatchObject({ sid: first.sid, disconnectReason: 'DUPLICATE_IDENTITY' });
    expect(sim.participants('room-a')).toHaveLength(1);
  });

  it('sends track events with a participant reduced to sid and identity and a room reduced to sid and name, like the fixture', async () => {
    await startSim();
    const alice = sim.join('room-a', 'alice');
    const track = sim.publishTrack('room-a', 'alice', { source: 'MICROPHONE' });
    sim.unpublishTrack('room-a', 'alice', track.sid);
    await sim.idle();

    const [published] = received('track_published');
    const [unpublished] = received('track_unpublished');
    for (const body of [published, unpublished]) {
      expect(Object.keys(body.participant).sort()).toEqual(Object.keys(FIXTURE.participant).sort());
      expect(Object.keys(body.room).sort()).toEqual(Object.keys(FIXTURE.room).sort());
      expect(body.participant).toEqual({ sid: alice.sid, identity: 'alice' });
      expect(body.track).toMatchObject({ sid: track.sid, source: 'MICROPHONE', mimeType: 'audio/red' });
    }
    expect(Object.keys(unpublished).sort()).toEqual(Object.keys(FIXTURE).sort());
    expect(typeof unpublished.track.version.unixMicro).toBe('string');
  });

  it('sends participant_connection_aborted, and never participant_joined, for a connection that never became active', async () => {
    await startSim();
    sim.abortConnection('room-a', 'bob');
    await sim.idle();
    expect(received().map((e) => e.event)).toEqual(['room_started', 'participant_connection_aborted']);
    expect(received('participant_connection_aborted')[0].participant).toMatchObject({ identity: 'bob', state: 'DISCONNECTED' });
    expect(sim.participants('room-a')).toEqual([]);
  });

  it('runs an egress through STARTING, ACTIVE, ENDING, COMPLETE with nanosecond timestamps and a reduced room', async () => {
    await startSim();
    const room = sim.createRoom('room-a');
    const started = sim.startRoomCompositeEgress('room-a');
    sim.stopEgress(started.egressId);
    await sim.idle();

    const bodies = received().filter((e) => e.egressInfo);
    expect(bodies.map((e) => [e.event, e.egressInfo.status])).toEqual([
      ['egress_started', undefined], // EGRESS_STARTING is the zero value
      ['egress_updated', 'EGRESS_ACTIVE'],
      ['egress_updated', 'EGRESS_ENDING'],
      ['egress_ended', 'EGRESS_COMPLETE'],
    ]);
    for (const body of bodies) {
      expect(body.room).toEqual({ sid: room.sid, name: 'room-a' });
      expect(body.egressInfo).toMatchObject({ egressId: started.egressId, roomId: room.sid, roomName: 'room-a' });
    }
    const ended = bodies[3].egressInfo;
    expect(ended.egressId).toMatch(/^EG_/);
    expect(ended.endedAt).toMatch(/^\d{19}$/); // nanoseconds since 1970 have 19 digits
    expect(BigInt(ended.startedAt)).toBeLessThanOrEqual(BigInt(ended.endedAt));
    const updatedAts = bodies.map((b) => BigInt(b.egressInfo.updatedAt));
    expect([...updatedAts].sort((a, b) => (a < b ? -1 : 1))).toEqual(updatedAts);
    expect(new Set(updatedAts).size).toBe(updatedAts.length);
  });

  it('ends an egress with EGRESS_FAILED and its error', async () => {
    await startSim();
    sim.createRoom('room-a');
    const { egressId } = sim.startRoomCompositeEgress('room-a');
    sim.failEgress(egressId, 'upload failed');
    await sim.idle();
    expect(received('egress_ended')[0].egressInfo).toMatchObject({ status: 'EGRESS_FAILED', error: 'upload failed' });
    expect(sim.egress({ active: true })).toEqual([]);
  });

  it('ends a room: participant_left for everyone, room_finished, and its active egress ends in its own queue', async () => {
    await startSim();
    sim.join('room-a', 'alice');
    sim.join('room-a', 'bob');
    sim.publishTrack('room-a', 'bob', { source: 'CAMERA' });
    const { egressId } = sim.startRoomCompositeEgress('room-a');
    sim.endRoom('room-a');
    await sim.idle();

    const roomEvents = received()
      .filter((e) => !e.egressInfo)
      .map((e) => e.event);
    expect(roomEvents.slice(-4)).toEqual(['participant_left', 'track_unpublished', 'participant_left', 'room_finished']);
    expect(received('participant_left').map((e) => [e.participant.identity, e.participant.disconnectReason])).toEqual([
      ['alice', 'ROOM_DELETED'],
      ['bob', 'ROOM_DELETED'],
    ]);
    expect(received('egress_ended')[0].egressInfo).toMatchObject({ egressId, status: 'EGRESS_COMPLETE' });
    expect(sim.rooms()).toEqual([]);
    expect(sim.endedRooms().map((r) => r.name)).toEqual(['room-a']);
    expect(sim.egress({ egressId })[0].status).toBe(3); // EGRESS_COMPLETE, still listed after the room ended
  });

  it('can end egress with EGRESS_ABORTED when its room is deleted', async () => {
    await startSim({ egressStatusOnRoomEnd: 'EGRESS_ABORTED' });
    sim.createRoom('room-a');
    sim.startRoomCompositeEgress('room-a');
    sim.endRoom('room-a');
    await sim.idle();
    expect(received('egress_ended')[0].egressInfo.status).toBe('EGRESS_ABORTED');
  });

  it('starts and ends an ingress with its INGRESS participant', async () => {
    await startSim();
    const ingress = sim.startIngress('room-a', { identity: 'streamer' });
    sim.endIngress(ingress.ingressId);
    await sim.idle();
    expect(sim.events().map((e) => e.type)).toEqual([
      'room_started',
      'ingress_started',
      'participant_joined',
      'participant_left',
      'ingress_ended',
    ]);
    // ingress events have a queue of their own, so only the room's events keep their relative order
    expect(simulator.receiver.requests.filter((r) => r.event.startsWith('ingress')).map((r) => r.event)).toEqual([
      'ingress_started',
      'ingress_ended',
    ]);
    expect(simulator.receiver.requests.filter((r) => !r.event.startsWith('ingress')).map((r) => r.event)).toEqual([
      'room_started',
      'participant_joined',
      'participant_left',
    ]);
    expect(received('participant_joined')[0].participant).toMatchObject({ identity: 'streamer', kind: 'INGRESS' });
    const ended = received('ingress_ended')[0].ingressInfo;
    expect(ended.ingressId).toBe(ingress.ingressId);
    expect(ended.state).not.toHaveProperty('status'); // ENDPOINT_INACTIVE is the zero value
    expect(ended.state.endedAt).toMatch(/^\d{19}$/);
    expect(received('ingress_started')[0].ingressInfo.state.status).toBe('ENDPOINT_PUBLISHING');
    // livekit/livekit pkg/telemetry/events.go: toMinimalRoomProto("", roomName), a name and no sid
    expect(received('ingress_started')[0].room).toEqual({ name: 'room-a' });
  });

  it('closes an empty room after the departure timeout when configured', async () => {
    await startSim({ closeEmptyRoomsAfterMs: 5 });
    sim.join('room-a', 'alice');
    const finished = new Promise<void>((resolve) => sim.webhooks.on('generated', (e) => e.type === 'room_finished' && resolve()));
    sim.leave('room-a', 'alice');
    await finished;
    expect(sim.rooms()).toEqual([]);
  });

  it('delivers bodies that WebhookReceiver verifies and parses back to the generated event', async () => {
    await startSim();
    sim.join('room-a', 'alice');
    await sim.idle();
    const webhookReceiver = new WebhookReceiver('APIdev', KEYS.APIdev);
    for (const request of simulator.receiver.requests) {
      const event = await webhookReceiver.receive(request.body, request.headers.authorization);
      expect(event.id).toBe(request.eventId);
    }
    expect(sim.parsedEvents('participant_joined')[0].participant?.joinedAt).toEqual(expect.any(BigInt));
    expect(sim.stats()).toMatchObject({ generated: 2, delivered: 2, dropped: 0, pending: 0 });
  });
});
