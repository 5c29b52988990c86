/**
 * The reconciler end to end: the LiveKit simulator (webhooks with LiveKit's delivery rules, and its
 * Twirp server API over real HTTP) drives the local pipeline (real ingest, fauxqs, the real
 * processor, DynamoDB Local), with the reconciler running on its timer against the simulator's API.
 * A proxy between the simulator's sender and our front door takes our endpoint down, makes it
 * slow, or fails chosen events: that is what makes LiveKit drop them, and the simulator records
 * exactly which. LiveKit's timings run 100x faster (timeScale 0.01: MaxAge 300 ms); the grace
 * period (1 s) is still longer than that delivery window, as it is in production (120 s vs ~50 s).
 */
import { RoomServiceClient } from 'livekit-server-sdk';
import { parseConfig, PipelineConfig } from '../../lib/config';
import { METRIC } from '../../lambda/shared/metrics';
import type { LiveKitApi } from '../../lambda/reconcile/livekit-api';
import { LocalPipeline, startLocalPipeline } from '../../local/local-pipeline';
import { DynamoDbLocal, startDynamoDbLocal } from '../../local/engines/dynamodb-local';
import { SqsEmulator, startSqsEmulator } from '../../local/engines/sqs-emulator';
import { LiveKitSimulator } from '../../simulator';
import type { WebhookProfileName } from '../../simulator/webhook-sender';
import { signWebhook } from '../support/livekit-signing';
import { entityState } from '../support/state';
import { droppedByType, eventually, localView, sameState, truthView, WebhookProxy } from './support';

const KEYS = { APIreconcile: 'reconcile-secret-of-at-least-32-characters' };
const [API_KEY, API_SECRET] = Object.entries(KEYS)[0];
const INTERVAL_MS = 1200;

const config: PipelineConfig = parseConfig({
  reconcile: { graceSeconds: 1, requestBudgetPerRun: 200, concurrency: 8 },
  // Events reach the processor at once (no batching window): our own queue latency stays far
  // below the grace period, as the defaults (1 s window, 120 s grace) keep it in production.
  processing: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 4 },
});

let engines: { dynamodb: DynamoDbLocal; sqs: SqsEmulator };
beforeAll(async () => {
  const [dynamodb, sqs] = await Promise.all([startDynamoDbLocal(), startSqsEmulator()]);
  engines = { dynamodb, sqs };
}, 60_000);
afterAll(async () => {
  await Promise.all([engines?.dynamodb.stop(), engines?.sqs.stop()]);
});

interface Harness {
  sim: LiveKitSimulator;
  proxy: WebhookProxy;
  pipeline: LocalPipeline;
  /** Waits until local state equals the simulator's truth. */
  converged(timeoutMs?: number): Promise<void>;
  missed(eventType?: string): number;
  stop(): Promise<void>;
}

async function harness(options: {
  profile?: WebhookProfileName;
  /** Explicit per-attempt timeout of LiveKit's sender (not scaled). */
  requestTimeoutMs?: number;
  intervalMs?: number;
  egressStatusOnRoomEnd?: 'EGRESS_COMPLETE' | 'EGRESS_ABORTED';
  wrapLiveKitApi?: (api: LiveKitApi) => LiveKitApi;
} = {}): Promise<Harness> {
  let pipeline: LocalPipeline | undefined;
  const proxy = new WebhookProxy(() => pipeline!.webhookUrl);
  const proxyUrl = await proxy.start();
  const sim = new LiveKitSimulator({
    keys: KEYS,
    // open-source: no per-attempt timeout, so a local pipeline warming up is not mistaken for a
    // slow receiver; tests that want LiveKit Cloud's timeout ask for it.
    webhook: {
      urls: [proxyUrl],
      profile: options.profile ?? 'open-source',
      timeScale: 0.01,
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
    },
    ...(options.egressStatusOnRoomEnd ? { egressStatusOnRoomEnd: options.egressStatusOnRoomEnd } : {}),
  });
  const apiUrl = await sim.start();
  pipeline = await startLocalPipeline({
    config,
    keys: KEYS,
    engines,
    logLevel: 'error',
    visibilityTimeoutSeconds: 2,
    livekit: { url: apiUrl, apiKey: API_KEY, apiSecret: API_SECRET, requestTimeoutSeconds: 1 },
    reconcileIntervalMs: options.intervalMs ?? INTERVAL_MS,
    reconcileTimeBudgetMs: 800,
    wrapLiveKitApi: options.wrapLiveKitApi,
  });
  const p = pipeline;
  return {
    sim,
    proxy,
    pipeline: p,
    async converged(timeoutMs = 20_000) {
      await eventually(async () => [truthView(sim), await localView(p.documentClient, p.tableName)] as const, ([truth, local]) => sameState(truth, local), timeoutMs);
    },
    missed: (eventType) => p.metrics.sum(METRIC.missedEvents, 0, eventType ? { EventType: eventType } : {}),
    async stop() {
      await p.stop();
      await sim.stop();
      await proxy.stop();
    },
  };
}

