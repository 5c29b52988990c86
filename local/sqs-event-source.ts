/**
 * Behaves like Lambda's SQS event source mapping, for the local runtime and tests: pollers that
 * scale as Lambda's do (below), each filling a batch of up to `batchSize` messages for at most
 * `maxBatchingWindowSeconds`, invoking the handler with real `SQSEvent` records and deleting only
 * the records the handler did not report in `batchItemFailures`. Failed records are left alone, so
 * they come back after the visibility timeout and the queue's RedrivePolicy moves them to the DLQ
 * after maxReceiveCount, as in AWS.
 */
import { setMaxListeners } from 'node:events';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import { DeleteMessageBatchCommand, Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { ProcessingConfig } from '../lib/config';
import { Logger } from '../lambda/shared/logger';

/**
 * Lambda's scaling of an SQS event source (standard queue, standard mode), as AWS documents it
 * (docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html): "When messages are available,
 * Lambda starts processing five batches at a time with five concurrent invocations of your
 * function. If messages are still available, Lambda increases the number of processes that are
 * reading batches by up to 300 more instances per minute", up to the mapping's maximum
 * concurrency, and "when traffic is low, Lambda scales back the processing to five concurrent
 * batches". So: five pollers (or `maxConcurrency` if lower); one more, at most every 200 ms, while
 * batches come back full (a backlog); an extra poller retires when its long poll finds nothing.
 * The number of pollers decides how many messages share a batch at a given rate, so it decides
 * the SQS requests and invocations per event that the bench's cost model counts.
 */
export const INITIAL_POLLERS = 5;
const SCALE_UP_INTERVAL_MS = 60_000 / 300;

export type SqsHandler = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

/** What the poller did so far: the SQS requests it made, by kind, and its handler invocations. */
export interface SqsEventSourceStats {
  /** Handler invocations (batches). */
  invocations: number;
  /** ReceiveMessage requests that returned messages (billed per event batch). */
  receivesWithMessages: number;
  /** ReceiveMessage requests that returned none (long polls while idle: a fixed cost, not per event). */
  emptyReceives: number;
  /** DeleteMessageBatch requests. */
  deleteBatches: number;
  /** Pollers running now, and the most that ran at once. */
  pollers: number;
  maxPollers: number;
}

export interface SqsEventSourceProps {
  readonly client: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly processing: Pick<ProcessingConfig, 'batchSize' | 'maxBatchingWindowSeconds' | 'maxConcurrency'>;
  readonly handler: SqsHandler;
  readonly region?: string;
  readonly logger?: Logger;
}

/** SQS returns at most 10 messages per ReceiveMessage and long-polls at most 20 s. */
const MAX_RECEIVE = 10;
const MAX_WAIT_SECONDS = 20;
/**
 * Abort listeners one poller's in-flight request may hold on the shared signal at once: the HTTP
 * handler's, and the retry strategy's while it waits to retry a failed request (@smithy/core retry).
 */
const ABORT_LISTENERS_PER_POLLER = 2;
/** Pause between short polls while a batch fills during the last second of its window. */
const SHORT_POLL_PAUSE_MS = 50;

export class SqsEventSource {
  private running = false;
  private readonly abort = new AbortController();
  private readonly pollers = new Set<Promise<void>>();
  private readonly logger: Logger;
  /** Counts so far; tests await conditions on them instead of sleeping, the bench bills them. */
  readonly stats: SqsEventSourceStats = {
    invocations: 0,
    receivesWithMessages: 0,
    emptyReceives: 0,
    deleteBatches: 0,
    pollers: 0,
    maxPollers: 0,
  };
  private lastScaleUpAt = 0;

  /** Handler invocations so far. */
  get invocations(): number {
    return this.stats.invocations;
  }

  constructor(private readonly props: SqsEventSourceProps) {
    if (props.processing.batchSize < 1) throw new Error('batchSize must be at least 1');
    if (props.processing.maxConcurrency < 1) throw new Error('maxConcurrency must be at least 1');
    this.logger = props.logger ?? new Logger({ service: 'sqs-event-source', level: 'warn' });
    // Every poller's requests listen on the one signal that stops them all: with Node's default limit
    // (10) the default maxConcurrency (10) reached it, and one retry printed a MaxListenersExceededWarning.
    setMaxListeners(props.processing.maxConcurrency * ABORT_LISTENERS_PER_POLLER, this.abort.signal);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (let i = 0; i < Math.min(INITIAL_POLLERS, this.props.processing.maxConcurrency); i++) this.addPoller();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    // Pollers may be added while the first ones finish; wait until none is left.
    while (this.pollers.size > 0) await Promise.all([...this.pollers]);
  }

  private addPoller(): void {
    this.stats.pollers++;
    this.stats.maxPollers = Math.max(this.stats.maxPollers, this.stats.pollers);
    const poller: Promise<void> = this.poll().finally(() => {
      this.stats.pollers--;
      this.pollers.delete(poller);
    });
    this.pollers.add(poller);
  }

  private async poll(): Promise<void> {
    const { batchSize, maxConcurrency } = this.props.processing;
    while (this.running) {
      try {
        const messages = await this.collectBatch();
        if (messages.length === 0 && this.stats.pollers > Math.min(INITIAL_POLLERS, maxConcurrency)) return;
        if (
          messages.length >= batchSize &&
          this.stats.pollers < maxConcurrency &&
          Date.now() - this.lastScaleUpAt >= SCALE_UP_INTERVAL_MS
        ) {
          this.lastScaleUpAt = Date.now();
          this.addPoller();
        }
        if (messages.length > 0) await this.invoke(messages);
      } catch (error) {
        if (!this.running) return;
        this.logger.error('poller error', { error });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  private async collectBatch(): Promise<Message[]> {
    const { batchSize, maxBatchingWindowSeconds } = this.props.processing;
    const batch: Message[] = [];
    let deadline: number | undefined;
    while (this.running && batch.length < batchSize) {
      // Before the first message, long-poll; after it, wait only for the rest of the window.
      const remainingMs = deadline === undefined ? MAX_WAIT_SECONDS * 1000 : deadline - Date.now();
      if (remainingMs <= 0) break;
      const output = await this.props.client.send(
        new ReceiveMessageCommand({
          QueueUrl: this.props.queueUrl,
          MaxNumberOfMessages: Math.min(MAX_RECEIVE, batchSize - batch.length),
          WaitTimeSeconds: Math.min(MAX_WAIT_SECONDS, Math.floor(remainingMs / 1000)),
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: this.abort.signal },
      );
      const received = output.Messages ?? [];
      if (received.length > 0) this.stats.receivesWithMessages++;
      else this.stats.emptyReceives++;
      // A long poll that found nothing ends the attempt (the poller may retire, as Lambda's scale back).
      if (received.length === 0 && deadline === undefined) break;
      batch.push(...received);
      if (batch.length > 0 && deadline === undefined) deadline = Date.now() + maxBatchingWindowSeconds * 1000;
      if (batch.length > 0 && maxBatchingWindowSeconds === 0) break;
      // Under a second of window left, ReceiveMessage cannot long-poll (whole seconds only): pause
      // between short polls instead of spinning on empty receives.
      const windowLeftMs = deadline === undefined ? Infinity : deadline - Date.now();
      if (received.length === 0 && windowLeftMs < 1000) {
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(SHORT_POLL_PAUSE_MS, windowLeftMs))));
      }
    }
    return batch;
  }

  private toRecord(message: Message): SQSRecord {
    const messageAttributes: SQSMessageAttributes = {};
    for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
      messageAttributes[name] = {
        stringValue: value.StringValue,
        binaryValue: value.BinaryValue ? Buffer.from(value.BinaryValue).toString('base64') : undefined,
        stringListValues: value.StringListValues ?? [],
        binaryListValues: (value.BinaryListValues ?? []).map((item) => Buffer.from(item).toString('base64')),
        dataType: value.DataType ?? 'String',
      };
    }
    const attributes = message.Attributes ?? {};
    return {
      messageId: message.MessageId ?? '',
      receiptHandle: message.ReceiptHandle ?? '',
      body: message.Body ?? '',
      attributes: {
        ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
        SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
        SenderId: attributes.SenderId ?? 'local',
        ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      },
      messageAttributes,
      md5OfBody: message.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: this.props.queueArn,
      awsRegion: this.props.region ?? this.props.queueArn.split(':')[3] ?? 'us-east-1',
    };
  }

  private async invoke(messages: Message[]): Promise<void> {
    const records = messages.map((message) => this.toRecord(message));
    this.stats.invocations++;
    let response: SQSBatchResponse | void;
    try {
      response = await this.props.handler({ Records: records });
    } catch (error) {
      // Like Lambda: a thrown handler fails the whole batch; every message comes back.
      this.logger.warn('handler failed, whole batch left for redelivery', { error, records: records.length });
      return;
    }
    const failures = response?.batchItemFailures ?? [];
    const ids = new Set(records.map((record) => record.messageId));
    if (failures.some((failure) => !failure.itemIdentifier || !ids.has(failure.itemIdentifier))) {
      // Lambda treats an unknown or empty itemIdentifier as a failure of the whole batch.
      this.logger.warn('invalid batchItemFailures, whole batch left for redelivery');
      return;
    }
    const failed = new Set(failures.map((failure) => failure.itemIdentifier));
    const done = records.filter((record) => !failed.has(record.messageId));
    for (let start = 0; start < done.length; start += MAX_RECEIVE) {
      const chunk = done.slice(start, start + MAX_RECEIVE);
      this.stats.deleteBatches++;
      const output = await this.props.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.props.queueUrl,
          Entries: chunk.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
        }),
      );
      if (output.Failed && output.Failed.length > 0)
        this.logger.warn('some messages could not be deleted', { failed: output.Failed.length });
    }
  }
}
