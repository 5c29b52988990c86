/**
 * Shared by the reconciler's end-to-end tests: the engines and a harness per test (`useHarness`), a proxy between the simulator's webhook sender and
 * the pipeline's front door that can take our endpoint down, make it slow, or fail chosen events
 * (what makes LiveKit drop them), and helpers comparing local state with the simulator's truth.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { EgressStatus } from '@livekit/protocol';
import { parseConfig, PipelineConfig } from '../../lib/config';
import type { LiveKitApi } from '../../lambda/reconcile/livekit-api';
import { METRIC } from '../../lambda/shared/metrics';
import { LocalPipeline, startLocalPipeline } from '../../local/local-pipeline';
import { LiveKitSimulator } from '../../simulator';
import type { LiveKitSimulatorProps } from '../../simulator/livekit-simulator';
import type { WebhookFilter } from '../../simulator/webhook-sender';
import type { WebhookProfileName } from '../../simulator/webhook-sender';
import type { RunReport } from '../../lambda/reconcile/reconciler';
import { Engines, eventually, startEngines } from './e2e';
import { entityState as allItems } from './state';

/**
 * What the proxy does with one request: forward it, answer 503 at once, hang `ms` then 503, or
 * answer 400 (never stored). LiveKit retries a 503 (holding up the event's queue) and treats a 400
 * as delivered: never retried, and nothing behind it waits (a receiver refusing a genuine event).
 * `ack` (the default) answers 200 at once and forwards in the background (after `delayMs`): LiveKit's
 * queue never waits on a loaded test machine (what a receiver that stores in milliseconds looks
 * like to LiveKit), so the only drops are the ones a test makes.
 */
export type ProxyAction =
  | { kind: 'forward'; delayMs?: number }
  | { kind: 'ack'; delayMs?: number }
  | { kind: 'fail' }
  | { kind: 'reject' }
  | { kind: 'slow'; ms: number };

export interface WebhookEventSummary {
  readonly id: string;
  readonly event: string;
  readonly room?: string;
}

export class WebhookProxy {
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  /** Decides per request; default ack. */
  decide: (event: WebhookEventSummary) => ProxyAction = () => ({ kind: 'ack' });
  baseUrl = '';

  constructor(private readonly target: () => string) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    return `${this.baseUrl}/webhook`;
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    let summary: WebhookEventSummary = { id: '', event: '' };
    try {
      const json = JSON.parse(body.toString('utf8'));
      summary = { id: json.id, event: json.event, room: json.room?.name ?? json.egressInfo?.roomName };
    } catch {
      // forwarded as is
    }
    const action = this.decide(summary);
    const answer = (status: number, text = '') => {
      if (res.destroyed || res.writableEnded) return;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
    };
    if (action.kind === 'fail') return answer(503, 'endpoint down');
    if (action.kind === 'reject') return answer(400, 'rejected');
    if (action.kind === 'ack') answer(200);
    if (action.kind === 'slow') {
      await new Promise((resolve) => setTimeout(resolve, action.ms));
      return answer(503, 'too slow');
    }
    if (action.delayMs) await new Promise((resolve) => setTimeout(resolve, action.delayMs));
    try {
      const response = await fetch(this.target(), {
        method: 'POST',
        headers: { 'content-type': String(req.headers['content-type'] ?? ''), authorization: String(req.headers.authorization ?? '') },
        body,
      });
      answer(response.status, await response.text());
    } catch (error) {
      answer(502, String(error));
    }
  }
}

export { eventually };

export interface StateView {
  /** Active rooms: sid → name. */
  readonly rooms: Record<string, string>;
  /** Present participants by room sid: sorted sids. */
  readonly participants: Record<string, string[]>;
  /** Egress id → status. */
  readonly egress: Record<string, string>;
}

/** The simulator's truth, in the same shape as `localView`. */
export function truthView(sim: LiveKitSimulator): StateView {
  const rooms: Record<string, string> = {};
  const participants: Record<string, string[]> = {};
  for (const room of sim.rooms()) {
    rooms[room.sid] = room.name;
    const present = sim
      .participants(room.name)
      .map((p) => p.sid)
      .sort();
    if (present.length > 0) participants[room.sid] = present;
  }
  const egress: Record<string, string> = {};
  for (const info of sim.egress()) egress[info.egressId] = EgressStatus[info.status];
  return { rooms, participants, egress };
}

