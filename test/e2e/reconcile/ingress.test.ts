/**
 * Ingress reconciliation end to end, as reconciler.test.ts does it for rooms and egress: the
 * LiveKit simulator (webhooks with LiveKit's delivery rules, ListIngress over real HTTP) drives the
 * local pipeline (real ingest, fauxqs, the real processor, DynamoDB Local), the reconciler runs
 * against the simulator's API, and a proxy in front of our endpoint fails chosen events so that
 * LiveKit drops them (the simulator records exactly which). timeScale 0.01 (retries within ~0.2 s;
 * MaxAge kept at LiveKit's 30 s); grace 1 s.
 */
import { entityInfo } from '../../../lambda/process/state-model';
import { keys } from '../../../contracts/table-schema';
import type { RunReport } from '../../../lambda/reconcile/reconciler';
import type { LocalPipeline } from '../../../local/local-pipeline';
import { signWebhook } from '../../../simulator/signing';
import { METRIC } from '../../../lambda/shared/metrics';
import { API_KEY, API_SECRET, droppedByType, entityState, eventually, useHarness } from '../../support/reconcile-harness';

const harness = useHarness();

/** The stored item of one ingress session, keyed as the processor keys it (ingress id + resource id). */
async function session(pipeline: LocalPipeline, ingressId: string, resourceId: string): Promise<Record<string, unknown> | undefined> {
  const key = keys.ingress(ingressId, resourceId);
  return (await entityState(pipeline)).find((item) => item.pk === key.pk && item.sk === key.sk);
}

/** Delivers LiveKit's own (late) event straight to our endpoint; resolves with what the processor did with it. */
async function deliverLate(pipeline: LocalPipeline, event: { id: string; body: string }) {
  const response = await fetch(pipeline.webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/webhook+json', authorization: await signWebhook(event.body, API_KEY, API_SECRET) },
    body: event.body,
  });
  expect(response.status).toBe(200);
  await pipeline.waitUntilProcessed([event.id]);
  return pipeline.processed.get(event.id);
}

