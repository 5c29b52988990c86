/**
 * The reconciler against a LiveKit without Redis (`livekit-server --dev`, a single self-hosted
 * node), end to end: the simulator with `redis: false` answers ListEgress and ListIngress as such a
 * server does (Twirp `internal` "egress/ingress not connected (redis required)", livekit/livekit
 * pkg/service/errors.go), its webhooks go through the proxy into the local pipeline (real ingest,
 * fauxqs, the real processor, DynamoDB Local), and the reconciler runs against its API over real
 * HTTP. Every run is ok (a heartbeat), asks each of the two once, repairs rooms and participants
 * as usual, and touches no egress: the one it holds open is not "gone", only unlistable.
 */
import { EgressInfo, EgressStatus, WebhookEvent } from '@livekit/protocol';
import { METRIC } from '../../../lambda/shared/metrics';
import { signWebhook } from '../../../simulator/signing';
import {
  API_KEY,
  API_SECRET,
  droppedByType,
  entityState,
  eventually,
  runsSpanningGrace,
  useHarness,
} from '../../support/reconcile-harness';

const harness = useHarness();

describe('the reconciler against a LiveKit without Redis', () => {
  test('every run is ok with a heartbeat; a dropped participant_left is repaired; the egress and ingress parts are skipped (asked once, no retry, nothing repaired)', async () => {
    const h = await harness({ simulator: { redis: false }, intervalMs: 3_600_000, timeBudgetMs: 10_000 });
    try {
      const { sim, proxy, pipeline } = h;
      sim.join('alpha', 'a1');
      sim.join('alpha', 'a2');
      await sim.idle();
      await h.converged();

      // An egress we hold open (from a webhook of a time the server had Redis): ListEgress cannot
      // list it now, which must not read as "ended".
      const now = BigInt(Date.now()) * 1_000_000n;
      const egressId = 'EG_noredis0001';
      const body = new WebhookEvent({
        event: 'egress_started',
        id: 'EV_noredis00001',
        createdAt: BigInt(Math.floor(Date.now() / 1000)),
        egressInfo: new EgressInfo({
          egressId,
          roomId: sim.rooms()[0].sid,
          roomName: 'alpha',
          status: EgressStatus.EGRESS_ACTIVE,
          startedAt: now,
          updatedAt: now,
        }),
      }).toJsonString();
      const response = await fetch(pipeline.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/webhook+json', authorization: await signWebhook(body, API_KEY, API_SECRET) },
        body,
      });
      expect(response.status).toBe(200);
      await pipeline.waitUntilProcessed(['EV_noredis00001']);

      proxy.decide = (event) => (event.event === 'participant_left' ? { kind: 'fail' } : { kind: 'ack' });
      sim.leave('alpha', 'a1');
      await sim.idle();
      expect(droppedByType(sim)).toEqual({ participant_left: 1 });

      const reports = await runsSpanningGrace(pipeline);
      await eventually(
        async () =>
          (await entityState(pipeline)).find((item) => item.entityId === sim.parsedEvents('participant_left')[0].participant!.sid),
        (participant) => participant?.status === 'LEFT',
        10_000,
        'the repaired participant_left',
      );
      for (const report of reports) {
        expect(report).toEqual(
          expect.objectContaining({ ok: true, errors: [], servicesNotConnected: ['egress', 'ingress'], apiErrorsTotal: 2 }),
        );
        expect([report.apiCalls.ListEgress, report.apiCalls.ListIngress]).toEqual([1, 1]);
      }
      expect(pipeline.metrics.sum(METRIC.heartbeat)).toBe(pipeline.reconcileRuns.length);
      expect(h.missed('participant_left')).toBe(1);
      expect(h.missed()).toBe(1);
      expect((await entityState(pipeline)).find((item) => item.entityId === egressId)).toEqual(
        expect.objectContaining({ status: 'EGRESS_ACTIVE' }),
      );
      expect(pipeline.changes.filter((change) => change.changeId === `egress:${egressId}:ended`)).toEqual([]);
    } finally {
      await h.stop();
    }
  });
});
