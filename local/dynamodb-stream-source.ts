/**
 * Polls a DynamoDB Local table's stream and invokes a handler the way Lambda's DynamoDB Streams
 * event source mapping does: every shard read in order (a child shard only after its parent is
 * drained), batches of up to `batchSize` records, `ReportBatchItemFailures` (retry from the first
 * failed record; the ones before it are checkpointed), bisection of a batch whose invocation
 * throws, a bounded number of retries, then an on-failure callback with the skipped range (on AWS:
 * the SQS on-failure destination, which receives the shard and the sequence numbers, not the
 * records). The local runtime uses it to feed the real publisher; tests use `waitUntilIdle`.
 */
import {
  _Record,
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse } from 'aws-lambda';
import { Logger } from '../lambda/shared/logger';
import type { StreamRecordLike } from '../lambda/publish/change-feed';

export interface StreamFailure {
  readonly shardId: string;
  readonly startSequenceNumber?: string;
  readonly endSequenceNumber?: string;
  readonly batchSize: number;
  readonly reason: string;
  /** The stream the shard belongs to (what Lambda's invocation record names as `streamArn`). */
  readonly streamArn?: string;
  /** When the batch's first and last records were written (their ApproximateCreationDateTime). */
  readonly firstArrival?: Date;
  readonly lastArrival?: Date;
  /** Invocations of the batch, its retries included (Lambda's `approximateInvokeCount`). */
  readonly invocations: number;
  /** The last invocation threw (Lambda's `functionError: Unhandled`) rather than reporting batch item failures. */
  readonly functionError: boolean;
}

export interface DynamoDbStreamSourceOptions {
  /** DynamoDB Local's endpoint (the Streams API is served on the same port). */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  readonly tableName: string;
  readonly handler: (records: StreamRecordLike[]) => Promise<DynamoDBBatchResponse | void>;
  readonly logger: Logger;
  /** Records per invocation (Lambda: 1-10,000). Default 100. */
  readonly batchSize?: number;
  /** Retries of a failing batch before it is skipped (Lambda's `retryAttempts`). Default 10. */
  readonly retryAttempts?: number;
  /** Split a batch whose invocation throws in two and retry the halves. Default true. */
  readonly bisectBatchOnError?: boolean;
  /** Pause between polls of a shard with nothing new (Lambda polls about 4 times a second). Default 250 ms. */
  readonly pollIntervalMs?: number;
  /** Pause before a failed batch is retried; grows linearly with the attempt. Default 100 ms. */
  readonly retryDelayMs?: number;
  /**
   * Batches given up on after `retryAttempts` (on AWS: the on-failure destination). Awaited before
   * the shard moves on; if it fails, the failure is logged with the range (and kept in `failures`).
   */
  readonly onFailure?: (failure: StreamFailure) => void | Promise<void>;
  /** Clients to use instead of building them from `endpoint` (a local function meters its own); destroyed by `stop()`. */
  readonly clients?: { readonly streams: DynamoDBStreamsClient; readonly dynamodb: DynamoDBClient };
}

interface ShardState {
  readonly shard: Shard;
  iterator?: string;
  /** Read from the shard, not yet handled. */
  buffer: _Record[];
  /** The shard is closed (no next iterator) and its buffer handled. */
  done: boolean;
}

export class DynamoDbStreamSource {
  private readonly client: DynamoDBStreamsClient;
  private readonly ddb: DynamoDBClient;
  private readonly shards = new Map<string, ShardState>();
  private streamArn?: string;
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private busy = false;
  private lastDiscovery = 0;
  /** Every failure given up on, oldest first. */
  readonly failures: StreamFailure[] = [];
  /** Handler invocations so far (retries and bisected halves included) and the records they carried. */
  readonly stats = { invocations: 0, records: 0 };

  constructor(private readonly options: DynamoDbStreamSourceOptions) {
    const config = { endpoint: options.endpoint, region: options.region, credentials: options.credentials, maxAttempts: 3 };
    this.client = options.clients?.streams ?? new DynamoDBStreamsClient(config);
    this.ddb = options.clients?.dynamodb ?? new DynamoDBClient(config);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop?.catch(() => undefined);
    this.client.destroy();
    this.ddb.destroy();
  }

