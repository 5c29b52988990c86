import { DEFAULT_CONFIG, parseConfig, PipelineConfig } from '../lib/config';
import { seededRandom } from '../simulator/ids';
import { LiveKitSimulator } from '../simulator/livekit-simulator';
import { NaiveReceiver, slowEvents } from '../simulator/naive-receiver';
import type { RunReport } from '../lambda/reconcile/reconciler';
import { FaultProxy } from './fault-proxy';
import { LocalPipeline, startLocalPipeline } from './local-pipeline';
import { deliveredTo, diffSnapshots, naiveSnapshot, pipelineSnapshot, SnapshotDiff, truthSnapshot, waitUntilApplied } from './truth';

/**
 * `npm run demo`: one simulated LiveKit (Cloud delivery rules, time scaled) posting every event to
 * two receivers side by side, the naive in-band receiver of report 1 and this pipeline, through
 * the same bad day: a slow store on 10 % of the naive receiver's events, an outage of both
 * endpoints longer than LiveKit's retry window, and a room deleted while its Room Composite egress
 * runs, whose `egress_ended` never gets through (report 2). Then it compares what each receiver
 * believes with what LiveKit knows.
 */
export interface DemoOptions {
  /** Multiplies LiveKit's timings (0.1: 300 ms timeout, 3 s MaxAge). */
  readonly timeScale?: number;
  readonly seed?: number;
  readonly rooms?: number;
  readonly participantsPerRoom?: number;
  /** Progress lines as the scenario plays. */
  readonly narrate?: (line: string) => void;
  readonly config?: PipelineConfig;
  /**
   * Called once the scenario is over and reconciled, before anything stops: lets a caller (a
   * test, the on-call tooling) look at the running pipeline and the simulator's ground truth.
   */
  readonly inspect?: (scene: {
    readonly pipeline: LocalPipeline;
    readonly sim: LiveKitSimulator;
    readonly webhookUrl: string;
  }) => Promise<void>;
}

export interface ReceiverReport {
  readonly delivered: number;
  readonly droppedByLiveKit: number;
  readonly dropReasons: Readonly<Record<string, number>>;
  readonly applied: number;
  readonly diff: SnapshotDiff;
}

export interface PipelineReport extends ReceiverReport {
  /** Repair events the reconciler sent (and the processor applied). */
  readonly repaired: number;
  readonly missedByType: Readonly<Record<string, number>>;
  readonly reconcilerApiCalls: number;
  /** State compared with LiveKit's after the reconciler's repairs (`diff` is before). */
  readonly afterReconcile: SnapshotDiff;
}

export interface DemoReport {
  readonly generated: number;
  readonly byType: Readonly<Record<string, number>>;
  readonly naive: ReceiverReport;
  readonly ours: PipelineReport;
  readonly truth: { readonly rooms: number; readonly participants: number; readonly egress: readonly string[] };
}

const KEY = 'APIdemo';
const SECRET = 'demo-secret-that-is-long-enough-for-hs256';

