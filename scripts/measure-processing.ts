/**
 * Measures the processor against DynamoDB Local: DynamoDB requests and consumed capacity
 * (ReturnConsumedCapacity=TOTAL) per event type, and processed events per second.
 *
 *   npx tsx scripts/measure-processing.ts [--events 3000] [--json]
 *
 * Capacity is what DynamoDB Local reports, computed by DynamoDB's rules (1 WCU per 1 KB written,
 * doubled inside transactions; 0.5/1 RCU per 4 KB read eventually/strongly). Events/s is for this
 * machine and one local engine, as a relative figure between versions, not an AWS prediction.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEFAULT_CONFIG } from '../lib/config';
import { createProcessor } from '../lambda/process/processor';
import { MemoryPublisher } from '../lambda/process/publisher';
import type { WebhookEvent } from '../lambda/process/webhook-event';
import { Logger } from '../lambda/shared/logger';
import { startDynamoDbLocal } from '../local/engines/dynamodb-local';
import {
  egressEvent,
  ingressEvent,
  participantJoined,
  participantLeft,
  roomFinished,
  roomStarted,
  sqsRecord,
  trackPublished,
  trackUnpublished,
} from '../test/support/livekit-events';

interface Usage {
  requests: number;
  wcu: number;
  rcu: number;
  byOperation: Record<string, number>;
}

const args = process.argv.slice(2);
const totalEvents = Number(args[args.indexOf('--events') + 1] || 3000) || 3000;
const jsonOnly = args.includes('--json');

/** Counts every request and its consumed capacity, against whatever label is current. */
function meter(client: DynamoDBClient) {
  let label = 'setup';
  const usage = new Map<string, Usage>();
  client.middlewareStack.add(
    (next, context) => async (input) => {
      const args = input.input as Record<string, unknown>;
      args.ReturnConsumedCapacity = 'TOTAL';
      const output = await next(input);
      const consumed = (output.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
      const entries = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as { WriteCapacityUnits?: number; ReadCapacityUnits?: number; CapacityUnits?: number }[];
      const row = usage.get(label) ?? { requests: 0, wcu: 0, rcu: 0, byOperation: {} };
      row.requests++;
      const operation = context.commandName ?? 'unknown';
      row.byOperation[operation] = (row.byOperation[operation] ?? 0) + 1;
      const writes = /Put|Delete|Update|TransactWrite|BatchWrite/.test(operation);
      for (const entry of entries) {
        const units = entry.CapacityUnits ?? 0;
        row.wcu += entry.WriteCapacityUnits ?? (writes ? units : 0);
        row.rcu += entry.ReadCapacityUnits ?? (writes ? 0 : units);
      }
      usage.set(label, row);
      return output;
    },
    { step: 'initialize', name: 'measureConsumedCapacity' },
  );
  return { usage, setLabel: (next: string) => (label = next) };
}

function roomHistory(i: number, t0: number): WebhookEvent[] {
  const room = { sid: `RM_${i}`, name: `room-${i}` };
  const people = [0, 1, 2].map((p) => ({ sid: `PA_${i}_${p}`, identity: `user-${p}` }));
  const events: WebhookEvent[] = [roomStarted(room, t0)];
  people.forEach((person, p) => {
    events.push(participantJoined(room, person, t0 + 1 + p));
    events.push(trackPublished(room, person, `TR_${i}_${p}`, t0 + 5 + p));
  });
  events.push(egressEvent('egress_started', room, `EG_${i}`, 'EGRESS_STARTING', t0 + 10));
  events.push(egressEvent('egress_updated', room, `EG_${i}`, 'EGRESS_ACTIVE', t0 + 11));
  people.forEach((person, p) => {
    events.push(trackUnpublished(room, person, `TR_${i}_${p}`, t0 + 20 + p));
    events.push(participantLeft(room, person, t0 + 25 + p, 5, undefined, t0 + 1 + p));
  });
  events.push(egressEvent('egress_ended', room, `EG_${i}`, 'EGRESS_COMPLETE', t0 + 30));
  events.push(roomFinished(room, t0 + 31));
  return events;
}

async function main() {
  const engine = await startDynamoDbLocal();
  const { usage, setLabel } = meter(engine.client);
  const logger = new Logger({ service: 'measure', level: 'error' });
  const t0 = 1_771_351_800;
  try {
    // 1. Cost per event type, one event at a time so every request is attributed to it.
    const costTable = await engine.createStateTable();
    const costProcessor = createProcessor({ ddb: engine.documentClient, tableName: costTable, publisher: new MemoryPublisher(), logger, eventRecordTtlDays: DEFAULT_CONFIG.processing.eventRecordTtlDays });
    const samples: WebhookEvent[] = [];
    for (let i = 0; i < 20; i++) samples.push(...roomHistory(i, t0 + i * 100));
    for (let i = 0; i < 20; i++) {
      samples.push(ingressEvent('ingress_started', `room-${i}`, `IN_${i}`, `RS_${i}`, t0 + i));
      samples.push(ingressEvent('ingress_ended', `room-${i}`, `IN_${i}`, `RS_${i}`, t0 + i + 60));
      samples.push({ id: `EV_unknown_${i}`, event: 'agent_job_started', createdAt: String(t0 + i) });
    }
    const measured = new Map<string, number>();
    const run = async (label: string, event: WebhookEvent) => {
      setLabel(label);
      measured.set(label, (measured.get(label) ?? 0) + 1);
      const [result] = await costProcessor.processRecords([sqsRecord(event)]);
      if (result.error) throw result.error;
    };
    for (const event of samples) await run(event.event, event);
    // Redelivery of an applied event, and an event older than the stored state.
    for (const event of samples.filter((e) => e.event === 'participant_joined')) await run('(duplicate delivery)', event);
    for (let i = 0; i < 20; i++) {
      await run('(stale: join after leave)', participantJoined({ sid: `RM_${i}`, name: `room-${i}` }, { sid: `PA_${i}_0`, identity: 'user-0' }, t0 + i * 100 + 2, 1));
    }

    // 2. Throughput: a shuffled stream of whole room histories, SQS-batched as config says, with
    // config.maxConcurrency batches in flight as the event source mapping would run them.
    setLabel('throughput');
    const { batchSize, maxConcurrency } = DEFAULT_CONFIG.processing;
    const stream: WebhookEvent[] = [];
    for (let i = 0; stream.length < totalEvents; i++) stream.push(...roomHistory(1000 + i, t0 + i));
    stream.length = totalEvents;
    for (let i = stream.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [stream[i], stream[j]] = [stream[j], stream[i]];
    }
    const batches: WebhookEvent[][] = [];
    for (let i = 0; i < stream.length; i += batchSize) batches.push(stream.slice(i, i + batchSize));
    const tpTable = await engine.createStateTable();
    const publisher = new MemoryPublisher();
    const tpProcessor = createProcessor({ ddb: engine.documentClient, tableName: tpTable, publisher, logger, eventRecordTtlDays: DEFAULT_CONFIG.processing.eventRecordTtlDays });
    let next = 0;
    let failed = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: maxConcurrency }, async () => {
        while (next < batches.length) {
          const batch = batches[next++];
          const response = await tpProcessor.processBatch(batch.map((event) => sqsRecord(event)));
          failed += response.batchItemFailures.length;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;

    const perEventType = [...measured.entries()].map(([eventType, events]) => {
      const row = usage.get(eventType)!;
      return {
        eventType,
        events,
        requestsPerEvent: +(row.requests / events).toFixed(2),
        wcuPerEvent: +(row.wcu / events).toFixed(2),
        rcuPerEvent: +(row.rcu / events).toFixed(2),
        requests: Object.fromEntries(Object.entries(row.byOperation).map(([op, n]) => [op.replace(/Command$/, ''), +(n / events).toFixed(2)])),
      };
    });
    const tp = usage.get('throughput')!;
    const result = {
      engine: 'DynamoDB Local (in-memory)',
      perEventType,
      throughput: {
        events: stream.length,
        batchSize,
        concurrentBatches: maxConcurrency,
        seconds: +seconds.toFixed(2),
        eventsPerSecond: +(stream.length / seconds).toFixed(0),
        retriedRecords: failed,
        changesPublished: publisher.published.length,
        wcuPerEvent: +(tp.wcu / stream.length).toFixed(2),
        requestsPerEvent: +(tp.requests / stream.length).toFixed(2),
      },
    };
    if (!jsonOnly) {
      console.table(perEventType.map(({ requests, ...row }) => ({ ...row, calls: Object.entries(requests).map(([op, n]) => `${op}×${n}`).join(' ') })));
      console.table([result.throughput]);
    }
    console.log(JSON.stringify(result, null, jsonOnly ? 0 : 2));
  } finally {
    await engine.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
