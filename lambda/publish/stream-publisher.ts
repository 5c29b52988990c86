/**
 * The publisher: a batch of the state table's stream records in, their changes on the bus, and
 * the checkpoint to retry from out (Lambda's `ReportBatchItemFailures` for streams).
 *
 * Records are read in stream order (per item, DynamoDB keeps write order). All changes of the
 * batch go out in as few PutEvents calls as the limits allow (10 entries, 256 KB). If the bus
 * refuses any, the first record with a refused change is reported, and Lambda retries from it:
 * the records before it are done, the ones after it are retried too (their changes, if the bus
 * took them, go out again under the same change ids, which consumers dedupe). So every change of
 * every stored write is published at least once, in effect once.
 */
import type { DynamoDBBatchResponse } from 'aws-lambda';
import type { ChangePublisher, StateChange } from '../process/publisher';
import { Logger } from '../shared/logger';
import { METRIC, MetricDatum, MetricsSink } from '../shared/metrics';
import { changesFromStreamRecord, StreamRecordLike } from './change-feed';

export interface StreamPublisherOptions {
  readonly bus: ChangePublisher;
  readonly logger: Logger;
  readonly metrics?: MetricsSink;
  /** Milliseconds since the epoch. */
  readonly clock?: () => number;
}

export interface StreamBatchResult extends DynamoDBBatchResponse {
  /** The changes the bus took, in order. */
  readonly published: readonly StateChange[];
}

export interface StreamPublisher {
  publishRecords(records: readonly StreamRecordLike[]): Promise<StreamBatchResult>;
}

export function createStreamPublisher(options: StreamPublisherOptions): StreamPublisher {
  const { bus, logger } = options;
  const clock = options.clock ?? Date.now;

  return {
    async publishRecords(records) {
      const perRecord: { record: StreamRecordLike; changes: StateChange[] }[] = [];
      for (const record of records) {
        let changes: StateChange[];
        try {
          changes = changesFromStreamRecord(record);
        } catch (error) {
          // Our own items only: a record we cannot read is a bug; fail from it so it is retried,
          // bisected and, after the retry limit, sent to the on-failure destination with its position.
          logger.error('stream record unreadable', { error, sequenceNumber: record.dynamodb?.SequenceNumber });
          return respond(perRecord, record);
        }
        perRecord.push({ record, changes });
      }
      return respond(perRecord, undefined);

      async function respond(ready: typeof perRecord, unreadable: StreamRecordLike | undefined): Promise<StreamBatchResult> {
        const changes = ready.flatMap((entry) => entry.changes);
        const result = changes.length > 0 ? await bus.publish(changes) : { failedChangeIds: [] as string[] };
        const failed = new Set(result.failedChangeIds);
        const firstFailed = ready.find((entry) => entry.changes.some((change) => failed.has(change.changeId)))?.record ?? unreadable;
        const published = changes.filter((change) => !failed.has(change.changeId));
        const now = clock();
        // One line per batch at info (log volume is billed per byte); each change id at debug.
        for (const change of published)
          logger.debug('change published', { changeId: change.changeId, detailType: change.detailType, eventId: change.eventId });
        if (published.length > 0) logger.info('changes published', { records: records.length, changes: published.length });
        if (failed.size > 0)
          logger.warn('the bus did not take every change; retrying from the first record with one', {
            failed: [...failed],
            error: result.error,
          });

        const data: MetricDatum[] = [];
        if (published.length > 0) data.push({ name: METRIC.changesPublished, value: published.length });
        if (failed.size > 0) data.push({ name: METRIC.publishFailures, value: failed.size });
        const written = ready
          .filter((entry) => entry.changes.some((change) => !failed.has(change.changeId)))
          .map((entry) => approximateMs(entry.record))
          .filter((ms): ms is number => ms !== undefined);
        if (written.length > 0)
          data.push({ name: METRIC.publishLag, value: Math.max(0, now - Math.min(...written)), unit: 'Milliseconds' });
        if (data.length > 0) options.metrics?.put(data, { records: records.length });

        const sequenceNumber = firstFailed?.dynamodb?.SequenceNumber;
        if (firstFailed && sequenceNumber === undefined) throw new Error('a stream record without a sequence number failed');
        return { batchItemFailures: sequenceNumber ? [{ itemIdentifier: sequenceNumber }] : [], published };
      }
    },
  };
}

function approximateMs(record: StreamRecordLike): number | undefined {
  const value = record.dynamodb?.ApproximateCreationDateTime;
  return value instanceof Date ? value.getTime() : typeof value === 'number' ? value * 1000 : undefined;
}