describe('ingress reconciliation against the LiveKit simulator', () => {
  test('(a) an ingress started while our endpoint was down (ingress_started dropped) is repaired as an ACTIVE session; one missed ingress_started; the late real event changes nothing', async () => {
    const h = await harness();
    try {
      const { sim, proxy, pipeline } = h;
      sim.join('studio', 'host');
      await sim.idle();

      proxy.decide = () => ({ kind: 'fail' });
      const ingress = sim.startIngress('studio', { identity: 'obs' }); // ingress_started, participant_joined (INGRESS)
      await sim.idle();
      proxy.decide = () => ({ kind: 'ack' });
      expect(droppedByType(sim)).toEqual({ ingress_started: 1, participant_joined: 1 });
      const resourceId = ingress.state!.resourceId;
      expect(resourceId).toMatch(/^RT_/);

      const repaired = await eventually(
        () => session(pipeline, ingress.ingressId, resourceId),
        (item) => item?.status === 'ACTIVE',
      );
      expect(repaired).toEqual(
        expect.objectContaining({
          entityId: ingress.ingressId,
          sessionId: resourceId,
          status: 'ACTIVE',
          terminal: false,
          lastEventType: 'ingress_started',
          lastEventId: expect.stringMatching(/^RC_/),
        }),
      );
      expect(entityInfo(repaired!)).toEqual(
        expect.objectContaining({
          ingressId: ingress.ingressId,
          roomName: 'studio',
          state: expect.objectContaining({ status: 'ENDPOINT_PUBLISHING', resourceId }),
        }),
      );
      // The INGRESS participant's join was dropped too, and is repaired by the participant diff.
      await eventually(
        async () =>
          (await entityState(pipeline)).some(
            (item) => item.entityType === 'participant' && item.identity === 'obs' && item.status === 'ACTIVE',
          ),
        Boolean,
      );
      await eventually(
        async () => h.missed(),
        (total) => total >= 2,
      );

      expect(h.missed('ingress_started')).toBe(1);
      expect(h.missed('ingress_ended')).toBe(0);
      expect(h.missed()).toBe(2);
      expect(
        pipeline.changes.filter(
          (change) => change.changeId.startsWith(`ingress:${ingress.ingressId}#`) && change.changeId.endsWith(':started'),
        ),
      ).toEqual([expect.objectContaining({ source: 'reconciler', detailType: 'ingress.started' })]);

      // LiveKit's own ingress_started, arriving after the repair, is stale.
      const before = await entityState(pipeline);
      expect(await deliverLate(pipeline, sim.events('ingress_started')[0])).toEqual(expect.objectContaining({ outcome: 'stale' }));
      expect(await entityState(pipeline)).toEqual(before);
      expect(pipeline.changes.filter((change) => change.changeId.startsWith(`ingress:${ingress.ingressId}#${resourceId}:`))).toHaveLength(
        1,
      );

      // Later runs find nothing more.
      const later = await pipeline.reconcileNow();
      expect(later.ok).toBe(true);
      expect(later.missedTotal).toBe(0);
      expect(later.ingressSessionsChecked).toBe(1);
      expect(later.apiCalls.ListIngress).toBe(1);
    } finally {
      await h.stop();
    }
  });

  test("(b) an ingress that ended with ingress_ended dropped is repaired to ENDED with LiveKit's end state; one missed ingress_ended; the late real event changes nothing", async () => {
    const h = await harness();
    try {
      const { sim, proxy, pipeline } = h;
      const ingress = sim.startIngress('studio', { identity: 'obs' });
      const resourceId = ingress.state!.resourceId;
      await sim.idle();
      await eventually(
        () => session(pipeline, ingress.ingressId, resourceId),
        (item) => item?.status === 'ACTIVE',
      );

      proxy.decide = (event) => (event.event === 'ingress_ended' ? { kind: 'fail' } : { kind: 'ack' });
      sim.endIngress(ingress.ingressId); // participant_left (delivered), ingress_ended (dropped)
      await sim.idle();
      proxy.decide = () => ({ kind: 'ack' });
      expect(droppedByType(sim)).toEqual({ ingress_ended: 1 });

      const ended = await eventually(
        () => session(pipeline, ingress.ingressId, resourceId),
        (item) => item?.status === 'ENDED',
      );
      expect(ended).toEqual(
        expect.objectContaining({
          status: 'ENDED',
          terminal: true,
          lastEventType: 'ingress_ended',
          lastEventId: expect.stringMatching(/^RC_/),
        }),
      );
      // The stored session, marked ended as LiveKit reports it (ListIngress still lists this session, INACTIVE).
      const [truth] = sim.ingress({ ingressId: ingress.ingressId });
      const state = (entityInfo(ended!) as { state: Record<string, unknown> }).state;
      expect(state).toEqual(
        expect.objectContaining({ resourceId, endedAt: truth.state!.endedAt.toString(), updatedAt: truth.state!.updatedAt.toString() }),
      );
      expect(state).not.toHaveProperty('status'); // ENDPOINT_INACTIVE, the zero value
      expect((await entityState(pipeline)).filter((item) => item.entityType === 'ingress')).toHaveLength(1);

      await eventually(
        async () => h.missed(),
        (total) => total >= 1,
      );
      expect(h.missed('ingress_ended')).toBe(1);
      expect(h.missed()).toBe(1);
      expect(
        pipeline.changes.filter(
          (change) => change.changeId.startsWith(`ingress:${ingress.ingressId}#`) && change.changeId.endsWith(':ended'),
        ),
      ).toEqual([expect.objectContaining({ source: 'reconciler', detailType: 'ingress.ended' })]);

      // LiveKit's own ingress_ended, arriving after the repair: same version, older createdAt: stale.
      const before = await entityState(pipeline);
      expect(await deliverLate(pipeline, sim.events('ingress_ended')[0])).toEqual(expect.objectContaining({ outcome: 'stale' }));
      expect(await entityState(pipeline)).toEqual(before);
      expect(
        pipeline.changes.filter(
          (change) => change.changeId.startsWith(`ingress:${ingress.ingressId}#`) && change.changeId.endsWith(':ended'),
        ),
      ).toHaveLength(1);

      const later = await pipeline.reconcileNow();
      expect(later.missedTotal).toBe(0);
    } finally {
      await h.stop();
    }
  });

  test('(c) ListIngress failing (5xx on every attempt) causes no ingress repair, and the differences are repaired once it answers again', async () => {
    // Runs are started by the test, each with room for ListIngress's 3 attempts and 2 backoffs:
    // within 800 ms, a loaded machine's local read left time for one attempt only.
    const h = await harness({ intervalMs: 3_600_000, timeBudgetMs: 10_000 });
    try {
      const { sim, proxy, pipeline } = h;
      const ending = sim.startIngress('studio-1', { identity: 'obs-1' });
      await sim.idle();
      await eventually(
        () => session(pipeline, ending.ingressId, ending.state!.resourceId),
        (item) => item?.status === 'ACTIVE',
      );

      // Every ingress event is dropped from now on: one start and one end are missed.
      proxy.decide = (event) => (event.event.startsWith('ingress_') ? { kind: 'fail' } : { kind: 'ack' });
      sim.endIngress(ending.ingressId);
      const starting = sim.startIngress('studio-2', { identity: 'obs-2' });
      await sim.idle();
      expect(droppedByType(sim)).toEqual({ ingress_ended: 1, ingress_started: 1 });
      // Wait for the participant webhooks that were delivered, so the participant diff has nothing to repair.
      await eventually(
        async () =>
          (await entityState(pipeline))
            .filter((item) => item.entityType === 'participant' && item.status === 'ACTIVE')
            .map((item) => item.identity),
        (ids) => JSON.stringify(ids) === '["obs-2"]',
      );
      const state = await entityState(pipeline);

      sim.injectFault('ListIngress', { kind: 'error', status: 503 });
      const reports: RunReport[] = [];
      const started = Date.now();
      for (let i = 0; i < 2 || Date.now() - started < 1500; i++) reports.push(await pipeline.reconcileNow());
      for (const report of reports) {
        expect(report.ok).toBe(false);
        expect(report.errors.some((error) => error.startsWith('ListIngress'))).toBe(true);
        expect(report.apiCalls.ListIngress).toBe(3); // every attempt failed
        expect(report.ingressSessionsChecked).toBeUndefined();
        expect(report.missedTotal).toBe(0);
      }
      expect(h.missed()).toBe(0);
      expect(pipeline.metrics.sum(METRIC.heartbeat)).toBe(0);
      expect(await entityState(pipeline)).toEqual(state);

      // LiveKit answers again: both differences are seen (twice, across the grace period) and repaired.
      sim.clearFaults();
      await eventually(
        async () => (await pipeline.reconcileNow()).ok && h.missed() >= 2,
        Boolean,
        10_000,
        'a successful run with both repairs',
        300,
      );
      expect(h.missed('ingress_started')).toBe(1);
      expect(h.missed('ingress_ended')).toBe(1);
      expect(h.missed()).toBe(2);
      await eventually(
        () => session(pipeline, ending.ingressId, ending.state!.resourceId),
        (item) => item?.status === 'ENDED',
      );
      await eventually(
        () => session(pipeline, starting.ingressId, starting.state!.resourceId),
        (item) => item?.status === 'ACTIVE',
      );
    } finally {
      await h.stop();
    }
  });
});
