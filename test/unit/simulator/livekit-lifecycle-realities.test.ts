/**
 * Event shapes read from LiveKit's source that a happy-path model gets wrong: how DeleteRoom ends a
 * STARTING and an ACTIVE egress (livekit/egress pkg/pipeline/controller.go `SendEOS`), the
 * `egress_ended` FAILED with no egress id of a room's failing auto egress (livekit/livekit
 * pkg/rtc/egress.go), ingress events whose room has no sid (livekit/livekit pkg/telemetry/events.go)
 * and the opt-in `agent_job_*` events (livekit/protocol webhook/consts.go, `WebhookEvent.job`).
 * Over real HTTP to a real receiver, bodies checked as raw JSON and verified with the SDK's
 * `WebhookReceiver` (signature over the exact bytes).
 */
import { EgressStatus } from '@livekit/protocol';
import { EgressClient, RoomServiceClient, WebhookReceiver } from 'livekit-server-sdk';
import type { LiveKitSimulator, LiveKitSimulatorProps } from '../../../simulator/livekit-simulator';
import { Json, useSimulator } from '../../support/simulator';

const KEY = 'APIdev';
const SECRET = 'dev-secret-that-is-long-enough-for-hs256';

describe('LiveKitSimulator: lifecycle realities', () => {
  const simulator = useSimulator({ keys: { [KEY]: SECRET }, seed: 7 });
  const received = simulator.received;
  let sim: LiveKitSimulator;
  let url: string;

  async function startSim(props: Partial<LiveKitSimulatorProps> = {}): Promise<void> {
    ({ sim, url } = await simulator.start(props));
  }

  /** Every received body passes the SDK's signature check. */
  async function verifyAll(): Promise<void> {
    const verifier = new WebhookReceiver(KEY, SECRET);
    for (const r of simulator.receiver.requests) await expect(verifier.receive(r.body, r.headers.authorization)).resolves.toBeDefined();
  }

  it('DeleteRoom: a STARTING egress ends ABORTED (no ENDING update); an ACTIVE one goes ENDING then COMPLETE, both "End reason: Source closed"', async () => {
    await startSim();
    sim.join('room-a', 'alice');
    const starting = sim.startRoomCompositeEgress('room-a', { awaitStartSignal: true });
    const active = sim.startRoomCompositeEgress('room-a');
    expect(sim.egress({ egressId: starting.egressId })[0].status).toBe(EgressStatus.EGRESS_STARTING);

    await new RoomServiceClient(url, KEY, SECRET).deleteRoom('room-a');
    await sim.idle();

    const of = (egressId: string): Json[] => received().filter((e) => e.egressInfo?.egressId === egressId);
    // EGRESS_STARTING is protojson's zero value: absent from the body.
    expect(of(starting.egressId).map((e) => `${e.event}:${e.egressInfo.status ?? 'EGRESS_STARTING'}`)).toEqual([
      'egress_started:EGRESS_STARTING',
      'egress_ended:EGRESS_ABORTED',
    ]);
    expect(of(starting.egressId)[1].egressInfo).toMatchObject({
      details: 'End reason: Source closed',
      error: 'Start signal not received',
      errorCode: 412,
    });
    expect(of(starting.egressId)[1].egressInfo.endedAt).toMatch(/^\d{19}$/);
    expect(of(active.egressId).map((e) => `${e.event}:${e.egressInfo.status ?? 'EGRESS_STARTING'}`)).toEqual([
      'egress_started:EGRESS_STARTING',
      'egress_updated:EGRESS_ACTIVE',
      'egress_updated:EGRESS_ENDING',
      'egress_ended:EGRESS_COMPLETE',
    ]);
    expect(of(active.egressId)[2].egressInfo.details).toBe('End reason: Source closed');
    expect(of(active.egressId)[3].egressInfo).toMatchObject({ details: 'End reason: Source closed' });
    expect(of(active.egressId)[3].egressInfo).not.toHaveProperty('error');
    // ListEgress agrees with the webhooks.
    const listed = await new EgressClient(url, KEY, SECRET).listEgress({ roomName: 'room-a' });
    expect(Object.fromEntries(listed.map((e) => [e.egressId, e.status]))).toEqual({
      [starting.egressId]: EgressStatus.EGRESS_ABORTED,
      [active.egressId]: EgressStatus.EGRESS_COMPLETE,
    });
    await verifyAll();
  });

  it('StopEgress: "End reason: StopEgress API"; a STARTING egress is ABORTED, an ACTIVE one ENDING then COMPLETE', async () => {
    await startSim();
    sim.createRoom('room-a');
    const starting = sim.startRoomCompositeEgress('room-a', { awaitStartSignal: true });
    const egress = new EgressClient(url, KEY, SECRET);
    expect((await egress.stopEgress(starting.egressId)).status).toBe(EgressStatus.EGRESS_ABORTED);
    const later = sim.startRoomCompositeEgress('room-a', { awaitStartSignal: true });
    sim.activateEgress(later.egressId);
    expect((await egress.stopEgress(later.egressId)).status).toBe(EgressStatus.EGRESS_ENDING); // the snapshot StopEgress answers
    await sim.idle();
    const ended = received('egress_ended').map((e) => e.egressInfo);
    expect(ended.map((e) => [e.egressId, e.status, e.details])).toEqual([
      [starting.egressId, 'EGRESS_ABORTED', 'End reason: StopEgress API'],
      [later.egressId, 'EGRESS_COMPLETE', 'End reason: StopEgress API'],
    ]);
    expect(() => sim.activateEgress(later.egressId)).toThrow(/cannot be stopped|EGRESS_COMPLETE/);
  });

  it('a failing auto egress: egress_ended EGRESS_FAILED with no egressId, the launch error, per participant and per track', async () => {
    await startSim();
    sim.createRoom('room-a', { failingAutoEgress: { participant: true, track: true } });
    sim.join('room-a', 'alice');
    const mic = sim.publishTrack('room-a', 'alice');
    const cam = sim.publishTrack('room-a', 'alice', { source: 'CAMERA' });
    sim.join('room-a', 'recorder', { kind: 'EGRESS' });
    sim.publishTrack('room-a', 'recorder');
    await sim.idle();

    const failed = received('egress_ended');
    // alice: one participant egress (first publication only) + one track egress per track;
    // the EGRESS participant: a participant egress, no track egress (pkg/rtc/room.go onTrackPublished).
    expect(failed).toHaveLength(4);
    for (const e of failed) {
      expect(e.egressInfo).not.toHaveProperty('egressId');
      expect(e.egressInfo).toMatchObject({
        status: 'EGRESS_FAILED',
        error: 'no response from servers',
        roomName: 'room-a',
        roomId: sim.rooms()[0].sid,
      });
      expect(e.room).toEqual({ sid: sim.rooms()[0].sid, name: 'room-a' });
    }
    expect(failed.map((e) => e.egressInfo.participant?.identity ?? e.egressInfo.track?.trackId)).toEqual([
      'alice',
      mic.sid,
      cam.sid,
      'recorder',
    ]);
    // No egress exists: nothing to list.
    expect(await new EgressClient(url, KEY, SECRET).listEgress({ roomName: 'room-a' })).toEqual([]);
    // The empty egress id is the queue key (livekit/protocol webhook/notifier.go EventKey).
    expect(new Set(sim.events('egress_ended').map((e) => e.key))).toEqual(new Set(['']));
    await verifyAll();
  });

  it('a room without auto egress sends no egress event on publish', async () => {
    await startSim();
    sim.join('room-a', 'alice');
    sim.publishTrack('room-a', 'alice');
    await sim.idle();
    expect(received().filter((e) => e.event.startsWith('egress'))).toEqual([]);
  });

  it('ingress_started / ingress_ended carry the room name and no room sid; the ingress state keeps the room id', async () => {
    await startSim();
    sim.createRoom('room-a');
    const ingress = sim.startIngress('room-a', { identity: 'streamer' });
    sim.endIngress(ingress.ingressId);
    await sim.idle();
    for (const type of ['ingress_started', 'ingress_ended']) {
      const [event] = received(type);
      expect(event.room).toEqual({ name: 'room-a' });
      expect(event.ingressInfo.state.roomId).toBe(sim.rooms()[0].sid);
    }
    await verifyAll();
  });

  it('agent_job_* events are off by default (open-source livekit-server never sends them)', async () => {
    await startSim();
    sim.join('room-a', 'agent', { kind: 'AGENT' });
    sim.leave('room-a', 'agent');
    await sim.idle();
    expect(received().filter((e) => e.event.startsWith('agent_job'))).toEqual([]);
  });

  it('agentJobEvents: agent_job_started / agent_job_ended with a `job` and no `room`, signed like every other body', async () => {
    await startSim({ agentJobEvents: true });
    sim.join('room-a', 'alice');
    sim.join('room-a', 'agent', { kind: 'AGENT' });
    sim.leave('room-a', 'agent');
    await sim.idle();
    expect(sim.events().map((e) => e.type)).toEqual([
      'room_started',
      'participant_joined',
      'agent_job_started',
      'participant_joined',
      'participant_left',
      'agent_job_ended',
    ]);
    const [started] = received('agent_job_started');
    const [ended] = received('agent_job_ended');
    for (const e of [started, ended]) {
      expect(e).not.toHaveProperty('room');
      expect(e).not.toHaveProperty('participant');
      expect(e.job.room).toEqual({ sid: sim.rooms()[0].sid, name: 'room-a' });
      expect(e.job.state.participantIdentity).toBe('agent');
    }
    expect(started.job.id).toMatch(/^AJ_/);
    expect(ended.job.id).toBe(started.job.id);
    expect(started.job.state).toMatchObject({ status: 'JS_RUNNING' });
    expect(ended.job.state).toMatchObject({ status: 'JS_SUCCESS' });
    expect(BigInt(ended.job.state.endedAt)).toBeGreaterThanOrEqual(BigInt(started.job.state.startedAt));
    // No room, participant, egress or ingress: LiveKit's "default" queue.
    expect(sim.events('agent_job_started')[0].key).toBe('default');
    await verifyAll();
    const parsed = await new WebhookReceiver(KEY, SECRET).receive(
      simulator.receiver.requests.find((r) => r.event === 'agent_job_ended')!.body,
      simulator.receiver.requests.find((r) => r.event === 'agent_job_ended')!.headers.authorization,
    );
    expect(parsed.job?.id).toBe(started.job.id);
  });
});
