import { EgressStatus, EncodedFileOutput, IngressState_Status, ParticipantInfo_State } from '@livekit/protocol';
import { AccessToken, EgressClient, IngressClient, RoomServiceClient, ServerError, VideoGrant } from 'livekit-server-sdk';
import { LiveKitSimulator } from '../../../simulator/livekit-simulator';
import { TestReceiver } from '../../support/test-receiver';

const KEY = 'APIdev';
const SECRET = 'dev-secret-that-is-long-enough-for-hs256';
const ROTATED_KEY = 'APInext';
const ROTATED_SECRET = 'next-secret-that-is-long-enough-for-hs256';

const FILE_OUTPUT = { file: new EncodedFileOutput({ filepath: 'recordings/{room_name}.mp4' }) };

async function tokenWith(grant: VideoGrant, key = KEY, secret = SECRET): Promise<string> {
  const at = new AccessToken(key, secret, { ttl: '5m' });
  at.addGrant(grant);
  return at.toJwt();
}

async function serverError(promise: Promise<unknown>): Promise<ServerError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ServerError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('LiveKitSimulator server API through the official clients', () => {
  let receiver: TestReceiver;
  let sim: LiveKitSimulator;
  let url: string;
  let rooms: RoomServiceClient;
  let egress: EgressClient;

  beforeEach(async () => {
    receiver = new TestReceiver();
    await receiver.start();
    sim = new LiveKitSimulator({
      keys: { [KEY]: SECRET, [ROTATED_KEY]: ROTATED_SECRET },
      webhook: { urls: [receiver.url], timeScale: 0.01 },
      seed: 7,
    });
    url = await sim.start();
    rooms = new RoomServiceClient(url, KEY, SECRET);
    egress = new EgressClient(url, KEY, SECRET);
  });

  afterEach(async () => {
    await sim.stop();
    await receiver.stop();
  });

  it('lists rooms with their numParticipants, and filters by name', async () => {
    sim.join('room-a', 'alice');
    sim.join('room-a', 'bob');
    sim.createRoom('room-b');

    const listed = await rooms.listRooms();
    expect(listed.map((r) => [r.name, r.numParticipants]).sort()).toEqual([
      ['room-a', 2],
      ['room-b', 0],
    ]);
    expect(listed.find((r) => r.name === 'room-a')!.sid).toBe(sim.rooms().find((r) => r.name === 'room-a')!.sid);
    expect((await rooms.listRooms(['room-b'])).map((r) => r.name)).toEqual(['room-b']);
    expect(await rooms.listRooms(['nope'])).toEqual([]);
  });

  it('lists the participants of a room with their tracks; an unknown room is an empty list (a self-hosted server by default)', async () => {
    const alice = sim.join('room-a', 'alice');
    const track = sim.publishTrack('room-a', 'alice', { source: 'CAMERA' });

    const [listed] = await rooms.listParticipants('room-a');
    expect(listed).toMatchObject({ sid: alice.sid, identity: 'alice', state: ParticipantInfo_State.ACTIVE });
    expect(listed.tracks.map((t) => t.sid)).toEqual([track.sid]);
    expect(await rooms.listParticipants('nope')).toEqual([]);
  });

  it('removes a participant and sends participant_left; an unknown participant is not_found', async () => {
    sim.join('room-a', 'alice');
    await rooms.removeParticipant('room-a', 'alice');
    await sim.idle();

    const left = receiver.requests.find((r) => r.event === 'participant_left')!;
    expect(JSON.parse(left.body).participant).toMatchObject({ identity: 'alice', disconnectReason: 'PARTICIPANT_REMOVED' });
    const err = await serverError(rooms.removeParticipant('room-a', 'alice'));
    expect([err.status, err.code]).toEqual([404, 'not_found']);
  });

  it('deletes a room: webhooks for everyone leaving, room_finished and the egress ending; a second delete is not_found', async () => {
    sim.join('room-a', 'alice');
    sim.join('room-a', 'bob');
    const info = await egress.startRoomCompositeEgress('room-a', FILE_OUTPUT);
    await rooms.deleteRoom('room-a');
    await sim.idle();

    expect(await rooms.listRooms()).toEqual([]);
    expect(receiver.requests.filter((r) => r.event === 'participant_left')).toHaveLength(2);
    expect(receiver.requests.filter((r) => r.event === 'room_finished')).toHaveLength(1);
    const ended = receiver.requests.find((r) => r.event === 'egress_ended')!;
    expect(JSON.parse(ended.body).egressInfo).toMatchObject({ egressId: info.egressId, status: 'EGRESS_COMPLETE' });

    const err = await serverError(rooms.deleteRoom('room-a'));
    expect([err.status, err.code, err.message]).toEqual([404, 'not_found', 'room not found']);
  });

  it('starts, lists and stops a room composite egress', async () => {
    sim.join('room-a', 'alice');
    const started = await egress.startRoomCompositeEgress('room-a', FILE_OUTPUT, { layout: 'grid' });
    expect(started.status).toBe(EgressStatus.EGRESS_STARTING);
    expect(started.egressId).toMatch(/^EG_/);
    expect(started.request.case).toBe('roomComposite');

    const active = await egress.listEgress({ active: true });
    expect(active.map((e) => [e.egressId, e.status])).toEqual([[started.egressId, EgressStatus.EGRESS_ACTIVE]]);
    expect((await rooms.listRooms())[0].activeRecording).toBe(true);

    const stopping = await egress.stopEgress(started.egressId);
    expect(stopping.status).toBe(EgressStatus.EGRESS_ENDING);
    expect(await egress.listEgress({ active: true })).toEqual([]);
    const [byId] = await egress.listEgress({ egressId: started.egressId });
    expect(byId.status).toBe(EgressStatus.EGRESS_COMPLETE);
    expect(byId.endedAt).toBeGreaterThan(0n);
    expect((await egress.listEgress({ roomName: 'room-a' })).map((e) => e.egressId)).toEqual([started.egressId]);
    expect(await egress.listEgress({ roomName: 'room-b' })).toEqual([]);
    await sim.idle();
    expect(receiver.requests.filter((r) => r.event.startsWith('egress_')).map((r) => r.event)).toEqual([
      'egress_started',
      'egress_updated',
      'egress_updated',
      'egress_ended',
    ]);
  });

  it('refuses to stop an ended egress, to start one in an unknown room, and to list an unknown egress id', async () => {
    sim.createRoom('room-a');
    const { egressId } = sim.startRoomCompositeEgress('room-a');
    sim.stopEgress(egressId);
    expect(await serverError(egress.stopEgress(egressId))).toMatchObject({ status: 412, code: 'failed_precondition' });
    expect(await serverError(egress.startRoomCompositeEgress('nope', FILE_OUTPUT))).toMatchObject({ status: 404, code: 'not_found' });
    expect(await serverError(egress.listEgress({ egressId: 'EG_unknown' }))).toMatchObject({ status: 404, code: 'not_found' });
  });

  it("lists ingresses through IngressClient.listIngress, by room name and by ingress id, with each session's resource id", async () => {
    const ingress = new IngressClient(url, KEY, SECRET);
    expect(await ingress.listIngress()).toEqual([]);
    const live = sim.startIngress('room-a', { identity: 'streamer' });
    const other = sim.startIngress('room-b');
    sim.endIngress(other.ingressId);

    const all = await ingress.listIngress();
    expect(all.map((i) => [i.ingressId, i.roomName, i.state?.status]).sort()).toEqual(
      [
        [live.ingressId, 'room-a', IngressState_Status.ENDPOINT_PUBLISHING],
        [other.ingressId, 'room-b', IngressState_Status.ENDPOINT_INACTIVE],
      ].sort(),
    );
    const [byRoom] = await ingress.listIngress({ roomName: 'room-a' });
    expect(byRoom.ingressId).toBe(live.ingressId);
    expect(byRoom.state?.resourceId).toMatch(/^RT_/);
    expect(byRoom.state?.resourceId).toBe(live.state?.resourceId);
    expect(byRoom.state?.startedAt).toBeGreaterThan(0n);
    expect(await ingress.listIngress({ roomName: 'nope' })).toEqual([]);
    const [byId] = await ingress.listIngress({ ingressId: other.ingressId });
    expect([byId.roomName, byId.state?.status]).toEqual(['room-b', IngressState_Status.ENDPOINT_INACTIVE]);
    expect(byId.state?.endedAt).toBeGreaterThan(0n);
    expect(await serverError(ingress.listIngress({ ingressId: 'IN_unknown' }))).toMatchObject({ status: 404, code: 'not_found' });
    expect(sim.callCount('ListIngress')).toBe(6);
  });

  it('refuses ListIngress without ingressAdmin as Twirp unauthenticated', async () => {
    sim.startIngress('room-a');
    const client = new IngressClient(url, undefined, undefined, {
      token: await tokenWith({ roomList: true, roomAdmin: true, roomRecord: true, room: 'room-a' }),
    });
    const err = await serverError(client.listIngress());
    expect([err.status, err.code, err.message]).toEqual([401, 'unauthenticated', 'permissions denied']);
    const unknownKey = await serverError(new IngressClient(url, 'APIunknown', SECRET).listIngress());
    expect([unknownKey.status, unknownKey.message]).toEqual([401, 'invalid API key: APIunknown']);
  });

  it('rejects a token signed with the wrong secret or an unknown key with a plain 401', async () => {
    const wrongSecret = await serverError(new RoomServiceClient(url, KEY, 'not-the-secret-but-long-enough-for-hs256').listRooms());
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.code).toBeUndefined(); // the auth middleware answers before Twirp, in plain text
    expect(wrongSecret.message).toMatch(/^invalid token/);
    const unknownKey = await serverError(new RoomServiceClient(url, 'APIunknown', SECRET).listRooms());
    expect([unknownKey.status, unknownKey.message]).toEqual([401, 'invalid API key: APIunknown']);
  });

  it('accepts every configured key pair (rotation)', async () => {
    sim.createRoom('room-a');
    expect(await new RoomServiceClient(url, ROTATED_KEY, ROTATED_SECRET).listRooms()).toHaveLength(1);
  });

  it.each([
    ['ListRooms without roomList', { roomAdmin: true, room: 'room-a' }, (c: RoomServiceClient) => c.listRooms()],
    ['ListParticipants without roomAdmin', { roomList: true, room: 'room-a' }, (c: RoomServiceClient) => c.listParticipants('room-a')],
    [
      'ListParticipants with roomAdmin for another room',
      { roomAdmin: true, room: 'room-b' },
      (c: RoomServiceClient) => c.listParticipants('room-a'),
    ],
    ['DeleteRoom without roomCreate', { roomAdmin: true, room: 'room-a' }, (c: RoomServiceClient) => c.deleteRoom('room-a')],
    ['RemoveParticipant without roomAdmin', { roomList: true }, (c: RoomServiceClient) => c.removeParticipant('room-a', 'alice')],
  ] as const)('refuses %s as Twirp unauthenticated', async (_name, grant, call) => {
    sim.join('room-a', 'alice');
    const client = new RoomServiceClient(url, undefined, undefined, { token: await tokenWith(grant) });
    const err = await serverError(call(client));
    expect([err.status, err.code, err.message]).toEqual([401, 'unauthenticated', 'permissions denied']);
    expect(sim.participants('room-a')).toHaveLength(1);
  });

  it('refuses egress calls without roomRecord', async () => {
    const client = new EgressClient(url, undefined, undefined, { token: await tokenWith({ roomList: true, roomAdmin: true }) });
    expect(await serverError(client.listEgress())).toMatchObject({ status: 401, code: 'unauthenticated' });
  });

  it('fails the next N calls of a method with an injected 5xx and counts every call', async () => {
    sim.failNext('ListRooms', 2, { kind: 'error', status: 503 });
    expect(await serverError(rooms.listRooms())).toMatchObject({ status: 503, code: 'unavailable' });
    expect(await serverError(rooms.listRooms())).toMatchObject({ status: 503 });
    expect(await rooms.listRooms()).toEqual([]);
    expect(await egress.listEgress()).toEqual([]);
    expect(sim.callCount('ListRooms')).toBe(3);
    expect(sim.callCounts()).toEqual({ ListRooms: 3, ListEgress: 1 });
  });

  it('answers an injected 429 with Retry-After, which the SDK surfaces at once as a ServerError', async () => {
    sim.failNext('*', 1, { kind: 'error', status: 429, retryAfterSeconds: 7 });
    const raw = await fetch(`${url}/twirp/livekit.RoomService/ListRooms`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await tokenWith({ roomList: true })}` },
      body: '{}',
    });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('7');
    expect(await raw.json()).toMatchObject({ code: 'resource_exhausted' });

    sim.failNext('ListEgress', 1, { kind: 'error', status: 429, retryAfterSeconds: 1 });
    expect(await serverError(egress.listEgress())).toMatchObject({ status: 429, code: 'resource_exhausted' });
    expect(sim.callCount('ListEgress')).toBe(1);
  });

  it('fails a share of calls: share 1 fails every call, share 0 none', async () => {
    const remove = sim.failShare('ListParticipants', 1, { kind: 'error', status: 500 });
    sim.join('room-a', 'alice');
    for (let i = 0; i < 3; i += 1)
      expect(await serverError(rooms.listParticipants('room-a'))).toMatchObject({ status: 500, code: 'internal' });
    remove();
    sim.failShare('ListParticipants', 0, { kind: 'error', status: 500 });
    expect(await rooms.listParticipants('room-a')).toHaveLength(1);
  });

  it('hangs a call until the client gives up, and resets a connection', async () => {
    sim.failNext('ListRooms', 1, { kind: 'hang' });
    const impatient = new RoomServiceClient(url, KEY, SECRET, { requestTimeout: 0.2 });
    await expect(impatient.listRooms()).rejects.toThrow(/timeout|aborted/i);
    sim.failNext('ListRooms', 1, { kind: 'reset' });
    await expect(rooms.listRooms()).rejects.toThrow(/fetch failed|socket|other side closed/i);
    expect(await rooms.listRooms()).toEqual([]);
  });

  it('delays answers by the configured latency', async () => {
    sim.setApiLatency(1_000, 'ListRooms');
    const impatient = new RoomServiceClient(url, KEY, SECRET, { requestTimeout: 0.1 });
    await expect(impatient.listRooms()).rejects.toThrow(/timeout|aborted/i);
    sim.clearFaults();
    expect(await impatient.listRooms()).toEqual([]);
  });

  it('answers Twirp bad_route for an unknown method or a GET', async () => {
    const token = await tokenWith({ roomList: true });
    const unknown = await fetch(`${url}/twirp/livekit.RoomService/NoSuchMethod`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: '{}',
    });
    expect([unknown.status, ((await unknown.json()) as { code: string }).code]).toEqual([404, 'bad_route']);
    const get = await fetch(`${url}/twirp/livekit.RoomService/ListRooms`, { headers: { Authorization: `Bearer ${token}` } });
    expect(get.status).toBe(404);
  });
});