/** What the state table says (consistent Scan of the base table). */
export async function localView(ddb: DynamoDBDocumentClient, tableName: string): Promise<StateView> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const output = await ddb.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey }));
    items.push(...(output.Items ?? []));
    ExclusiveStartKey = output.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  const rooms: Record<string, string> = {};
  const participants: Record<string, string[]> = {};
  const egress: Record<string, string> = {};
  for (const item of items) {
    if (item.entityType === 'room' && !item.terminal) rooms[String(item.entityId)] = String(item.roomName);
    if (item.entityType === 'participant' && !item.terminal) (participants[String(item.roomSid)] ??= []).push(String(item.entityId));
    if (item.entityType === 'egress') egress[String(item.entityId)] = String(item.status);
  }
  for (const list of Object.values(participants)) list.sort();
  return { rooms, participants, egress };
}

export const sameState = (a: StateView, b: StateView) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));

function sortKeys(view: StateView): unknown {
  const sorted = (record: Record<string, unknown>) => Object.fromEntries(Object.entries(record).sort(([x], [y]) => (x < y ? -1 : 1)));
  return { rooms: sorted(view.rooms), participants: sorted(view.participants), egress: sorted(view.egress) };
}

/** Dropped events by type, from the simulator's delivery record. */
export function droppedByType(sim: LiveKitSimulator): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const delivery of sim.deliveries()) if (delivery.outcome === 'dropped') counts[delivery.type] = (counts[delivery.type] ?? 0) + 1;
  return counts;
}

export const KEYS = { APIreconcile: 'reconcile-secret-of-at-least-32-characters' };
export const [API_KEY, API_SECRET] = Object.entries(KEYS)[0];
const INTERVAL_MS = 1200;
/** The reconciler's time budget per run: below the interval, as production's is (lambda/reconcile/limits.ts). */
const TIME_BUDGET_MS = 800;
/**
 * LiveKit's MaxAge, unscaled: livekit/protocol `webhook/resource_url_notifier.go`
 * (`DefaultResourceURLNotifierConfig`: `MaxAge: 30 * time.Second`). Scaled with the rest (300 ms),
 * it was shorter than this process's own scheduling delays on a loaded machine: an event behind one
 * or two others in its room's queue aged out before the sender reached it, a drop no test made.
 * Every other duration stays scaled (backoff 10..80 ms, so an outage still ends in ~150 ms per
 * event); a test about MaxAge drops sets `maxAgeMs` itself.
 */
const MAX_AGE_MS = 30_000;

export const config: PipelineConfig = parseConfig({
  reconcile: { graceSeconds: 1, requestBudgetPerRun: 200, concurrency: 8 },
  // Events reach the processor at once (no batching window): our own queue latency stays far
  // below the grace period, as the defaults (1 s window, 55 s grace) keep it in production.
  processing: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 4 },
});

export interface Harness {
  sim: LiveKitSimulator;
  proxy: WebhookProxy;
  pipeline: LocalPipeline;
  /** Waits until local state equals the simulator's truth. */
  converged(timeoutMs?: number): Promise<void>;
  missed(eventType?: string): number;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  profile?: WebhookProfileName;
  /** Explicit per-attempt timeout of LiveKit's sender (not scaled). */
  requestTimeoutMs?: number;
  /** LiveKit's MaxAge, in ms of real time; default LiveKit's 30 s (see `MAX_AGE_MS`). */
  maxAgeMs?: number;
  intervalMs?: number;
  /**
   * The reconciler's time budget per run (no LiveKit request starts after it); default 800 ms. A
   * test that starts the runs itself and counts their requests gives it room: on a loaded machine,
   * reading local state alone took most of 800 ms, and the retries then never started.
   */
  timeBudgetMs?: number;
  egressStatusOnRoomEnd?: 'EGRESS_COMPLETE' | 'EGRESS_ABORTED';
  wrapLiveKitApi?: (api: LiveKitApi) => LiveKitApi;
  /** The LiveKit project's webhook filter (what the simulator never sends). */
  webhookFilter?: WebhookFilter;
  /** More simulator settings (page size, ListParticipants for an unknown room, no Redis). */
  simulator?: Pick<LiveKitSimulatorProps, 'apiPageSize' | 'participantsOfUnknownRoom' | 'agentJobEvents' | 'redis'>;
  /** Pipeline config instead of the harness's `config` (e.g. `livekit.webhookEvents`). */
  config?: PipelineConfig;
}

