/**
 * The simulator against LiveKit as its source says it behaves, where a happy-path model goes wrong
 * (docs/simulator.md, "Production realities"): who `numParticipants` counts, JOINING participants,
 * an empty list or `not_found` for a closed room, paged ListEgress/ListIngress, the project's event filter and the
 * DUPLICATE_IDENTITY rejoin. Through the official clients (or raw Twirp where the SDK drops a
 * field), over real HTTP, with webhooks to a real receiver.
 */
import { ListEgressResponse, ListIngressResponse, ParticipantInfo_Kind, ParticipantInfo_State } from '@livekit/protocol';
import { AccessToken, EgressClient, RoomServiceClient, ServerError, VideoGrant } from 'livekit-server-sdk';
import type { LiveKitSimulator, LiveKitSimulatorProps } from '../../../simulator/livekit-simulator';
import { Json, useSimulator } from '../../support/simulator';

const KEY = 'APIdev';
const SECRET = 'dev-secret-that-is-long-enough-for-hs256';

async function twirp(url: string, service: string, method: string, body: Json, grant: VideoGrant): Promise<{ status: number; json: Json }> {
  const token = new AccessToken(KEY, SECRET, { ttl: '5m' });
  token.addGrant(grant);
  const response = await fetch(`${url}/twirp/livekit.${service}/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await token.toJwt()}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Json };
}

describe('LiveKitSimulator: LiveKit as it really is', () => {
  const simulator = useSimulator({ keys: { [KEY]: SECRET }, seed: 11 });
  const received = simulator.received;
  let sim: LiveKitSimulator;
  let url: string;
  let rooms: RoomServiceClient;

  async function startSim(props: Partial<LiveKitSimulatorProps> = {}): Promise<void> {
    ({ sim, url } = await simulator.start(props));
    rooms = new RoomServiceClient(url, KEY, SECRET);
  }

  it('numParticipants leaves out AGENT and EGRESS participants; ListParticipants and webhooks include them (livekit pkg/rtc/room.go updateProto)', async () => {
    await startSim();
    sim.join('agent-room', 'caller');
    sim.join('agent-room', 'agent-1', { kind: 'AGENT' });
    sim.join('agent-room', 'EG_recorder', { kind: 'EGRESS' });
    sim.join('agent-room', 'phone', { kind: 'SIP' });
    await sim.idle();

    const [room] = await rooms.listRooms(['agent-room']);
    expect(room.numParticipants).toBe(2); // caller + SIP
    const listed = await rooms.listParticipants('agent-room');
    expect(listed.map((p) => ParticipantInfo_Kind[p.kind]).sort()).toEqual(['AGENT', 'EGRESS', 'SIP', 'STANDARD']);
    expect(
      received('participant_joined')
        .map((e) => e.participant.kind ?? 'STANDARD')
        .sort(),
    ).toEqual(['AGENT', 'EGRESS', 'SIP', 'STANDARD']);
  });

  it('lists a JOINING participant (counted, no webhook yet); participant_joined when it becomes ACTIVE, with the same sid', async () => {
    await startSim();
    sim.join('room-a', 'alice');
    const connecting = sim.connect('room-a', 'bob');
    await sim.idle();

    const listed = await rooms.listParticipants('room-a');
    expect(listed.find((p) => p.identity === 'bob')).toMatchObject({ sid: connecting.sid, state: ParticipantInfo_State.JOINING });
    expect((await rooms.listRooms(['room-a']))[0].numParticipants).toBe(2);
    expect(received('participant_joined').map((e) => e.participant.identity)).toEqual(['alice']);

    const active = sim.join('room-a', 'bob');
    await sim.idle();
    expect(active.sid).toBe(connecting.sid);
    expect(received('participant_joined').map((e) => e.participant.sid)).toEqual([expect.any(String), connecting.sid]);

    // A connection that never became ACTIVE ends with participant_connection_aborted, not participant_left.
    sim.connect('room-a', 'carol');
    sim.leave('room-a', 'carol');
    await sim.idle();
    expect(received('participant_connection_aborted').map((e) => e.participant.identity)).toEqual(['carol']);
    expect(received('participant_left')).toEqual([]);
  });

  it('answers ListParticipants for a room that does not exist (any more) with an empty list (self-hosted default: the store), or Twirp not_found when configured (LiveKit Cloud, enable_psrpc_for_get_list_participants)', async () => {
    await startSim();
    sim.join('room-a', 'alice');
    sim.endRoom('room-a');
    expect(await rooms.listParticipants('room-a')).toEqual([]);
    await sim.stop();

    await startSim({ participantsOfUnknownRoom: 'not_found' });
    const error = await rooms.listParticipants('room-a').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServerError);
    expect([(error as ServerError).status, (error as ServerError).code]).toEqual([404, 'not_found']);
  });

  it('without Redis (livekit-server --dev): the egress and ingress methods answer Twirp internal "… not connected (redis required)" after the grant check, rooms work (livekit pkg/service/errors.go)', async () => {
    await startSim({ redis: false });
    sim.join('room-a', 'alice');
    expect((await rooms.listRooms()).map((room) => room.name)).toEqual(['room-a']);
    expect(await twirp(url, 'Egress', 'ListEgress', { active: true }, { roomRecord: true })).toEqual({
      status: 500,
      json: { code: 'internal', msg: 'egress not connected (redis required)' },
    });
    expect(await twirp(url, 'Ingress', 'ListIngress', {}, { ingressAdmin: true })).toEqual({
      status: 500,
      json: { code: 'internal', msg: 'ingress not connected (redis required)' },
    });
    expect(await twirp(url, 'Egress', 'StopEgress', { egressId: 'EG_x' }, { roomRecord: true })).toMatchObject({ status: 500 });
    // The grant is checked first (pkg/service/egress.go, ingress.go), as with Redis.
    expect((await twirp(url, 'Egress', 'ListEgress', {}, { roomList: true })).status).toBe(401);
    // Through the official client: a ServerError the reconciler can tell apart from any other 500.
    const error = await new EgressClient(url, KEY, SECRET).listEgress({}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ServerError);
    expect([(error as ServerError).status, (error as ServerError).code, (error as ServerError).message]).toEqual([
      500,
      'internal',
      'egress not connected (redis required)',
    ]);
    // Nothing can start an egress or an ingress on such a server.
    expect(() => sim.startRoomCompositeEgress('room-a')).toThrow('egress not connected (redis required)');
    expect(() => sim.startIngress('room-a')).toThrow('ingress not connected (redis required)');
  });

  it('pages ListEgress and ListIngress with pageToken / nextPageToken (the Node SDK returns the first page only)', async () => {
    await startSim({ apiPageSize: 2 });
    for (const name of ['r1', 'r2', 'r3']) {
      sim.join(name, 'host');
      sim.startRoomCompositeEgress(name);
      sim.startIngress(name);
    }
    const pages = async (service: string, grant: VideoGrant, parse: (json: Json) => { items: { length: number }; token: string }) => {
      const sizes: number[] = [];
      let token = '';
      do {
        const { status, json } = await twirp(url, service, `List${service}`, token ? { pageToken: { token } } : {}, grant);
        expect(status).toBe(200);
        const page = parse(json);
        sizes.push(page.items.length);
        token = page.token;
      } while (token);
      return sizes;
    };
    expect(
      await pages('Egress', { roomRecord: true }, (json) => {
        const r = ListEgressResponse.fromJson(json);
        return { items: r.items, token: r.nextPageToken?.token ?? '' };
      }),
    ).toEqual([2, 1]);
    expect(
      await pages('Ingress', { ingressAdmin: true }, (json) => {
        const r = ListIngressResponse.fromJson(json);
        return { items: r.items, token: r.nextPageToken?.token ?? '' };
      }),
    ).toEqual([2, 1]);
    // The SDK sends no page token and drops nextPageToken: it sees the first page only.
    expect(await new EgressClient(url, KEY, SECRET).listEgress({})).toHaveLength(2);
  });

  it('never queues an event type the project filter excludes (livekit/protocol webhook/filter.go); the rest is sent', async () => {
    await startSim({
      webhook: { urls: [simulator.receiver.url], timeScale: 0.01, filter: { excludeEvents: ['participant_joined', 'participant_left'] } },
    });
    sim.join('room-a', 'alice');
    sim.leave('room-a', 'alice');
    sim.endRoom('room-a');
    await sim.idle();
    expect(received().map((e) => e.event)).toEqual(['room_started', 'room_finished']);
    expect(sim.stats()).toMatchObject({ generated: 4, filtered: 2, delivered: 2, dropped: 0 });
    await sim.stop();

    simulator.receiver.requests.length = 0;
    // includeEvents wins over excludeEvents.
    await startSim({
      webhook: {
        urls: [simulator.receiver.url],
        timeScale: 0.01,
        filter: { includeEvents: ['participant_left'], excludeEvents: ['participant_left'] },
      },
    });
    sim.join('room-b', 'bob');
    sim.leave('room-b', 'bob');
    await sim.idle();
    expect(received().map((e) => e.event)).toEqual(['participant_left']);
  });

  it('a rejoin of a present identity removes the old session with DUPLICATE_IDENTITY (track_unpublished, participant_left), then participant_joined with a new sid', async () => {
    await startSim();
    const first = sim.join('room-a', 'alice');
    sim.publishTrack('room-a', 'alice');
    const second = sim.join('room-a', 'alice');
    await sim.idle();
    expect(second.sid).not.toBe(first.sid);
    expect(received().map((e) => `${e.event}:${e.participant?.sid ?? ''}`)).toEqual([
      'room_started:',
      `participant_joined:${first.sid}`,
      `track_published:${first.sid}`,
      `track_unpublished:${first.sid}`,
      `participant_left:${first.sid}`,
      `participant_joined:${second.sid}`,
    ]);
    expect(received('participant_left')[0].participant.disconnectReason).toBe('DUPLICATE_IDENTITY');
    expect((await rooms.listParticipants('room-a')).map((p) => p.sid)).toEqual([second.sid]);
  });
});
