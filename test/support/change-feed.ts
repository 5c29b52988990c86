/**
 * The change feed as tests see it: the processor writes, the table's stream is polled by the same
 * stream source the local runtime uses, and the real publisher puts the changes on an in-memory
 * bus. `withFeed` returns a processor whose `processBatch`/`processRecords` resolve only after the
 * feed has published every change of what they wrote, so tests can assert on `published` at once.
 */
import type { SQSRecord } from 'aws-lambda';
import { Processor } from '../../lambda/process/processor';
import { ChangePublisher, MemoryPublisher, PublishResult, StateChange } from '../../lambda/process/publisher';
import { createStreamPublisher } from '../../lambda/publish/stream-publisher';
import { Logger } from '../../lambda/shared/logger';
import type { MetricsSink } from '../../lambda/shared/metrics';
import { DynamoDbStreamSource, DynamoDbStreamSourceOptions } from '../../local/dynamodb-stream-source';
import { DynamoDbLocal, LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/engines/dynamodb-local';

export interface ChangeFeed {
  readonly published: StateChange[];
  readonly source: DynamoDbStreamSource;
  /** Resolves when every record written so far has been published (or given up on). */
  drain(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const feeds: ChangeFeed[] = [];

/** Stops every feed started by `startChangeFeed` (call from afterEach/afterAll). */
export async function stopChangeFeeds(): Promise<void> {
  await Promise.all(feeds.splice(0).map((feed) => feed.stop()));
}

/** Polls `tableName`'s stream into the real publisher and `bus` (default: an in-memory bus). */
export function startChangeFeed(
  engine: DynamoDbLocal,
  tableName: string,
  options: { bus?: ChangePublisher; logger?: Logger; metrics?: MetricsSink } & Partial<
    Pick<DynamoDbStreamSourceOptions, 'retryAttempts' | 'retryDelayMs' | 'batchSize'>
  > = {},
): ChangeFeed {
  const memory = new MemoryPublisher();
  const bus: ChangePublisher = options.bus
    ? {
        async publish(changes): Promise<PublishResult> {
          const result = await options.bus!.publish(changes);
          const failed = new Set(result.failedChangeIds);
          memory.published.push(...changes.filter((change) => !failed.has(change.changeId)));
          return result;
        },
      }
    : memory;
  const logger = options.logger ?? new Logger({ service: 'feed-test', level: 'error', sink: () => undefined });
  const publisher = createStreamPublisher({ bus, logger, ...(options.metrics ? { metrics: options.metrics } : {}) });
  const source = new DynamoDbStreamSource({
    endpoint: engine.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    tableName,
    handler: (records) => publisher.publishRecords(records),
    logger,
    pollIntervalMs: 20,
    retryAttempts: options.retryAttempts,
    retryDelayMs: options.retryDelayMs ?? 20,
    batchSize: options.batchSize,
  });
  source.start();
  const feed: ChangeFeed = {
    published: memory.published,
    source,
    drain: (timeoutMs) => source.waitUntilIdle(timeoutMs),
    stop: () => source.stop(),
  };
  feeds.push(feed);
  return feed;
}

/** `processor`, but each call resolves after the feed has published what it wrote. */
export function withFeed(processor: Processor, feed: ChangeFeed): Processor {
  return {
    async processBatch(records: readonly SQSRecord[]) {
      const response = await processor.processBatch(records);
      await feed.drain();
      return response;
    },
    async processRecords(records: readonly SQSRecord[]) {
      const results = await processor.processRecords(records);
      await feed.drain();
      return results;
    },
  };
}