  /**
   * Resolves when every record written so far has been handled (or given up on): each open shard
   * read to its current end with an empty buffer, and no batch in flight. Condition-based, for tests.
   */
  async waitUntilIdle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // A pass that began after this call read everything written before it.
    const since = this.passes;
    for (;;) {
      if (this.passes >= since + 2 && this.idleOnce()) return;
      if (Date.now() > deadline) throw new Error(`the stream of ${this.options.tableName} was not drained within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  private idleOnce(): boolean {
    if (this.busy || !this.streamArn) return false;
    for (const state of this.shards.values()) {
      if (state.buffer.length > 0) return false;
      if (state.done || !state.iterator) continue;
      if (!this.emptyReads.has(state.shard.ShardId!)) return false;
    }
    return this.shards.size > 0;
  }

  /** Shards whose last GetRecords returned nothing (cleared when one returns records). */
  private readonly emptyReads = new Set<string>();

  /** Completed passes over the shards. */
  private passes = 0;

  private async run(): Promise<void> {
    const log = this.options.logger;
    while (this.running) {
      try {
        const worked = await this.pollOnce();
        this.passes++;
        if (!worked) await this.pause(this.options.pollIntervalMs ?? 250);
      } catch (error) {
        log.warn('stream poll failed; retrying', { error });
        await this.pause(500);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async discover(): Promise<void> {
    if (!this.streamArn) {
      const table = await this.ddb.send(new DescribeTableCommand({ TableName: this.options.tableName }));
      this.streamArn = table.Table?.LatestStreamArn;
      if (!this.streamArn) throw new Error(`table ${this.options.tableName} has no stream`);
    }
    let exclusiveStartShardId: string | undefined;
    do {
      const output = await this.client.send(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      );
      for (const shard of output.StreamDescription?.Shards ?? []) {
        if (!this.shards.has(shard.ShardId!)) this.shards.set(shard.ShardId!, { shard, buffer: [], done: false });
      }
      exclusiveStartShardId = output.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    this.lastDiscovery = Date.now();
  }

  /** One pass over the shards; true if any record was handled. */
  private async pollOnce(): Promise<boolean> {
    if (!this.streamArn || Date.now() - this.lastDiscovery > 1000) await this.discover();
    let worked = false;
    for (const state of this.shards.values()) {
      if (state.done || !this.running) continue;
      // A child shard waits until its parent is drained: per item, writes stay in order.
      const parent = state.shard.ParentShardId ? this.shards.get(state.shard.ParentShardId) : undefined;
      if (parent && !parent.done) continue;
      const shardId = state.shard.ShardId!;
      if (state.buffer.length === 0) {
        if (state.iterator === undefined) {
          const output = await this.client.send(
            new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
          );
          state.iterator = output.ShardIterator;
        }
        if (!state.iterator) {
          state.done = true;
          continue;
        }
        const output = await this.client.send(
          new GetRecordsCommand({ ShardIterator: state.iterator, Limit: this.options.batchSize ?? 100 }),
        );
        state.buffer.push(...(output.Records ?? []));
        if (output.NextShardIterator) state.iterator = output.NextShardIterator;
        else {
          // Closed: handle what is buffered, then the shard is done (its children may start).
          state.iterator = '';
          if (state.buffer.length === 0) state.done = true;
        }
        if ((output.Records ?? []).length === 0) this.emptyReads.add(shardId);
        else this.emptyReads.delete(shardId);
      }
      if (state.buffer.length > 0) {
        this.busy = true;
        try {
          await this.handle(shardId, state.buffer.splice(0, this.options.batchSize ?? 100));
        } finally {
          this.busy = false;
        }
        worked = true;
        if (state.iterator === '' && state.buffer.length === 0) state.done = true;
      }
    }
    return worked;
  }

  /** Invokes the handler with one batch until it succeeds, bisecting and retrying as Lambda does. */
  private async handle(shardId: string, batch: _Record[]): Promise<void> {
    const log = this.options.logger;
    const maxRetries = this.options.retryAttempts ?? 10;
    const bisect = this.options.bisectBatchOnError ?? true;
    const pending: { records: _Record[]; attempts: number }[] = [{ records: batch, attempts: 0 }];
    while (pending.length > 0) {
      const current = pending[0];
      let failedFrom: number | undefined;
      let thrown: unknown;
      try {
        this.stats.invocations++;
        this.stats.records += current.records.length;
        const response = await this.options.handler(current.records);
        const failures = response?.batchItemFailures ?? [];
        if (failures.length > 0) {
          // Lambda retries from the lowest reported sequence number.
          const indexes = failures.map((failure) =>
            current.records.findIndex((r) => r.dynamodb?.SequenceNumber === failure.itemIdentifier),
          );
          if (indexes.some((index) => index < 0)) thrown = new Error('batchItemFailures named a record not in the batch');
          else failedFrom = Math.min(...indexes);
        }
      } catch (error) {
        thrown = error;
      }
      if (thrown === undefined && failedFrom === undefined) {
        pending.shift();
        continue;
      }
      if (failedFrom !== undefined) current.records = current.records.slice(failedFrom);
      current.attempts++;
      if (thrown !== undefined && bisect && current.records.length > 1) {
        const half = Math.ceil(current.records.length / 2);
        pending.splice(
          0,
          1,
          { records: current.records.slice(0, half), attempts: current.attempts },
          { records: current.records.slice(half), attempts: current.attempts },
        );
        continue;
      }
      if (current.attempts > maxRetries) {
        const first = current.records[0]?.dynamodb;
        const last = current.records[current.records.length - 1]?.dynamodb;
        const failure: StreamFailure = {
          shardId,
          startSequenceNumber: first?.SequenceNumber,
          endSequenceNumber: last?.SequenceNumber,
          batchSize: current.records.length,
          reason: thrown instanceof Error ? thrown.message : 'retry attempts exhausted',
          streamArn: this.streamArn,
          firstArrival: first?.ApproximateCreationDateTime,
          lastArrival: last?.ApproximateCreationDateTime,
          invocations: current.attempts,
          functionError: thrown !== undefined,
        };
        log.error('stream batch given up after its retry attempts', { ...failure });
        this.failures.push(failure);
        try {
          await this.options.onFailure?.(failure);
        } catch (error) {
          log.error('the on-failure destination did not take a stream batch given up on', { ...failure, error });
        }
        pending.shift();
        continue;
      }
      if (!this.running) return;
      await sleep((this.options.retryDelayMs ?? 100) * current.attempts);
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