/** The simulator, a proxy in front of our endpoint, and a local pipeline reconciling against the simulator. */
export async function startHarness(engines: Engines, options: HarnessOptions = {}): Promise<Harness> {
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
      maxAgeMs: options.maxAgeMs ?? MAX_AGE_MS,
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      ...(options.webhookFilter ? { filter: options.webhookFilter } : {}),
    },
    ...options.simulator,
    ...(options.egressStatusOnRoomEnd ? { egressStatusOnRoomEnd: options.egressStatusOnRoomEnd } : {}),
  });
  const apiUrl = await sim.start();
  pipeline = await startLocalPipeline({
    config: options.config ?? config,
    keys: KEYS,
    engines,
    logLevel: 'error',
    visibilityTimeoutSeconds: 2,
    livekit: { url: apiUrl, apiKey: API_KEY, apiSecret: API_SECRET, requestTimeoutSeconds: 1 },
    reconcileIntervalMs: options.intervalMs ?? INTERVAL_MS,
    reconcileTimeBudgetMs: options.timeBudgetMs ?? TIME_BUDGET_MS,
    wrapLiveKitApi: options.wrapLiveKitApi,
  });
  const p = pipeline;
  return {
    sim,
    proxy,
    pipeline: p,
    async converged(timeoutMs = 20_000) {
      await eventually(
        async () => [truthView(sim), await localView(p.documentClient, p.tableName)] as const,
        ([truth, local]) => sameState(truth, local),
        timeoutMs,
      );
      // Changes follow the state through the table's stream: wait until they are published too.
      await p.changeFeed.waitUntilIdle(timeoutMs);
    },
    missed: (eventType) => p.metrics.sum(METRIC.missedEvents, 0, eventType ? { EventType: eventType } : {}),
    stop: once(async () => {
      await p.stop();
      await sim.stop();
      await proxy.stop();
    }),
  };
}

/** `fn`, run at most once: later calls get the first call's promise. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= fn());
}

/**
 * The set-up every reconciler end-to-end suite shares: the engines start once for the file
 * (beforeAll) and stop after it (afterAll), after any harness a test left running (a test that
 * times out never reaches its `finally`). Returns the function that starts a harness on them; each
 * test still stops its own harness in `finally`.
 */
export function useHarness(): (options?: HarnessOptions) => Promise<Harness> {
  let engines: Engines | undefined;
  const running = new Set<Harness>();
  beforeAll(async () => {
    engines = await startEngines();
  }, 60_000);
  afterAll(async () => {
    for (const harness of running) await harness.stop().catch(() => undefined);
    await engines?.stop();
  });
  return async (options) => {
    if (!engines) throw new Error('useHarness(): the engines did not start (see beforeAll)');
    const harness = await startHarness(engines, options);
    running.add(harness);
    return harness;
  };
}

/** The reconciler's runs that started at or after `since` (epoch ms). */
export const runsAfter = (pipeline: LocalPipeline, since: number): RunReport[] =>
  pipeline.reconcileRuns.filter((run) => run.startedAt >= since);

/** Runs the reconciler back to back for longer than the grace period, so any false difference would be repaired. */
export async function runsSpanningGrace(pipeline: LocalPipeline, minRuns = 3): Promise<RunReport[]> {
  const reports: RunReport[] = [];
  const started = Date.now();
  for (let i = 0; i < minRuns || Date.now() - started < 1500; i++) reports.push(await pipeline.reconcileNow());
  return reports;
}

/** Entity items (the reconciler's own RECONCILE# bookkeeping left out). */
export const entityState = async (pipeline: LocalPipeline) =>
  // After the change feed caught up, so `pipeline.changes` matches the state read here.
  (await pipeline.changeFeed.waitUntilIdle(), await allItems(pipeline.documentClient, pipeline.tableName)).filter(
    (item) => !String(item.pk).startsWith('RECONCILE#'),
  );
