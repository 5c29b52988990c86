/**
 * Starts the process function (process.worker.ts) on a worker thread of its own: the stand-in for
 * Lambda's SQS event source polling the event queue, and the real processor behind it, with SQS and
 * DynamoDB clients of its own, as the process Lambda runs apart from ingest and the publisher on
 * AWS. A busy or blocked processor then delays neither ingest's answers nor the main thread.
 *
 * The main thread keeps the runtime's view of the processor's log (`pipeline.processed`: each
 * batch's outcomes, sent without waiting for an answer, so a busy main thread never holds a batch
 * back) and the metrics (status page, tests).
 */
import { join } from 'node:path';
import type { RecordOutcome } from '../../lambda/process/processor';
import type { LogLevel } from '../../lambda/shared/logger';
import type { MetricDatum, MetricsSink } from '../../lambda/shared/metrics';
import type { ProcessingConfig } from '../../lib/config';
import type { SqsEventSourceStats } from '../sqs-event-source';
import { FunctionWorker, startFunctionWorker } from './function-worker';

/** Calls between the process worker and the main thread. */
export const PROCESS = {
  /** worker → main: the outcomes of one batch (not awaited by the worker). */
  batchProcessed: 'batchProcessed',
  /** worker → main: metrics the processor put (not awaited). */
  metrics: 'metrics',
  /** main → worker: the event source's counts so far. */
  stats: 'eventSourceStats',
  /** main → worker: stop polling the queue; the batch in flight finishes. */
  stopPolling: 'stopPolling',
} as const;

/** The process worker's init data (structured clone only). */
export interface ProcessFunctionInit {
  readonly dynamodbEndpoint: string;
  /** fauxqs: the event queue, and S3 on the same port (claim-checked bodies; the bucket is in each pointer). */
  readonly sqsEndpoint: string;
  /** The claim-check bucket pointers must name (`ProcessorOptions.claimCheckBucket`). */
  readonly claimCheckBucket?: string;
  readonly tableName: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly processing: Pick<ProcessingConfig, 'batchSize' | 'maxBatchingWindowSeconds' | 'maxConcurrency' | 'eventRecordTtlDays'>;
  readonly logLevel: LogLevel;
  /** A test's gate (`LocalPipelineOptions.processorGate`). */
  readonly gate?: SharedArrayBuffer;
}

/** One batch's outcomes, as the worker reports them. */
export interface ProcessedBatch {
  readonly outcomes: readonly { readonly eventId: string; readonly outcome: RecordOutcome }[];
  /** Milliseconds since the epoch, when the batch's writes were done. */
  readonly processedAt: number;
}

export interface ProcessFunctionOptions extends ProcessFunctionInit {
  /** The pipeline's name (PIPELINE_NAME): the `pipeline` field of the function's log lines. */
  readonly pipeline: string;
  readonly logSink: (line: string) => void;
  /** Where the processor's metrics go on the main thread. */
  readonly metrics: MetricsSink;
  readonly onBatchProcessed: (batch: ProcessedBatch) => void;
  readonly onCrash: (error: Error) => void;
}

export interface ProcessFunction {
  /** The event source's counts so far (batches, receives, deletes). */
  stats(): Promise<SqsEventSourceStats>;
  /** Stops polling the queue (the batch in flight finishes); the function stays up, idle. */
  stopPolling(): Promise<void>;
  sdkCalls: FunctionWorker<void>['sdkCalls'];
  stop(): Promise<void>;
}

export async function startProcessFunction(options: ProcessFunctionOptions): Promise<ProcessFunction> {
  const { pipeline, logSink, metrics, onBatchProcessed, onCrash, ...init } = options;
  const worker = await startFunctionWorker<ProcessFunctionInit, void>({
    name: 'process',
    background: true,
    entry: join(__dirname, 'process.worker.ts'),
    init,
    pipeline,
    logSink,
    onCrash,
    handlers: {
      [PROCESS.batchProcessed]: (value) => onBatchProcessed(value as ProcessedBatch),
      [PROCESS.metrics]: (value) => {
        const { data, extra } = value as { data: MetricDatum[]; extra?: Record<string, unknown> };
        metrics.put(data, extra);
      },
    },
  });
  return {
    stats: () => worker.call<SqsEventSourceStats>(PROCESS.stats),
    stopPolling: () => worker.call<void>(PROCESS.stopPolling),
    sdkCalls: () => worker.sdkCalls(),
    stop: () => worker.stop(),
  };
}

/**
 * A test's gate over the processor's thread: an `Int32Array` on a `SharedArrayBuffer`, `[closed,
 * blocked]`. While `closed` is 1, the thread blocks (Atomics.wait) as each batch arrives, as a
 * processor stuck on CPU would; `blocked` counts the batches that waited. Open it with
 * `Atomics.store(gate, 0, 0); Atomics.notify(gate, 0)`.
 */
export function waitAtGate(gate: Int32Array | undefined): void {
  if (!gate || Atomics.load(gate, 0) !== 1) return;
  Atomics.add(gate, 1, 1);
  while (Atomics.load(gate, 0) === 1) Atomics.wait(gate, 0, 1);
}
