/**
 * The pipeline against event shapes read from LiveKit's source (docs/simulator.md), end to end: the
 * simulator's webhooks (LiveKit's delivery rules, real signatures) through the proxy into the
 * local pipeline (real ingest, fauxqs, the real processor, DynamoDB Local), the reconciler against
 * the simulator's Twirp API over real HTTP.
 * - DeleteRoom under a STARTING egress: LiveKit ends it ABORTED (livekit/egress
 *   pkg/pipeline/controller.go `SendEOS`); a dropped egress_ended is repaired ABORTED, not COMPLETE.
 * - A failing auto egress: egress_ended EGRESS_FAILED without egress id (livekit/livekit
 *   pkg/rtc/egress.go) is applied as an `egress.start_failed` change, never a poison message.
 * - agent_job_* events (LiveKit Cloud only): stored as unknown types and acknowledged; the
 *   reconciler never counts or repairs them.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { RoomServiceClient } from 'livekit-server-sdk';
import { getEventRecord } from '../../../lambda/process/queries';
import type { LocalPipeline } from '../../../local/local-pipeline';
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

/** Messages in a queue, visible or in flight. */
async function depth(pipeline: LocalPipeline, url: string): Promise<number> {
  const attributes = (await pipeline.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
  return Number(attributes.ApproximateNumberOfMessages ?? 0) + Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
}

describe('the pipeline against LiveKit event shapes from its source', () => {
  test('(a) DeleteRoom under a STARTING egress, egress_ended dropped: repaired EGRESS_ABORTED (not COMPLETE), one missed egress_ended', async () => {
    const h = await harness();
    try {
      const { sim, proxy, pipeline } = h;
      sim.join('recording', 'host');
      const { egressId } = sim.startRoomCompositeEgress('recording', { awaitStartSignal: true });
      await sim.idle();
      await h.converged();
      expect((await entityState(pipeline)).find((item) => item.entityId === egressId)).toEqual(
        expect.objectContaining({ status: 'EGRESS_STARTING' }),
      );

      proxy.decide = (event) => (event.event === 'egress_ended' ? { kind: 'fail' } : { kind: 'ack' });
      await new RoomServiceClient(sim.url, API_KEY, API_SECRET).deleteRoom('recording');
      await sim.idle();
      expect(droppedByType(sim)).toEqual({ egress_ended: 1 });
      const lost = sim.parsedEvents('egress_ended')[0].egressInfo!;
      expect(lost).toEqual(expect.objectContaining({ egressId, details: 'End reason: Source closed', error: 'Start signal not received' }));

      await h.converged();
      const egress = (await entityState(pipeline)).find((item) => item.entityId === egressId);
      expect(egress).toEqual(
        expect.objectContaining({
          status: 'EGRESS_ABORTED',
          terminal: true,
          lastEventType: 'egress_ended',
          lastEventId: expect.stringMatching(/^RC_/),
        }),
      );
      expect(h.missed('egress_ended')).toBe(1);
      expect(h.missed()).toBe(1);
      const ended = pipeline.changes.filter((change) => change.changeId === `egress:${egressId}:ended`);
      expect(ended).toEqual([
        expect.objectContaining({
          source: 'reconciler',
          detailType: 'egress.ended',
          new: expect.objectContaining({ status: 'EGRESS_ABORTED' }),
        }),
      ]);
    } finally {
      await h.stop();
    }
  });

  test('(b) a failing auto egress: egress_ended FAILED with no egressId is applied as egress.start_failed, acknowledged, never dead-lettered or repaired', async () => {
    const h = await harness();
    try {
      const { sim, pipeline } = h;
      const room = sim.createRoom('auto-recorded', { failingAutoEgress: { participant: true } });
      sim.join('auto-recorded', 'alice');
      sim.publishTrack('auto-recorded', 'alice');
      await sim.idle();
      expect(sim.stats()).toMatchObject({ dropped: 0 });
      const [failure] = sim.events('egress_ended');
      expect(failure.event.egressInfo?.egressId).toBe('');
      expect(sim.deliveries().find((d) => d.eventId === failure.id)).toEqual(
        expect.objectContaining({ outcome: 'delivered', status: 200 }),
      );

      await pipeline.waitUntilProcessed([failure.id]);
      expect(pipeline.processed.get(failure.id)?.outcome).not.toBe('rejected');
      await h.converged();
      const changes = pipeline.changes.filter((change) => change.detailType === 'egress.start_failed');
      expect(changes).toEqual([
        expect.objectContaining({
          changeId: `room:${room.sid}:egress_start_failed:${failure.id}`,
          eventId: failure.id,
          new: expect.objectContaining({ error: 'no response from servers' }),
        }),
      ]);
      expect((await entityState(pipeline)).filter((item) => item.entityType === 'egress_start_failure')).toEqual([
        expect.objectContaining({ error: 'no response from servers' }),
      ]);
      expect(await depth(pipeline, pipeline.dlqUrl)).toBe(0);

      // Nothing to repair: no egress exists, at LiveKit or here.
      const reports = await runsSpanningGrace(pipeline);
      expect(reports.reduce((sum, report) => sum + report.missedTotal, 0)).toBe(0);
      expect(h.missed()).toBe(0);
      expect(pipeline.changes.filter((change) => change.source === 'reconciler')).toEqual([]);
    } finally {
      await h.stop();
    }
  });

  test('(c) agent_job_started / agent_job_ended: recorded as unknown types and acknowledged; the reconciler never counts or repairs them', async () => {
    const h = await harness({ simulator: { agentJobEvents: true } });
    try {
      const { sim, pipeline } = h;
      sim.join('agents', 'alice');
      sim.join('agents', 'assistant', { kind: 'AGENT' });
      await sim.idle();
      await h.converged();
      sim.leave('agents', 'assistant');
      await sim.idle();
      await h.converged();

      const jobEvents = sim.events().filter((e) => e.type.startsWith('agent_job_'));
      expect(jobEvents.map((e) => e.type)).toEqual(['agent_job_started', 'agent_job_ended']);
      for (const e of jobEvents)
        expect(sim.deliveries().find((d) => d.eventId === e.id)).toEqual(expect.objectContaining({ outcome: 'delivered', status: 200 }));
      await pipeline.waitUntilProcessed(jobEvents.map((e) => e.id));
      for (const e of jobEvents) {
        expect(pipeline.processed.get(e.id)?.outcome).toBe('unknown_type');
        const { record } = await getEventRecord({ ddb: pipeline.documentClient, tableName: pipeline.tableName }, e.id);
        expect(record).toEqual(expect.objectContaining({ outcome: 'unknown_type', eventType: e.type }));
        expect(String(record?.body)).toContain(e.event.job!.id);
      }
      expect(await depth(pipeline, pipeline.dlqUrl)).toBe(0);

      const reports = await runsSpanningGrace(pipeline);
      expect(reports.reduce((sum, report) => sum + report.missedTotal, 0)).toBe(0);
      expect(h.missed()).toBe(0);
      expect(h.missed('agent_job_started') + h.missed('agent_job_ended')).toBe(0);
      expect(pipeline.changes.filter((change) => change.source === 'reconciler')).toEqual([]);
      expect(pipeline.changes.filter((change) => String(change.eventType).startsWith('agent_job'))).toEqual([]);
      await eventually(
        async () => entityState(pipeline),
        (items) =>
          items
            .filter((item) => item.entityType === 'participant' && item.identity === 'assistant')
            .every((item) => item.status === 'LEFT'),
      );
    } finally {
      await h.stop();
    }
  });
});
