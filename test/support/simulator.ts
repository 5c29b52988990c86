/**
 * The set-up the simulator's own tests share: a real receiver for its webhooks per test, the
 * simulator started on demand (with the test's settings), both stopped after each test.
 */
import { LiveKitSimulator, LiveKitSimulatorProps } from '../../simulator/livekit-simulator';
import { TestReceiver } from './test-receiver';

/** A webhook body as the receiver got it, parsed as plain JSON (no protobuf library in between): loosely typed on purpose. */
export type Json = Record<string, any>;

export interface SimulatorUnderTest {
  /** This test's receiver (a new one per test). */
  readonly receiver: TestReceiver;
  /**
   * Starts the simulator: the suite's defaults, then `props`. Webhooks go to the receiver at 1/100
   * of LiveKit's delays (MaxAge unscaled) unless `props.webhook` says otherwise. Returns it and its server API's URL.
   */
  start(props?: Partial<LiveKitSimulatorProps>): Promise<{ sim: LiveKitSimulator; url: string }>;
  /** Bodies the receiver got, in order of arrival, of one event type or all. */
  readonly received: (type?: string) => Json[];
}

/** Registers beforeEach/afterEach: a receiver per test; every simulator a test started is stopped after it. */
export function useSimulator(defaults: LiveKitSimulatorProps): SimulatorUnderTest {
  let receiver: TestReceiver | undefined;
  const started: LiveKitSimulator[] = [];
  beforeEach(async () => {
    receiver = new TestReceiver();
    await receiver.start();
  });
  afterEach(async () => {
    await Promise.all(started.splice(0).map((sim) => sim.stop()));
    await receiver?.stop();
  });
  const current = (): TestReceiver => {
    if (!receiver) throw new Error('useSimulator(): no receiver outside a test');
    return receiver;
  };
  return {
    get receiver() {
      return current();
    },
    async start(props = {}) {
      // LiveKit's delays at 1/100, except MaxAge, kept at LiveKit's 30 s: these tests check what the
      // simulator sends, not when LiveKit gives up (test/unit/simulator/webhook-sender.test.ts does),
      // and a scaled MaxAge (300 ms) dropped expected events whenever the machine was loaded.
      const webhook = { urls: [current().url], timeScale: 0.01, maxAgeMs: 30_000, ...defaults.webhook, ...props.webhook };
      const sim = new LiveKitSimulator({ ...defaults, ...props, webhook });
      started.push(sim);
      return { sim, url: await sim.start() };
    },
    received: (type) =>
      current()
        .requests.map((r) => JSON.parse(r.body) as Json)
        .filter((body) => type === undefined || body.event === type),
  };
}
