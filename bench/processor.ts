/**
 * The processor against DynamoDB Local: DynamoDB requests and consumed capacity per event type
 * (ReturnConsumedCapacity=TOTAL), bus requests per event, and processed events per second.
 * `scripts/measure-processing.ts` prints the same measurement on its own.
 *
 * Capacity is what DynamoDB Local reports, computed by DynamoDB's rules (1 WCU per 1 KB written,
 * doubled inside transactions; 0.5/1 RCU per 4 KB read eventually/strongly). Events/s is for this
 * machine and one local engine, as a relative figure between versions, not an AWS prediction.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DEFAULT_CONFIG } from '../lib/config';
import { createProcessor } from '../lambda/process/processor';
import { ChangePublisher, MemoryPublisher, PublishResult, StateChange } from '../lambda/process/publisher';
import type { WebhookEvent } from '../lambda/process/webhook-event';
import { Logger } from '../lambda/shared/logger';
import type { DynamoDbLocal } from '../local/engines/dynamodb-local';
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
import { round, Section } from './types';

interface Usage {
  requests: number;
  wcu: number;
  rcu: number;
  byOperation: Record<string, number>;
}

/** Counts every request and its consumed capacity, against whatever label is current. */
function meter(client: DynamoDBClient) {
  let label = 'setup';
  const usage = new Map<string, Usage>();
  const name = `measureConsumedCapacity-${Math.random().toString(36).slice(2)}`;
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
    { step: 'initialize', name },
  );
  return { usage, setLabel: (next: string) => (label = next), remove: () => client.middlewareStack.remove(name) };
}

/** Counts what EventBridgePublisher would send: one PutEvents per 10 changes of a publish call. */
class CountingPublisher implements ChangePublisher {
  readonly inner = new MemoryPublisher();
  putEventsRequests = 0;
  entries = 0;
  async publish(changes: readonly StateChange[]): Promise<PublishResult> {
    this.putEventsRequests += Math.ceil(changes.length / 10);
    this.entries += changes.length;
    return this.inner.publish(changes);
  }
}

