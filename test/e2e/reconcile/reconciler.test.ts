/**
 * The reconciler end to end: the LiveKit simulator (webhooks with LiveKit's delivery rules, and its
 * Twirp server API over real HTTP) drives the local pipeline (real ingest, fauxqs, the real
 * processor, DynamoDB Local), with the reconciler running on its timer against the simulator's API.
 * A proxy between the simulator's sender and our front door takes our endpoint down, makes it
 * slow, or fails chosen events: that is what makes LiveKit drop them, and the simulator records
 * exactly which. LiveKit's timings run 100x faster (timeScale 0.01: retries within ~0.2 s), except
 * MaxAge, kept at LiveKit's 30 s unless a test is about it (the harness says why); the proxy
 * answers at once, so no event waits in LiveKit's queues but behind one our endpoint fails. The
 * grace period (1 s) is longer than LiveKit's retries of an event, as it is in production.
 */
import { RoomServiceClient } from 'livekit-server-sdk';
import type { RunReport } from '../../../lambda/reconcile/reconciler';
import { signWebhook } from '../../../simulator/signing';
import { METRIC } from '../../../lambda/shared/metrics';
import {
  API_KEY,
  API_SECRET,
  config,
  droppedByType,
  entityState,
  eventually,
  localView,
  runsAfter,
  useHarness,
} from '../../support/reconcile-harness';

const harness = useHarness();

