/**
 * The request budget at scale: 10,000 active rooms in the simulator, 20 ms added to every API call,
 * a budget of 1,000 requests per run (LiveKit Cloud's older documented limit, 1,000 per minute,
 * at one run per minute). Processing 20,000 room_started/participant_joined events through the
 * pipeline would take minutes on DynamoDB Local, so the state table is seeded directly, in bulk,
 * with the items the processor's own state model (`project`) makes from the simulator's events.
 * Repairs still go through the real queue and processor.
 */
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { parseConfig } from '../../lib/config';
import { project } from '../../lambda/process/state-model';
import { parseWebhookEvent } from '../../lambda/process/webhook-event';
import type { LiveKitApi } from '../../lambda/reconcile/livekit-api';
import type { RunReport } from '../../lambda/reconcile/reconciler';
import { METRIC } from '../../lambda/shared/metrics';
import { LocalPipeline, startLocalPipeline } from '../../local/local-pipeline';
import { LiveKitSimulator } from '../../simulator';
import { eventually, localView } from './support';
import { Engines, startEngines } from '../support/e2e';

const KEYS = { APIscale: 'scale-secret-of-at-least-32-characters-long' };
const BUDGET = 1000;
const TIME_BUDGET_MS = 20_000; // what the Lambda gets with a 1-minute interval (lambda/reconcile/limits.ts)

let engines: Engines;
beforeAll(async () => {
  engines = await startEngines();
}, 60_000);
afterAll(async () => {
  await engines?.stop();
});

async function seed(pipeline: LocalPipeline, sim: LiveKitSimulator): Promise<void> {
  const items = sim.events().map((generated) => project(parseWebhookEvent(generated.body) as never, 30 * 86_400).item);
  const chunks: (typeof items)[] = [];
  for (let start = 0; start < items.length; start += 25) chunks.push(items.slice(start, start + 25));
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < chunks.length) {
        let requests: unknown[] | undefined = chunks[next++].map((Item) => ({ PutRequest: { Item } }));
        while (requests && requests.length > 0) {
          const output: { UnprocessedItems?: Record<string, unknown[]> } = await pipeline.documentClient.send(new BatchWriteCommand({ RequestItems: { [pipeline.tableName]: requests as never } }));
          requests = output.UnprocessedItems?.[pipeline.tableName];
        }
      }
    }),
  );
}

async function setup(rooms: number) {
  const sim = new LiveKitSimulator({ keys: KEYS, apiLatencyMs: 20 });
  const apiUrl = await sim.start();
  for (let i = 0; i < rooms; i++) sim.join(`room-${i}`, `user-${i}`);
  /** When each LiveKit call started, to check no call starts after the time budget. */
  const callStarts: number[] = [];
  const pipeline = await startLocalPipeline({
    config: parseConfig({ reconcile: { requestBudgetPerRun: BUDGET, concurrency: 16, graceSeconds: 0 } }),
    keys: KEYS,
    engines,
    // Seeded in bulk, and changes are not what this test is about: no change feed (it would publish every seeded item).
    changeFeed: false,
    logLevel: 'error',
    livekit: { url: apiUrl, ...{ apiKey: Object.keys(KEYS)[0], apiSecret: Object.values(KEYS)[0] } },
    reconcileIntervalMs: 3_600_000, // runs are started by the test
    reconcileTimeBudgetMs: TIME_BUDGET_MS,
    wrapLiveKitApi: (api): LiveKitApi => ({
      listRooms: () => (callStarts.push(Date.now()), api.listRooms()),
      listParticipants: (room) => (callStarts.push(Date.now()), api.listParticipants(room)),
      listEgress: (filter) => (callStarts.push(Date.now()), api.listEgress(filter)),
      listIngress: (filter) => (callStarts.push(Date.now()), api.listIngress(filter)),
    }),
  });
  await seed(pipeline, sim);
  return { sim, pipeline, callStarts, stop: async () => (await pipeline.stop(), await sim.stop()) };
}