const runsAfter = (pipeline: LocalPipeline, since: number) => pipeline.reconcileRuns.filter((run) => run.startedAt >= since);

describe('the reconciler against the LiveKit simulator', () => {
  test('(1) after an outage of our endpoint longer than LiveKit retries, state converges to LiveKit\'s truth within two runs and every dropped event is counted as missed', async () => {
    const h = await harness();
    try {
      const { sim, proxy, pipeline } = h;
      sim.join('alpha', 'a1');
      sim.join('alpha', 'a2');
      sim.join('beta', 'b1');
      sim.join('delta', 'd1');
      sim.join('delta', 'd2');
      await sim.idle();
      await h.converged();
      expect(sim.stats().dropped).toBe(0);

      proxy.decide = () => ({ kind: 'fail' });
      sim.leave('alpha', 'a1'); // participant_left
      sim.join('alpha', 'a3'); // participant_joined
      sim.join('beta', 'b2'); // participant_joined
      sim.join('gamma', 'c1'); // room_started, participant_joined
      sim.endRoom('delta'); // participant_left x2, room_finished
      await sim.idle(); // every event sent or dropped: LiveKit gave up on all of them
      proxy.decide = () => ({ kind: 'forward' });
      const outageEnded = Date.now();

      const dropped = droppedByType(sim);
      expect(dropped).toEqual({ participant_left: 3, participant_joined: 3, room_started: 1, room_finished: 1 });
      expect(sim.stats().delivered).toBe(8); // only the events from before the outage (3 room_started, 5 participant_joined)

      await h.converged();
      // Repairs were sent by at most the second run that started after the outage ended.
      const repairRuns = runsAfter(pipeline, 0).filter((run) => run.repairs.length > 0);
      const lastRepairRun = repairRuns[repairRuns.length - 1];
      expect(runsAfter(pipeline, outageEnded).indexOf(lastRepairRun)).toBeLessThanOrEqual(1);

      expect(h.missed()).toBe(8);
      for (const [eventType, count] of Object.entries(dropped)) expect(h.missed(eventType)).toBe(count);
      expect(pipeline.metrics.sum(METRIC.repairsSent)).toBe(8);
      // Repairs are published as coming from the reconciler.
      const reconciled = pipeline.changes.filter((change) => change.source === 'reconciler');
      expect(reconciled.map((change) => change.detailType).sort()).toEqual(
        ['participant.joined', 'participant.joined', 'participant.joined', 'participant.left', 'participant.left', 'participant.left', 'room.finished', 'room.started'].sort(),
      );

      // Later runs find nothing more.
      const before = h.missed();
      const later = await h.pipeline.reconcileNow();
      expect(later.missedTotal).toBe(0);
      expect(h.missed()).toBe(before);
      expect(pipeline.metrics.sum(METRIC.heartbeat)).toBeGreaterThan(0);
    } finally {
      await h.stop();
    }
  });
});
