/**
 * Applies queued webhook events to the state table and publishes the changes they make.
 *
 * Per event: look up its processing record (`EVENT#<id>`); if absent, read the entity, decide
 * (state-model.ts), and commit in ONE TransactWriteItems the entity (conditional on the revision
 * that was read, so concurrent processors cannot regress it), the processing record (conditional
 * on not existing, so an event is applied once) and one outbox item per change. Only then publish
 * the changes and delete their outbox items. A redelivered event whose outbox items are still
 * there publishes them; one whose outbox is empty is a no-op.
 */
import type { SQSBatchItemFailure, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { Logger } from '../shared/logger';
import { EventSource, MESSAGE_ATTRIBUTE } from '../shared/queue-message';
import { ChangePublisher, EventBridgePublisher, StateChange } from './publisher';
import { decide, EntityItem, isKnownEventType, project } from './state-model';
import { keys } from './table-schema';
import { InvalidEventError, parseWebhookEvent, WebhookEvent } from './webhook-event';

export interface ProcessorOptions {
  readonly ddb: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Where changes go. Alternatively pass `eventBridge` + `busName`. */
  readonly publisher?: ChangePublisher;
  readonly eventBridge?: EventBridgeClient;
  readonly busName?: string;
  readonly logger: Logger;
  /** Days processing records, outbox items and tombstones are kept (TTL). */
  readonly eventRecordTtlDays: number;
  /**
   * An outbox item younger than this belongs to an invocation that may still be publishing it;
   * a duplicate delivery leaves it alone (and retries later) instead of publishing it a second
   * time. Use the function timeout: after it, the invocation that wrote the item is gone.
   */
  readonly outboxLeaseSeconds?: number;
  /** Milliseconds since the epoch. */
  readonly clock?: () => number;
  /** Records of one batch processed at once. */
  readonly recordConcurrency?: number;
  /** Read-decide-write rounds before a record lost to concurrent writers is given back to SQS. */
  readonly maxAttempts?: number;
}

export type RecordOutcome =
  /** State written, changes published. */
  | 'applied'
  /** Older than (or equal to) what is stored: recorded, nothing changed. */
  | 'stale'
  /** An event id already processed; its pending changes (if any) published. */
  | 'duplicate'
  /** A type the model does not know: recorded and acknowledged. */
  | 'unknown_type';

export interface RecordResult {
  readonly messageId: string;
  readonly outcome?: RecordOutcome;
  readonly error?: Error;
  readonly changes: readonly StateChange[];
}

export interface Processor {
  processBatch(records: readonly SQSRecord[]): Promise<SQSBatchResponse>;
  /** Like `processBatch`, with each record's outcome (for the local runtime, tests and benchmarks). */
  processRecords(records: readonly SQSRecord[]): Promise<RecordResult[]>;
}

/** The bus did not take every change; their outbox items stay and the record is retried. */
export class PublishFailedError extends Error {
  constructor(readonly changeIds: readonly string[]) {
    super(`the bus rejected ${changeIds.length} change(s): ${changeIds.join(', ')}`);
    this.name = 'PublishFailedError';
  }
}

/** Another delivery of the same event may be publishing its changes right now; retry later. */
export class OutboxLeasedError extends Error {
  constructor(eventId: string) {
    super(`outbox of ${eventId} is being published by another delivery`);
    this.name = 'OutboxLeasedError';
  }
}

/** Concurrent writers kept winning the conditional write; SQS redelivers the record later. */
export class ContentionError extends Error {
  constructor(entityKey: string, attempts: number) {
    super(`gave up on ${entityKey} after ${attempts} conditional write conflicts`);
    this.name = 'ContentionError';
  }
}

interface OutboxItem {
  pk: string;
  sk: string;
  change: StateChange;
  createdAt: number;
  expiresAt: number;
}

const DAY_SECONDS = 86_400;

export function createProcessor(options: ProcessorOptions): Processor {
  const { ddb, tableName, logger } = options;
  const clock = options.clock ?? Date.now;
  const ttlSeconds = options.eventRecordTtlDays * DAY_SECONDS;
  const leaseMs = (options.outboxLeaseSeconds ?? 30) * 1000;
  const maxAttempts = options.maxAttempts ?? 8;
  const recordConcurrency = options.recordConcurrency ?? 10;
  const publisher =
    options.publisher ??
    (options.eventBridge && options.busName ? new EventBridgePublisher(options.eventBridge, options.busName) : undefined);
  if (!publisher) throw new Error('createProcessor needs a publisher, or eventBridge and busName');

  async function readEventRecord(eventId: string): Promise<{ record?: Record<string, unknown>; outbox: OutboxItem[] }> {
    const output = await ddb.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': keys.eventRecord(eventId).pk },
        ConsistentRead: true,
      }),
    );
    const items = output.Items ?? [];
    return {
      record: items.find((item) => item.sk === 'EVENT'),
      outbox: items.filter((item) => String(item.sk).startsWith('OUTBOX#')) as OutboxItem[],
    };
  }

  async function publishAndClear(eventId: string, changes: readonly StateChange[], log: Logger): Promise<void> {
    if (changes.length === 0) return;
    const { failedChangeIds } = await publisher!.publish(changes);
    const failed = new Set(failedChangeIds);
    // Deleted only after the bus took them: a crash in between republishes them (same change id).
    await Promise.all(
      changes
        .filter((change) => !failed.has(change.changeId))
        .map((change) => ddb.send(new DeleteCommand({ TableName: tableName, Key: keys.outbox(eventId, change.changeId) }))),
    );
    for (const change of changes) {
      if (!failed.has(change.changeId)) log.info('change published', { changeId: change.changeId, detailType: change.detailType });
    }
    if (failed.size > 0) throw new PublishFailedError([...failed]);
  }

  async function finishDuplicate(eventId: string, outbox: OutboxItem[], log: Logger): Promise<RecordResult['changes']> {
    if (outbox.length === 0) {
      log.info('duplicate event ignored');
      return [];
    }
    const now = clock();
    if (outbox.some((item) => item.createdAt * 1000 > now - leaseMs)) throw new OutboxLeasedError(eventId);
    log.warn('publishing changes left in the outbox', { changeIds: outbox.map((item) => item.change.changeId) });
    const changes = outbox.map((item) => item.change);
    await publishAndClear(eventId, changes, log);
    return changes;
  }

  async function recordOnly(record: Record<string, unknown>): Promise<boolean> {
    try {
      await ddb.send(new PutCommand({ TableName: tableName, Item: record, ConditionExpression: 'attribute_not_exists(pk)' }));
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  async function applyEvent(event: WebhookEvent, source: EventSource, log: Logger): Promise<{ outcome: RecordOutcome; changes: readonly StateChange[] }> {
    const recordKey = keys.eventRecord(event.id);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) await sleep(Math.random() * 20 * attempt);
      const existing = await readEventRecord(event.id);
      if (existing.record) return { outcome: 'duplicate', changes: await finishDuplicate(event.id, existing.outbox, log) };

      const nowMs = clock();
      const nowSeconds = Math.floor(nowMs / 1000);
      const recordBase = {
        ...recordKey,
        eventId: event.id,
        eventType: event.event,
        source,
        processedAt: new Date(nowMs).toISOString(),
        expiresAt: nowSeconds + ttlSeconds,
      };

      if (!isKnownEventType(event.event)) {
        // Kept whole, so a type LiveKit adds later can be replayed once the model knows it.
        if (await recordOnly({ ...recordBase, outcome: 'unknown_type', body: JSON.stringify(event) })) {
          log.warn('unknown event type recorded');
          return { outcome: 'unknown_type', changes: [] };
        }
        continue;
      }

      const projection = project(event as WebhookEvent & { event: typeof event.event }, ttlSeconds);
      const entityKey = { pk: projection.item.pk, sk: projection.item.sk };
      const current = (await ddb.send(new GetCommand({ TableName: tableName, Key: entityKey, ConsistentRead: true }))).Item as EntityItem | undefined;
      const decision = decide(current, projection);
      const occurredAt = event.createdAt !== undefined ? new Date(Number(event.createdAt) * 1000).toISOString() : new Date(nowMs).toISOString();
      const changes: StateChange[] = decision.changes.map((draft) => ({ ...draft, eventId: event.id, eventType: event.event, source, occurredAt }));
      const record = {
        ...recordBase,
        outcome: decision.write ? 'applied' : 'stale',
        entityPk: entityKey.pk,
        rev: projection.item.rev,
        changeIds: changes.map((change) => change.changeId),
      };

      if (!decision.write) {
        // Safe without a transaction: a stored revision only ever grows, so stale stays stale.
        if (await recordOnly(record)) {
          log.info('stale event recorded', { storedRev: current?.rev, eventRev: projection.item.rev });
          return { outcome: 'stale', changes: [] };
        }
        continue;
      }

      const outboxItems: OutboxItem[] = changes.map((change) => ({
        ...keys.outbox(event.id, change.changeId),
        change,
        createdAt: nowSeconds,
        expiresAt: nowSeconds + ttlSeconds,
      }));
      try {
        await ddb.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: tableName,
                  Item: projection.item,
                  ...(current
                    ? { ConditionExpression: 'rev = :rev', ExpressionAttributeValues: { ':rev': current.rev } }
                    : { ConditionExpression: 'attribute_not_exists(pk)' }),
                },
              },
              { Put: { TableName: tableName, Item: record, ConditionExpression: 'attribute_not_exists(pk)' } },
              ...outboxItems.map((item) => ({ Put: { TableName: tableName, Item: item } })),
            ],
          }),
        );
      } catch (error) {
        if (isRetryableCancellation(error)) {
          log.debug('conditional write lost to a concurrent writer, retrying', { attempt });
          continue;
        }
        throw error;
      }
      log.info('event applied', { entity: entityKey.pk, status: projection.item.status, changeIds: record.changeIds });
      await publishAndClear(event.id, changes, log);
      return { outcome: 'applied', changes };
    }
    throw new ContentionError(keys.eventRecord(event.id).pk, maxAttempts);
  }

  async function processRecord(record: SQSRecord): Promise<RecordResult> {
    let log = logger.child({ messageId: record.messageId });
    try {
      const event = parseWebhookEvent(record.body);
      log = log.child({ eventId: event.id, eventType: event.event, room: roomNameOf(event) });
      const source: EventSource = record.messageAttributes?.[MESSAGE_ATTRIBUTE.source]?.stringValue === 'reconciler' ? 'reconciler' : 'webhook';
      const { outcome, changes } = await applyEvent(event, source, log);
      return { messageId: record.messageId, outcome, changes };
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      if (err instanceof InvalidEventError) {
        // Retried until maxReceiveCount moves it to the DLQ, where someone can look at it.
        log.error('event can never be processed', { error: err, permanent: true, receiveCount: record.attributes?.ApproximateReceiveCount });
      } else {
        log.warn('event not processed, SQS will redeliver it', { error: err, permanent: false, receiveCount: record.attributes?.ApproximateReceiveCount });
      }
      return { messageId: record.messageId, error: err, changes: [] };
    }
  }

  async function processRecords(records: readonly SQSRecord[]): Promise<RecordResult[]> {
    const results: RecordResult[] = new Array(records.length);
    let next = 0;
    const worker = async () => {
      while (next < records.length) {
        const index = next++;
        results[index] = await processRecord(records[index]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(recordConcurrency, records.length) }, worker));
    return results;
  }

  return {
    processRecords,
    async processBatch(records) {
      const results = await processRecords(records);
      const batchItemFailures: SQSBatchItemFailure[] = results
        .filter((result) => result.error)
        .map((result) => ({ itemIdentifier: result.messageId }));
      return { batchItemFailures };
    },
  };
}

/** A cancelled transaction is worth another read-decide-write round only for these reasons. */
function isRetryableCancellation(error: unknown): boolean {
  if ((error as Error)?.name !== 'TransactionCanceledException') return false;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((reason) => reason.Code === 'ConditionalCheckFailed' || reason.Code === 'TransactionConflict');
}

function roomNameOf(event: WebhookEvent): string | undefined {
  return event.room?.name ?? event.egressInfo?.roomName ?? event.ingressInfo?.roomName;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