const summary = (report: RunReport) => ({
  apiCalls: report.apiCallsTotal,
  byMethod: report.apiCalls,
  roomsVerified: report.roomsVerified.length,
  roomsUnreached: report.roomsUnreached,
  missed: report.missedTotal,
  coveragePercent: Math.round(report.coveragePercent ?? 0),
  durationMs: report.durationMs,
});

test('10,000 rooms: each run stays within the request and time budgets, a missed join/leave in a room whose count changed is repaired in the next run, and every room is verified within rooms/budget runs', async () => {
  const rooms = 10_000;
  const { sim, pipeline, callStarts, stop } = await setup(rooms);
  try {
    const runs: RunReport[] = [];
    const verified = new Set<string>();
    const run = async () => {
      const report = await pipeline.reconcileNow();
      runs.push(report);
      for (const room of report.roomsVerified) verified.add(room.sid);
      expect(report.apiCallsTotal).toBeLessThanOrEqual(BUDGET);
      expect(Math.max(...callStarts.splice(0))).toBeLessThan(report.startedAt + TIME_BUDGET_MS);
      process.stdout.write(`scale run ${runs.length}: ${JSON.stringify(summary(report))}\n`);
      return report;
    };

    const first = await run();
    expect(first.ok).toBe(true);
    expect(first.remoteRooms).toBe(rooms);
    expect(first.apiCalls).toEqual({ ListRooms: 1, ListEgress: 1, ListIngress: 1, ListParticipants: BUDGET - 3 });
    expect(first.missedTotal).toBe(0);

    // LiveKit changes two rooms the reconciler has not verified yet; no webhook reaches us.
    const joined = sim.join('room-9000', 'late-joiner');
    sim.leave('room-9500', 'user-9500');
    const second = await run();
    expect(second.roomsVerified.filter((room) => room.reason === 'count').map((room) => room.name).sort()).toEqual(['room-9000', 'room-9500']);
    expect(second.missed).toEqual({ participant_joined: 1, participant_left: 1 });
    const byName = Object.fromEntries(sim.rooms().map((room) => [room.name, room.sid]));
    await eventually(
      () => localView(pipeline.documentClient, pipeline.tableName),
      (view) => view.participants[byName['room-9000']]?.includes(joined.sid) === true && view.participants[byName['room-9500']] === undefined,
    );

    while (verified.size < rooms && runs.length < 20) await run();
    expect(verified.size).toBe(rooms);
    expect(runs.length).toBeLessThanOrEqual(Math.ceil(rooms / (BUDGET - 3)));
    expect(pipeline.metrics.data.filter((d) => d.name === METRIC.roomCoverage).slice(-1)[0].value).toBe(100);
    expect(runs.reduce((sum, report) => sum + report.missedTotal, 0)).toBe(2);

    // Steady state: every room verified within the full-check period, nothing changed: the run
    // costs its three listings, not one call per room.
    const steady = await run();
    expect(steady.apiCalls).toEqual({ ListRooms: 1, ListEgress: 1, ListIngress: 1 });
    expect(steady.missedTotal).toBe(0);
  } finally {
    await stop();
  }
}, 170_000);

test.each([100, 1000])('%i rooms: API calls per run', async (rooms) => {
  const { pipeline, stop } = await setup(rooms);
  try {
    const report = await pipeline.reconcileNow();
    process.stdout.write(`scale ${rooms} rooms: ${JSON.stringify(summary(report))}\n`);
    expect(report.apiCallsTotal).toBe(Math.min(BUDGET, rooms + 3));
    expect(report.roomsVerified.length).toBe(Math.min(rooms, BUDGET - 3));
    expect(report.missedTotal).toBe(0);
    // The next run, with nothing changed, checks only what is not yet verified.
    const next = await pipeline.reconcileNow();
    expect(next.apiCallsTotal).toBe(3 + Math.max(0, rooms - (BUDGET - 3)));
  } finally {
    await stop();
  }
}, 60_000);