describe('the reconciler against the LiveKit simulator', () => {
  test("(1) after an outage of our endpoint longer than LiveKit retries, state converges to LiveKit's truth within two runs and every dropped event is counted as missed", async () => {
    // The test starts the runs: the first right after the outage, the second once the grace period
    // has passed since the first. On the 1.2 s timer the two runs' observations were only 200 ms
    // more than the grace apart, less than a run's own duration varies on a loaded machine (the
    // difference then waited for a third run); and the 800 ms budget left rooms unchecked.
    const h = await harness({ intervalMs: 3_600_000, timeBudgetMs: 10_000 });
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
      proxy.decide = () => ({ kind: 'ack' });
      const outageEnded = Date.now();

      const dropped = droppedByType(sim);
      expect(dropped).toEqual({ participant_left: 3, participant_joined: 3, room_started: 1, room_finished: 1 });
      expect(sim.stats().delivered).toBe(8); // only the events from before the outage (3 room_started, 5 participant_joined)

      const first = await pipeline.reconcileNow();
      // Its differences were observed before it ended: wait until the grace period has passed since.
      await eventually(
        () => Date.now(),
        (now) => now - (first.startedAt + first.durationMs) > config.reconcile.graceSeconds * 1000,
        10_000,
        'the grace period since the first run',
      );
      await pipeline.reconcileNow();
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
        [
          'participant.joined',
          'participant.joined',
          'participant.joined',
          'participant.left',
          'participant.left',
          'participant.left',
          'room.finished',
          'room.started',
        ].sort(),
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

  test.each(['EGRESS_COMPLETE', 'EGRESS_ABORTED'] as const)(
    '(2) report 2: Room Composite egress, DeleteRoom, egress_ended dropped: the egress ends %s locally, as LiveKit reports it, and one missed egress_ended is counted',
    async (endStatus) => {
      const h = await harness({ egressStatusOnRoomEnd: endStatus });
      try {
        const { sim, proxy, pipeline } = h;
        sim.join('recording', 'host');
        const { egressId } = sim.startRoomCompositeEgress('recording');
        await sim.idle();
        await h.converged();

        // Our endpoint fails every egress_ended (LiveKit retries, then gives up); the rest arrives.
        proxy.decide = (event) => (event.event === 'egress_ended' ? { kind: 'fail' } : { kind: 'ack' });
        await new RoomServiceClient(sim.url, API_KEY, API_SECRET).deleteRoom('recording');
        await sim.idle();
        expect(droppedByType(sim)).toEqual({ egress_ended: 1 });
        expect(sim.egress({ egressId })[0].status).toBeDefined();

        await h.converged();
        const [egress] = (await entityState(pipeline)).filter((item) => item.entityId === egressId);
        expect(egress).toEqual(
          expect.objectContaining({
            status: endStatus,
            terminal: true,
            lastEventType: 'egress_ended',
            lastEventId: expect.stringMatching(/^RC_/),
          }),
        );
        expect(h.missed('egress_ended')).toBe(1);
        expect(h.missed()).toBe(1);
        const ended = pipeline.changes.filter((change) => change.changeId === `egress:${egressId}:ended`);
        expect(ended).toEqual([expect.objectContaining({ source: 'reconciler', detailType: 'egress.ended' })]);

        // LiveKit's own egress_ended, arriving after the repair, changes nothing more.
        const before = await entityState(pipeline);
        const real = sim.events('egress_ended')[0];
        proxy.decide = () => ({ kind: 'ack' });
        const response = await fetch(pipeline.webhookUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/webhook+json', authorization: await signWebhook(real.body, API_KEY, API_SECRET) },
          body: real.body,
        });
        expect(response.status).toBe(200);
        await pipeline.waitUntilProcessed([real.id]);
        expect(pipeline.processed.get(real.id)).toEqual(expect.objectContaining({ outcome: 'stale' }));
        expect(await entityState(pipeline)).toEqual(before);
        expect(pipeline.changes.filter((change) => change.changeId === `egress:${egressId}:ended`)).toHaveLength(1);
      } finally {
        await h.stop();
      }
    },
  );

  test("(3) report 1: a slow endpoint holds up the room's queue; the joins and leaves LiveKit dropped (retries exhausted, MaxAge) are repaired", async () => {
    // LiveKit Cloud's per-attempt timeout (explicit, 500 ms), so a slow answer is a failed attempt:
    // the slow event holds the room's queue for its 4 attempts and 3 backoffs, at least 2.07 s.
    // MaxAge (explicit, 1.5 s) is shorter than that, so the events behind it age out, and longer
    // than the scheduling delays of a loaded machine, so the events this test expects to be
    // delivered do not (at 300 ms they sometimes did).
    const h = await harness({ profile: 'cloud', requestTimeoutMs: 500, maxAgeMs: 1500 });
    try {
      const { sim, proxy, pipeline } = h;
      for (const identity of ['u1', 'u2', 'u3', 'u4', 'u5', 'u6']) sim.join('standup', identity);
      await sim.idle();
      await h.converged();

      // In-band work makes our answer to the room's next event slow (longer than LiveKit's timeout,
      // on every retry) and it is never stored; the room's later events wait behind it and age out.
      let slowEvent: string | undefined;
      proxy.decide = (event) => {
        if (event.room === 'standup' && (slowEvent ?? event.id) === event.id) {
          slowEvent = event.id;
          return { kind: 'slow', ms: 700 };
        }
        return { kind: 'ack' };
      };
      sim.leave('standup', 'u1');
      sim.leave('standup', 'u2');
      sim.join('standup', 'n1');
      sim.join('standup', 'n2');
      await sim.idle();
      // After the jam: a leave and a join that LiveKit delivers.
      sim.leave('standup', 'u3');
      sim.join('standup', 'n3');
      await sim.idle();

      const reasons = sim
        .deliveries()
        .filter((d) => d.outcome === 'dropped')
        .map((d) => `${d.type}:${d.dropReason}`);
      expect(reasons.sort()).toEqual([
        'participant_joined:max_age',
        'participant_joined:max_age',
        'participant_left:max_age',
        'participant_left:retries_exhausted',
      ]);
      expect(
        sim
          .deliveries()
          .slice(-2)
          .map((d) => d.outcome),
      ).toEqual(['delivered', 'delivered']);

      await h.converged();
      expect(h.missed('participant_joined')).toBe(2);
      expect(h.missed('participant_left')).toBe(2);
      expect(h.missed()).toBe(4);
      const present = Object.values((await localView(pipeline.documentClient, pipeline.tableName)).participants).flat();
      expect(present.sort()).toEqual(
        sim
          .participants('standup')
          .map((p) => p.sid)
          .sort(),
      );
    } finally {
      await h.stop();
    }
  });

  test('(4) no false positives: a busy run with events in flight and nothing dropped reports zero missed', async () => {
    // Runs every 300 ms, so runs see rooms while their events are still on the way.
    const h = await harness({ intervalMs: 300 });
    try {
      const { sim, proxy, pipeline } = h;
      proxy.decide = () => ({ kind: 'ack', delayMs: 40 });
      const rooms = ['r1', 'r2', 'r3', 'r4', 'r5'];
      const present = new Map<string, string[]>(rooms.map((room) => [room, []]));
      // A fixed number of events, paced 25 ms apart (about 3 s, longer on a loaded machine): how many
      // there are does not depend on how fast this machine runs the loop.
      const EVENTS = 120;
      for (let n = 0; n < EVENTS; n++) {
        const room = rooms[n % rooms.length];
        const list = present.get(room)!;
        if (list.length > 2 && n % 3 === 0) sim.leave(room, list.shift()!);
        else {
          const identity = `p${n}`;
          sim.join(room, identity);
          list.push(identity);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await sim.idle();
      await h.converged();
      const settle = Date.now();
      // Let the reconciler look at the settled state at least once more, and at least three times
      // in all (a run takes seconds on a loaded machine: the timer then skips its ticks).
      await eventually(
        async () => [runsAfter(pipeline, settle).length, pipeline.reconcileRuns.length],
        ([after, all]) => after >= 1 && all >= 3,
      );

      expect(sim.stats().dropped).toBe(0);
      expect(sim.stats().generated).toBeGreaterThan(50);
      const runs = pipeline.reconcileRuns;
      expect(runs.length).toBeGreaterThanOrEqual(3);
      // The runs did see differences: events in flight, which resolved within the grace period.
      expect(runs.reduce((sum, run) => sum + run.resolvedInFlight, 0)).toBeGreaterThan(0);
      expect(runs.reduce((sum, run) => sum + run.missedTotal, 0)).toBe(0);
      expect(h.missed()).toBe(0);
      expect(pipeline.metrics.sum(METRIC.repairsSent)).toBe(0);
      expect(pipeline.changes.filter((change) => change.source === 'reconciler')).toEqual([]);
    } finally {
      await h.stop();
    }
  });

  test('(5) the LiveKit API failing (5xx, 429, timeouts, a room vanishing between list calls) causes no false repair', async () => {
    const vanishing = { room: '' };
    const h = await harness({
      intervalMs: 3_600_000, // runs are started by the test
      // Room for every run to reach each room's ListParticipants, retries included: the room that
      // vanishes must be listed for the runs to see ListParticipants disagree with ListRooms.
      timeBudgetMs: 10_000,
      // LiveKit answers an empty list for a room it no longer has: as if the room vanished
      // between ListRooms and ListParticipants, on every run.
      wrapLiveKitApi: (api) => ({
        ...api,
        listParticipants: (room) => (room === vanishing.room ? Promise.resolve([]) : api.listParticipants(room)),
      }),
    });
    try {
      const { sim, pipeline } = h;
      for (const room of ['x1', 'x2', 'x3']) {
        sim.join(room, `${room}-a`);
        sim.join(room, `${room}-b`);
      }
      sim.startRoomCompositeEgress('x2');
      await sim.idle();
      await h.converged();
      const state = await entityState(pipeline);
      vanishing.room = 'x3';

      const reports: RunReport[] = [];
      /** Runs the reconciler back to back for longer than the grace period (so a false difference would be repaired). */
      const runsSpanningGrace = async (beforeEach: (i: number) => void, minRuns: number) => {
        const started = Date.now();
        for (let i = 0; i < minRuns || Date.now() - started < 1500; i++) {
          beforeEach(i);
          reports.push(await pipeline.reconcileNow());
        }
        sim.clearFaults();
      };
      // ListRooms and ListEgress fail on every attempt of every run: rooms must not be read as
      // finished, open egresses not as ended.
      sim.injectFault('ListRooms', { kind: 'error', status: 503 });
      sim.injectFault('ListEgress', { kind: 'error', status: 500 });
      await runsSpanningGrace(() => undefined, 2);
      expect(reports.every((report) => !report.ok && report.remoteRooms === undefined)).toBe(true);

      const faults = [
        // Throttled, then fine: retried with backoff.
        () => sim.failNext('*', 2, { kind: 'error', status: 429, code: 'resource_exhausted' }),
        // A hang longer than the SDK timeout (1 s here), then connection resets.
        () => sim.failNext('ListParticipants', 1, { kind: 'hang' }),
        () => sim.failNext('ListParticipants', 2, { kind: 'reset' }),
        // Half of all calls fail.
        () => sim.failShare('*', 0.5, { kind: 'error', status: 502 }),
      ];
      await runsSpanningGrace((i) => {
        sim.clearFaults();
        faults[i % faults.length]();
      }, faults.length);

      expect(reports.filter((report) => !report.ok).length).toBeGreaterThan(0);
      expect(reports.reduce((sum, report) => sum + report.apiErrorsTotal, 0)).toBeGreaterThan(0);
      expect(reports.some((report) => report.roomsInconsistent.length > 0)).toBe(true);
      expect(reports.reduce((sum, report) => sum + report.missedTotal, 0)).toBe(0);
      expect(h.missed()).toBe(0);
      expect(pipeline.metrics.sum(METRIC.liveKitApiErrors)).toBeGreaterThan(0);
      // A failed run emits no heartbeat.
      expect(pipeline.metrics.sum(METRIC.heartbeat)).toBe(reports.filter((report) => report.ok).length);
      expect(await entityState(pipeline)).toEqual(state);
    } finally {
      await h.stop();
    }
  });
});
