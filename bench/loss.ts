/**
 * Report 1 (docs/livekit-delivery.md, "What users reported"): one simulated LiveKit Cloud (delivery rules at 0.1x time) sends every
 * event to two receivers side by side: the naive receiver, whose in-band store write takes ~10 s
 * (scaled) on 10 % of events, every time LiveKit tries, and this pipeline (through the local front
 * door). Same simulator, same events, same timings. Then this pipeline's reconciler runs once
 * against the simulator's server API; the naive receiver has nothing of the kind.
 */
import type { LocalPipeline } from '../local/local-pipeline';
import { diffSnapshots, naiveSnapshot, pipelineSnapshot, truthSnapshot } from '../local/truth';
import { seededRandom } from '../simulator/ids';
import { LiveKitSimulator } from '../simulator/livekit-simulator';
import { NaiveReceiver, slowEvents } from '../simulator/naive-receiver';
import { benchConfig, benchReconciler, KEY, SECRET, startBenchPipeline } from './shared';
import { round, Section, sleep } from './types';

async function waitApplied(pipeline: LocalPipeline, eventIds: readonly string[], timeoutMs = 60_000): Promise<number> {
  const pending = new Set(eventIds);
  const deadline = Date.now() + timeoutMs;
  while (pending.size > 0 && Date.now() < deadline) {
    for (const id of [...pending]) if (pipeline.processed.has(id)) pending.delete(id);
    if (pending.size > 0) await sleep(100);
  }
  if (pending.size === 0) await pipeline.changeFeed.waitUntilIdle(Math.max(1000, deadline - Date.now())).catch(() => undefined);
  return eventIds.length - pending.size;
}