export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const timeScale = options.timeScale ?? 0.1;
  const say = options.narrate ?? (() => undefined);
  const random = seededRandom(options.seed ?? 42);
  const roomCount = options.rooms ?? 4;
  const perRoom = options.participantsPerRoom ?? 6;
  const config =
    options.config ??
    parseConfig({
      processing: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 4 },
      reconcile: { graceSeconds: Math.max(1, Math.round(DEFAULT_CONFIG.reconcile.graceSeconds * timeScale)) },
    });

  const stops: Array<() => Promise<void>> = [];
  try {
    // Both endpoints go through the same faults; only the naive one is also slow.
    const oursProxy = new FaultProxy();
    const naiveProxy = new FaultProxy();
    const oursUrl = await oursProxy.start();
    const naiveProxyUrl = await naiveProxy.start();
    stops.push(
      () => oursProxy.stop(),
      () => naiveProxy.stop(),
    );

    const sim = new LiveKitSimulator({
      keys: { [KEY]: SECRET },
      seed: options.seed ?? 42,
      // Ours first: LiveKit stops queueing an event at the first URL whose queue is full.
      webhook: { urls: [oursUrl, naiveProxyUrl], profile: 'cloud', timeScale },
    });
    const liveKitUrl = await sim.start();
    stops.push(() => sim.stop());

    // The reconciler runs on demand below (a run a scaled minute apart), not on a timer.
    const pipeline: LocalPipeline = await startLocalPipeline({
      config,
      keys: { [KEY]: SECRET },
      livekit: { url: liveKitUrl, apiKey: KEY, apiSecret: SECRET },
      reconcileIntervalMs: 24 * 3600 * 1000,
      logLevel: 'error',
      logSink: () => undefined,
    });
    stops.push(() => pipeline.stop());
    oursProxy.upstream = pipeline.webhookUrl;

    // Report 1: the in-band work for 10 % of events takes ~10 s, and stays slow when LiveKit retries
    // (the slow part is the event's own work: a locked row, a slow downstream call for that user).
    const naive = new NaiveReceiver({ apiKey: KEY, apiSecret: SECRET, slowMs: 10_000 * timeScale, isSlow: slowEvents(0.1, random).isSlow });
    naiveProxy.upstream = await naive.start();
    stops.push(() => naive.stop());

    const proxies = [oursProxy, naiveProxy];
    const rooms = Array.from({ length: roomCount }, (_, i) => `room-${i + 1}`);
    const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms * timeScale));

    say(`1. ${roomCount} rooms fill up: ${perRoom} participants each, cameras on, a Room Composite egress in ${rooms[0]}`);
    for (let n = 0; n < perRoom; n++) {
      for (const room of rooms) {
        sim.join(room, `user-${n + 1}`);
        if (n % 2 === 0) sim.publishTrack(room, `user-${n + 1}`, { source: 'CAMERA' });
      }
      await later(500);
    }
    const { egressId } = sim.startRoomCompositeEgress(rooms[0]);

    say('2. people come and go; the naive receiver takes 10 s (scaled) on 10 % of events, every time LiveKit tries');
    for (let n = 0; n < perRoom; n += 2) {
      for (const room of rooms.slice(1)) sim.leave(room, `user-${n + 1}`);
      await later(500);
    }

    await sim.idle();

    say("3. outage: both endpoints answer 503 for longer than LiveKit's retry window; rooms keep changing");
    for (const proxy of proxies) proxy.setOutage(true);
    for (const room of rooms.slice(1)) {
      sim.join(room, 'late-joiner');
      sim.leave(room, `user-2`);
    }
    await sim.idle();
    for (const proxy of proxies) proxy.setOutage(false);

    say(`4. report 2: ${rooms[0]} is deleted while its egress runs; egress_ended never gets through`);
    for (const proxy of proxies) proxy.failEvents((event) => event.event === 'egress_ended');
    sim.endRoom(rooms[0]);
    for (const room of rooms.slice(1)) sim.join(room, 'after-outage');
    await sim.idle();

    // Everything LiveKit delivered to us is applied before we compare.
    const state = { ddb: pipeline.documentClient, tableName: pipeline.tableName };
    const oursDelivered = deliveredTo(sim, oursUrl);
    await waitUntilApplied(pipeline, oursDelivered, 60_000);

    const truth = truthSnapshot(sim);
    const egressIds = sim.egress().map((e) => e.egressId);
    const beforeReconcile = diffSnapshots(truth, await pipelineSnapshot(state, egressIds));

    // The grace period is scaled like LiveKit's timings: a difference must be seen in two runs
    // that far apart before it counts as missed.
    say(
      `5. the reconciler runs twice, ${config.reconcile.graceSeconds} s (the scaled grace period) apart, and repairs what LiveKit never delivered`,
    );
    const first = await pipeline.reconcileNow();
    await new Promise((resolve) => setTimeout(resolve, config.reconcile.graceSeconds * 1000 + 100));
    const second = await pipeline.reconcileNow();
    const repairs = [...first.repairs, ...second.repairs];
    await waitUntilApplied(
      pipeline,
      repairs.map((r) => r.id),
      60_000,
    );

    const report: DemoReport = {
      generated: sim.events().length,
      byType: Object.fromEntries(Object.entries(sim.stats().byType).map(([type, stats]) => [type, stats.generated])),
      naive: receiverReport(
        sim,
        naiveProxyUrl,
        new Set(naive.applied().map((a) => a.id)).size,
        diffSnapshots(truth, naiveSnapshot(naive, egressIds)),
      ),
      ours: {
        ...receiverReport(sim, oursUrl, oursDelivered.length, beforeReconcile),
        repaired: repairs.length,
        missedByType: sumMissed([first, second]),
        reconcilerApiCalls: first.apiCallsTotal + second.apiCallsTotal,
        afterReconcile: diffSnapshots(truth, await pipelineSnapshot(state, egressIds)),
      },
      truth: { rooms: truth.rooms.length, participants: truth.participants.length, egress: [egressId] },
    };
    await options.inspect?.({ pipeline, sim, webhookUrl: oursUrl });
    return report;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

