import { LiveKitSimulator } from '../../../simulator/livekit-simulator';
import { NaiveReceiver, slowEvents } from '../../../simulator/naive-receiver';
import { WebhookSender } from '../../../simulator/webhook-sender';
import { Room, WebhookEvent } from '@livekit/protocol';

const KEY = 'APIdev';
const SECRET = 'dev-secret-that-is-long-enough-for-hs256';
/** LiveKit Cloud at 1/20 speed: 150 ms timeout, 3 retries (50/100/200 ms backoff), MaxAge 1.5 s. */
const TIME_SCALE = 0.05;

describe('NaiveReceiver against the simulator', () => {
  let naive: NaiveReceiver;
  let sim: LiveKitSimulator;

  afterEach(async () => {
    await sim?.stop();
    await naive?.stop();
  });

  it('agrees with the ground truth when every answer is fast', async () => {
    naive = new NaiveReceiver({ apiKey: KEY, apiSecret: SECRET });
    sim = new LiveKitSimulator({
      keys: { [KEY]: SECRET },
      webhook: { urls: [await naive.start()], profile: 'cloud', timeScale: TIME_SCALE },
    });
    sim.join('room-a', 'alice');
    sim.join('room-a', 'bob');
    sim.leave('room-a', 'alice');
    const { egressId } = sim.startRoomCompositeEgress('room-a');
    await sim.idle();

    expect(naive.presentIdentities('room-a')).toEqual(sim.participants('room-a').map((p) => p.identity));
    expect(naive.state().egress.get(egressId)).toBe('EGRESS_ACTIVE');
    expect(sim.stats().dropped).toBe(0);
  });

  it('reproduces report 1: slow in-band work makes LiveKit drop later events of the same room, and the receiver keeps the wrong state', async () => {
    // The store is slow (400 ms, well past the 150 ms timeout) for the joins of two users, on every try.
    naive = new NaiveReceiver({
      apiKey: KEY,
      apiSecret: SECRET,
      slowMs: 8_000 * TIME_SCALE,
      isSlow: (event) => event.event === 'participant_joined' && event.participant!.identity.startsWith('slow-'),
    });
    sim = new LiveKitSimulator({
      keys: { [KEY]: SECRET },
      webhook: { urls: [await naive.start()], profile: 'cloud', timeScale: TIME_SCALE },
    });

    sim.join('room-a', 'alice');
    sim.join('room-a', 'slow-1');
    sim.join('room-a', 'slow-2');
    sim.join('room-a', 'bob');
    sim.join('room-a', 'carol');
    sim.leave('room-a', 'alice');
    sim.join('room-b', 'dave');
    await sim.idle();

    const truth = sim
      .participants('room-a')
      .map((p) => p.identity)
      .sort();
    expect(truth).toEqual(['bob', 'carol', 'slow-1', 'slow-2']);
    // Each slow join is tried 4 times and abandoned (~0.95 s each); the events behind them waited
    // past MaxAge and were never sent.
    expect(sim.webhooks.dropped('retries_exhausted').map((d) => d.type)).toEqual(['participant_joined', 'participant_joined']);
    const aged = sim.webhooks.dropped('max_age');
    expect(aged.map((d) => d.type)).toEqual(['participant_joined', 'participant_joined', 'participant_left']);
    expect(aged.every((d) => d.attempts.length === 0)).toBe(true);

    // The receiver did the slow work anyway (on every retry) but never heard of bob, carol or alice leaving.
    expect(naive.presentIdentities('room-a')).toEqual(['alice', 'slow-1', 'slow-2']);
    expect(naive.applied().filter((a) => a.slow && a.previousReceipts > 0).length).toBeGreaterThan(0);
    // Another room's queue was never held up.
    expect(naive.presentIdentities('room-b')).toEqual(['dave']);
  });

  it('answers 401 to a bad signature, which LiveKit counts as delivered and never retries', async () => {
    naive = new NaiveReceiver({ apiKey: KEY, apiSecret: SECRET });
    const url = await naive.start();
    const sender = new WebhookSender({
      urls: [url],
      apiKey: KEY,
      apiSecret: 'a-different-secret-long-enough-for-hs256',
      timeScale: TIME_SCALE,
    });
    try {
      const event = sender.send(new WebhookEvent({ event: 'room_started', room: new Room({ sid: 'RM_x', name: 'room-a' }) }));
      expect(await sender.settled(event.id)).toMatchObject({ outcome: 'delivered', status: 401 });
      expect(naive.rejected).toBe(1);
      expect(naive.applied()).toEqual([]);
    } finally {
      await sender.stop();
    }
  });
});

describe('slowEvents', () => {
  const event = (id: string) => new WebhookEvent({ id });

  it('draws each event once, so a retry of a slow event is slow again and a fast one stays fast', () => {
    const draws = [0.05, 0.9, 0.05, 0.9];
    let drawn = 0;
    const slow = slowEvents(0.1, () => draws[drawn++]);
    expect(slow.isSlow(event('EV_a'))).toBe(true);
    expect(slow.isSlow(event('EV_b'))).toBe(false);
    expect(slow.isSlow(event('EV_b'))).toBe(false);
    expect(slow.isSlow(event('EV_a'))).toBe(true);
    expect(drawn).toBe(2);
    expect([...slow.drawn]).toEqual([
      ['EV_a', true],
      ['EV_b', false],
    ]);
  });
});