export const loss: Section = async (context) => {
  const { quick, log } = context;
  const timeScale = 0.1;
  const roomCount = quick ? 2 : 8;
  const perRoom = quick ? 3 : 6;
  const slowShare = 0.1;
  const random = seededRandom(7);
  // Grace 0: the reconciler runs once the scenario is over and every delivered event is applied,
  // so nothing is in flight; on the schedule the grace period only delays the same repairs.
  const config = benchConfig({ reconcile: { graceSeconds: 0 } });
  const stops: Array<() => Promise<void>> = [];
  try {
    const slow = slowEvents(slowShare, random);
    const naive = new NaiveReceiver({ apiKey: KEY, apiSecret: SECRET, slowMs: 10_000 * timeScale, isSlow: slow.isSlow });
    const naiveUrl = await naive.start();
    stops.push(() => naive.stop());
    const pipeline = await startBenchPipeline(context, { config });
    stops.push(() => pipeline.stop());
    const sim = new LiveKitSimulator({
      keys: { [KEY]: SECRET },
      seed: 7,
      // Ours first: LiveKit stops queueing an event at the first URL whose queue is full
      // (simulator/webhook-sender.ts), so ours gets what it would get alone.
      webhook: { urls: [pipeline.webhookUrl, naiveUrl], profile: 'cloud', timeScale },
    });
    const apiUrl = await sim.start();
    const reconciler = benchReconciler(pipeline, apiUrl, {
      config: config.reconcile,
      timeBudgetMs: 20_000,
    });
    stops.push(() => sim.stop());
    const later = (ms: number) => sleep(ms * timeScale);
    const rooms = Array.from({ length: roomCount }, (_, i) => `room-${i + 1}`);

    // Report 1: rooms fill up, then people come and go.
    for (let n = 0; n < perRoom; n++) {
      for (const room of rooms) {
        sim.join(room, `user-${n + 1}`);
        if (n % 2 === 0) sim.publishTrack(room, `user-${n + 1}`, { source: 'CAMERA' });
      }
      await later(500);
    }
    for (let n = 0; n < perRoom; n += 2) {
      for (const room of rooms) sim.leave(room, `user-${n + 1}`);
      await later(500);
    }
    for (const room of rooms) sim.join(room, 'late-joiner');
    await sim.idle();

    const generated = sim.events().length;
    const deliveries = sim.deliveries();
    const forUrl = (url: string) => deliveries.filter((d) => d.url === url);
    const oursDelivered = forUrl(pipeline.webhookUrl)
      .filter((d) => d.outcome === 'delivered' && (d.status ?? 500) < 300)
      .map((d) => d.eventId);
    const oursApplied = await waitApplied(pipeline, oursDelivered);
    const naiveApplied = new Set(naive.applied().map((a) => a.id)).size;
    const attempts = (url: string) => forUrl(url).reduce((a, d) => a + (d.attempts?.length ?? 0), 0) / generated;
    const dropped = (url: string) => forUrl(url).filter((d) => d.outcome === 'dropped').length;

    const truth = truthSnapshot(sim);
    const size = truth.rooms.length + truth.participants.length;
    const naiveDiff = diffSnapshots(truth, naiveSnapshot(naive, []));
    const oursBefore = diffSnapshots(truth, await pipelineSnapshot({ ddb: pipeline.documentClient, tableName: pipeline.tableName }, []));

    const run = await reconciler.run();
    const repairsApplied = await waitApplied(
      pipeline,
      run.repairs.map((r) => r.id),
    );
    const oursAfter = diffSnapshots(truth, await pipelineSnapshot({ ddb: pipeline.documentClient, tableName: pipeline.tableName }, []));
    const wrong = (d: { missing: readonly string[]; extra: readonly string[] }) => d.missing.length + d.extra.length;
    const correct = (d: { missing: readonly string[]; extra: readonly string[] }) => round(1 - wrong(d) / Math.max(1, size), 3);
    const naiveShare = round(naiveApplied / generated, 3);
    const oursShare = round(oursApplied / generated, 3);
    log(
      `loss: naive applied ${naiveApplied}/${generated}, ours ${oursApplied}/${generated}; state wrong entries naive ${wrong(naiveDiff)}, ours ${wrong(oursBefore)} → ${wrong(oursAfter)} after reconcile`,
    );
    return {
      id: 'loss',
      title: 'Loss under report 1',
      goal: 'ours applies every event LiveKit generated; state matches LiveKit after reconciliation',
      met: oursApplied === generated && wrong(oursAfter) === 0,
      method: `${roomCount} rooms × ${perRoom} participants, LiveKit Cloud rules at ${timeScale}x time, naive in-band store slow (${10_000 * timeScale} ms) on ${slowShare * 100} % of events every attempt; one reconcile run for ours afterwards`,
      figures: {
        summary: `events applied: naive ${round(naiveShare * 100, 1)} %, ours ${round(oursShare * 100, 1)} % before and after reconciliation; state entries correct: naive ${round(correct(naiveDiff) * 100, 1)} %, ours ${round(correct(oursBefore) * 100, 1)} % → ${round(correct(oursAfter) * 100, 1)} %`,
        eventsGenerated: generated,
        naiveEventsApplied: naiveApplied,
        naiveShareApplied: naiveShare,
        naiveDroppedByLiveKit: dropped(naiveUrl),
        naiveAttemptsPerEvent: round(attempts(naiveUrl), 3),
        naiveSlowAttemptsPerEvent: round(
          forUrl(naiveUrl)
            .filter((d) => slow.drawn.get(d.eventId))
            .reduce((a, d) => a + (d.attempts?.length ?? 0), 0) / generated,
          3,
        ),
        slowShareDrawn: round([...slow.drawn.values()].filter(Boolean).length / Math.max(1, slow.drawn.size), 3),
        naiveStateWrongEntries: wrong(naiveDiff),
        naiveStateCorrectShare: correct(naiveDiff),
        oursEventsApplied: oursApplied,
        oursShareAppliedBeforeReconcile: oursShare,
        oursDroppedByLiveKit: dropped(pipeline.webhookUrl),
        oursAttemptsPerEvent: round(attempts(pipeline.webhookUrl), 3),
        oursStateWrongEntriesBeforeReconcile: wrong(oursBefore),
        oursStateCorrectShareBeforeReconcile: correct(oursBefore),
        reconcileRepairs: run.repairs.length,
        reconcileRepairsApplied: repairsApplied,
        reconcileApiCalls: run.apiCallsTotal,
        oursStateWrongEntriesAfterReconcile: wrong(oursAfter),
        oursStateCorrectShareAfterReconcile: correct(oursAfter),
        stateEntries: size,
      },
      tables: {
        sideBySide: {
          columns: ['', 'naive receiver', 'this pipeline'],
          rows: [
            ['events LiveKit generated', generated, generated],
            ['dropped by LiveKit', dropped(naiveUrl), dropped(pipeline.webhookUrl)],
            ['HTTP attempts per event', round(attempts(naiveUrl), 2), round(attempts(pipeline.webhookUrl), 2)],
            ['events applied', `${naiveApplied} (${round(naiveShare * 100, 1)} %)`, `${oursApplied} (${round(oursShare * 100, 1)} %)`],
            ['state vs LiveKit: wrong entries, before reconciliation', wrong(naiveDiff), wrong(oursBefore)],
            [
              'state vs LiveKit: wrong entries, after reconciliation',
              `${wrong(naiveDiff)} (no reconciler)`,
              `${wrong(oursAfter)} (${run.repairs.length} repairs)`,
            ],
          ],
        },
      },
      notes: [
        'The naive receiver applies every delivery it gets, retries included, even after LiveKit stopped waiting; "applied" counts distinct events.',
        `State entries = active rooms + present participants per LiveKit at the end (${size}); wrong = missing or extra in the receiver's state.`,
      ],
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
};