function sumMissed(runs: readonly RunReport[]): Record<string, number> {
  const total: Record<string, number> = {};
  for (const run of runs) for (const [type, n] of Object.entries(run.missed)) total[type] = (total[type] ?? 0) + (n ?? 0);
  return total;
}

function receiverReport(sim: LiveKitSimulator, url: string, applied: number, diff: SnapshotDiff): ReceiverReport {
  const deliveries = sim.deliveries().filter((d) => d.url === url);
  const dropped = deliveries.filter((d) => d.outcome === 'dropped');
  const dropReasons: Record<string, number> = {};
  for (const d of dropped) dropReasons[d.dropReason ?? 'unknown'] = (dropReasons[d.dropReason ?? 'unknown'] ?? 0) + 1;
  return {
    delivered: deliveries.filter((d) => d.outcome === 'delivered').length,
    droppedByLiveKit: dropped.length,
    dropReasons,
    applied,
    diff,
  };
}

/** The side-by-side table `npm run demo` prints. */
export function formatDemoReport(report: DemoReport): string {
  const rows: Array<[string, string, string]> = [
    ['events LiveKit generated', String(report.generated), String(report.generated)],
    ['delivered (answered, not retried)', String(report.naive.delivered), String(report.ours.delivered)],
    ['dropped by LiveKit', describeDrops(report.naive), describeDrops(report.ours)],
    ['applied to state', String(report.naive.applied), String(report.ours.applied)],
    ['state vs LiveKit: missing', String(report.naive.diff.missing.length), String(report.ours.diff.missing.length)],
    ['state vs LiveKit: wrong extra', String(report.naive.diff.extra.length), String(report.ours.diff.extra.length)],
    [
      'missed events found by reconciler',
      '-',
      `${report.ours.repaired} (${Object.entries(report.ours.missedByType)
        .map(([t, n]) => `${n} ${t}`)
        .join(', ')})`,
    ],
    ['after reconcile: missing', String(report.naive.diff.missing.length), String(report.ours.afterReconcile.missing.length)],
    ['after reconcile: wrong extra', String(report.naive.diff.extra.length), String(report.ours.afterReconcile.extra.length)],
  ];
  const width = [
    Math.max(...rows.map((r) => r[0].length)),
    Math.max(14, ...rows.map((r) => r[1].length)),
    Math.max(14, ...rows.map((r) => r[2].length)),
  ];
  const line = (cells: readonly string[]) => `| ${cells.map((cell, i) => cell.padEnd(width[i])).join(' | ')} |`;
  const out = [line(['', 'naive receiver', 'this pipeline']), `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)];
  const details = (name: string, diff: SnapshotDiff) =>
    diff.missing.length + diff.extra.length === 0
      ? `${name}: matches LiveKit (${report.truth.rooms} rooms, ${report.truth.participants} participants, egress ${report.truth.egress.join(', ')})`
      : `${name}: missing ${diff.missing.join(', ') || 'nothing'}; wrong ${diff.extra.join(', ') || 'nothing'}`;
  return [
    ...out,
    '',
    details('naive receiver', report.naive.diff),
    details('this pipeline, before reconcile', report.ours.diff),
    details(`this pipeline, after reconcile (${report.ours.reconcilerApiCalls} LiveKit API calls)`, report.ours.afterReconcile),
  ].join('\n');
}

function describeDrops(receiver: ReceiverReport): string {
  const reasons = Object.entries(receiver.dropReasons)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
  return reasons ? `${receiver.droppedByLiveKit} (${reasons})` : '0';
}