export function roomHistory(i: number, t0: number): WebhookEvent[] {
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

export interface PerEventType {
  readonly eventType: string;
  readonly events: number;
  readonly requestsPerEvent: number;
  readonly wcuPerEvent: number;
  readonly rcuPerEvent: number;
  readonly putEventsPerEvent: number;
  readonly changesPerEvent: number;
  readonly requests: Record<string, number>;
}

export interface ProcessingMeasurement {
  readonly engine: string;
  readonly perEventType: PerEventType[];
  readonly throughput: {
    readonly events: number;
    readonly batchSize: number;
    readonly concurrentBatches: number;
    readonly seconds: number;
    readonly eventsPerSecond: number;
    /** Mean wall time of one batch (what one Lambda invocation would take against this engine). */
    readonly msPerBatch: number;
    readonly retriedRecords: number;
    readonly changesPublished: number;
    readonly putEventsRequests: number;
    readonly wcuPerEvent: number;
    readonly rcuPerEvent: number;
    readonly requestsPerEvent: number;
  };
}

/**
 * 1. Cost per event type, one event at a time, so every request is attributed to it (20 room
 *    histories: start, 3 joins with a track each, egress, 3 leaves, end; ingress; an unknown type;
 *    duplicate deliveries; stale events). 2. Throughput: a shuffled stream of whole room histories,
 *    batched as config says, with `maxConcurrency` batches in flight as the event source runs them.
 */
export async function measureProcessing(engine: DynamoDbLocal, options: { events: number; historyRooms?: number }): Promise<ProcessingMeasurement> {
  const { usage, setLabel, remove } = meter(engine.client);
  const logger = new Logger({ service: 'measure', level: 'error' });
  const t0 = 1_771_351_800;
  const historyRooms = options.historyRooms ?? 20;
  try {
    const costTable = await engine.createStateTable();
    const costPublisher = new CountingPublisher();
    const costProcessor = createProcessor({ ddb: engine.documentClient, tableName: costTable, publisher: costPublisher, logger, eventRecordTtlDays: DEFAULT_CONFIG.processing.eventRecordTtlDays });
    const samples: WebhookEvent[] = [];
    for (let i = 0; i < historyRooms; i++) samples.push(...roomHistory(i, t0 + i * 100));
    for (let i = 0; i < historyRooms; i++) {
      samples.push(ingressEvent('ingress_started', `room-${i}`, `IN_${i}`, `RS_${i}`, t0 + i));
      samples.push(ingressEvent('ingress_ended', `room-${i}`, `IN_${i}`, `RS_${i}`, t0 + i + 60));
      samples.push({ id: `EV_unknown_${i}`, event: 'agent_job_started', createdAt: String(t0 + i) });
    }
    const measured = new Map<string, { events: number; putEvents: number; changes: number }>();
    const run = async (label: string, event: WebhookEvent) => {
      setLabel(label);
      const row = measured.get(label) ?? { events: 0, putEvents: 0, changes: 0 };
      const [putBefore, changesBefore] = [costPublisher.putEventsRequests, costPublisher.entries];
      const [result] = await costProcessor.processRecords([sqsRecord(event)]);
      if (result.error) throw result.error;
      row.events++;
      row.putEvents += costPublisher.putEventsRequests - putBefore;
      row.changes += costPublisher.entries - changesBefore;
      measured.set(label, row);
    };
    for (const event of samples) await run(event.event, event);
    // Redelivery of an applied event, and an event older than the stored state.
    for (const event of samples.filter((e) => e.event === 'participant_joined')) await run('(duplicate delivery)', event);
    for (let i = 0; i < historyRooms; i++) {
      await run('(stale: join after leave)', participantJoined({ sid: `RM_${i}`, name: `room-${i}` }, { sid: `PA_${i}_0`, identity: 'user-0' }, t0 + i * 100 + 2, 1));
    }

    setLabel('throughput');
    const { batchSize, maxConcurrency } = DEFAULT_CONFIG.processing;
    const stream: WebhookEvent[] = [];
    for (let i = 0; stream.length < options.events; i++) stream.push(...roomHistory(100_000 + i, t0 + i));
    stream.length = options.events;
    for (let i = stream.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [stream[i], stream[j]] = [stream[j], stream[i]];
    }
    const batches: WebhookEvent[][] = [];
    for (let i = 0; i < stream.length; i += batchSize) batches.push(stream.slice(i, i + batchSize));
    const tpTable = await engine.createStateTable();
    const publisher = new CountingPublisher();
    const tpProcessor = createProcessor({ ddb: engine.documentClient, tableName: tpTable, publisher, logger, eventRecordTtlDays: DEFAULT_CONFIG.processing.eventRecordTtlDays });
    let next = 0;
    let failed = 0;
    let batchMs = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: maxConcurrency }, async () => {
        while (next < batches.length) {
          const batch = batches[next++];
          const batchStarted = performance.now();
          const response = await tpProcessor.processBatch(batch.map((event) => sqsRecord(event)));
          batchMs += performance.now() - batchStarted;
          failed += response.batchItemFailures.length;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await Promise.all([engine.deleteTable(costTable), engine.deleteTable(tpTable)]).catch(() => undefined);

    const perEventType = [...measured.entries()].map(([eventType, m]) => {
      const row = usage.get(eventType)!;
      return {
        eventType,
        events: m.events,
        requestsPerEvent: round(row.requests / m.events),
        wcuPerEvent: round(row.wcu / m.events),
        rcuPerEvent: round(row.rcu / m.events),
        putEventsPerEvent: round(m.putEvents / m.events),
        changesPerEvent: round(m.changes / m.events),
        requests: Object.fromEntries(Object.entries(row.byOperation).map(([op, n]) => [op.replace(/Command$/, ''), round(n / m.events)])),
      };
    });
    const tp = usage.get('throughput')!;
    return {
      engine: 'DynamoDB Local (in-memory)',
      perEventType,
      throughput: {
        events: stream.length,
        batchSize,
        concurrentBatches: maxConcurrency,
        seconds: round(seconds),
        eventsPerSecond: round(stream.length / seconds, 0),
        msPerBatch: round(batchMs / batches.length, 1),
        retriedRecords: failed,
        changesPublished: publisher.entries,
        putEventsRequests: publisher.putEventsRequests,
        wcuPerEvent: round(tp.wcu / stream.length),
        rcuPerEvent: round(tp.rcu / stream.length),
        requestsPerEvent: round(tp.requests / stream.length),
      },
    };
  } finally {
    remove();
  }
}

export const processor: Section = async ({ quick, engines, log }) => {
  const m = await measureProcessing(engines.dynamodb, { events: quick ? 100 : 1500, historyRooms: quick ? 2 : 20 });
  const tp = m.throughput;
  log(`processor: ${tp.eventsPerSecond} events/s, ${tp.wcuPerEvent} WCU/event, ${tp.requestsPerEvent} DynamoDB requests/event`);
  return {
    id: 'processor',
    title: 'Processor against DynamoDB Local',
    met: null,
    method: `${tp.events} shuffled events of whole room histories in batches of ${tp.batchSize}, ${tp.concurrentBatches} batches in flight; cost per type from one event at a time with ReturnConsumedCapacity=TOTAL`,
    figures: {
      eventsPerSecond: tp.eventsPerSecond,
      msPerBatch: tp.msPerBatch,
      dynamodbRequestsPerEvent: tp.requestsPerEvent,
      wcuPerEvent: tp.wcuPerEvent,
      rcuPerEvent: tp.rcuPerEvent,
      changesPerEvent: round(tp.changesPublished / tp.events),
      putEventsRequestsPerEvent: round(tp.putEventsRequests / tp.events, 3),
      retriedRecords: tp.retriedRecords,
    },
    tables: {
      perEventType: {
        columns: ['event', 'DynamoDB requests', 'WCU', 'RCU', 'changes (bus entries)', 'PutEvents requests', 'calls'],
        rows: m.perEventType.map((r) => [
          r.eventType,
          r.requestsPerEvent,
          r.wcuPerEvent,
          r.rcuPerEvent,
          r.changesPerEvent,
          r.putEventsPerEvent,
          Object.entries(r.requests)
            .map(([op, n]) => `${op}×${n}`)
            .join(' '),
        ]),
      },
    },
    notes: [
      'Events/s is this machine with one DynamoDB Local (Java, in-memory) on the same cores: a relative figure between versions, not an AWS prediction.',
      'Bus: EventBridge bills per entry (change); PutEvents requests = ceil(changes of one event / 10): the processor publishes each event\'s changes in one call, not batched across events.',
      'SQS requests per event are measured end to end (see the end-to-end section), where the real event-source poller runs.',
    ],
  };
};
