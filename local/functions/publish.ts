/**
 * Starts the publish function (publish.worker.ts) on a worker thread of its own: the stand-in for
 * Lambda's DynamoDB Streams event source polling the state table's stream, and the real stream
 * publisher behind it, as the publish Lambda runs apart on AWS.
 *
 * The bus stays on the main thread (locally there is no EventBridge: `pipeline.changes` and the
 * printed lines are the bus). The worker hands each PutEvents batch to it by message and waits for
 * its answer, the change ids the bus did not take, exactly as the publisher waits for EventBridge:
 * a bus that refuses changes makes the publisher retry from the first record with one.
 *
 * As on AWS, a stream batch given up on after its retries goes to the publisher's DLQ as Lambda's
 * invocation record (scripts/oncall/invocation-record.ts), and the function can be invoked
 * directly with a DynamoDB stream event (`invoke`, served as Lambda's Invoke API by
 * local/lambda-invoke-api.ts), which runs the same publisher against the same bus.
 */
import { join } from 'node:path';
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { ChangePublisher, StateChange } from '../../lambda/process/publisher';
import type { LogLevel } from '../../lambda/shared/logger';
import type { MetricDatum, MetricsSink } from '../../lambda/shared/metrics';
import type { StreamFailure } from '../dynamodb-stream-source';
import { serializeError, SerializedError } from './channel';
import { FunctionWorker, startFunctionWorker } from './function-worker';

/** Calls between the publish worker and the main thread. */
export const PUBLISH = {
  /** worker → main: put these changes on the bus; answered with a `BusAnswer`. */
  putEvents: 'putEvents',
  /** worker → main: metrics the publisher put (not awaited). */
  metrics: 'metrics',
  /** main → worker: resolve once every record written so far is published (or given up on). */
  waitUntilIdle: 'waitUntilIdle',
  /** main → worker: the batches given up on so far. */
  failures: 'failures',
  /** main → worker: the stream source's counts (invocations, records). */
  stats: 'streamStats',
  /** main → worker: run the publisher on this DynamoDB stream event (Lambda's Invoke); answered with its batch response. */
  invoke: 'invoke',
} as const;

/** What the publish function's stream source did so far. */
export interface StreamSourceStats {
  /** Publisher invocations (stream batches, retries included). */
  readonly invocations: number;
  /** Stream records those invocations carried. */
  readonly records: number;
}

/** The bus's answer to one batch, as it crosses threads. */
export interface BusAnswer {
  readonly failedChangeIds: readonly string[];
  readonly error?: SerializedError;
}

/** The publish worker's init data (structured clone only). */
export interface PublishFunctionInit {
  readonly dynamodbEndpoint: string;
  readonly tableName: string;
  /** Pause between polls of a shard with nothing new. */
  readonly pollIntervalMs: number;
  readonly logLevel: LogLevel;
  /** The function's name and ARN, as the invocation records name it. */
  readonly functionName: string;
  readonly functionArn: string;
  /** Retries of a failing stream batch before it is given up on (default: the stream source's). */
  readonly retryAttempts?: number;
  /** The publisher DLQ (the on-failure destination) in the SQS emulator at `sqsEndpoint`. */
  readonly sqsEndpoint: string;
  readonly publisherDlqUrl: string;
}

export interface PublishFunctionOptions extends PublishFunctionInit {
  /** The bus, on the main thread. */
  readonly bus: ChangePublisher;
  /** Where the publisher's metrics go on the main thread. */
  readonly metrics: MetricsSink;
  /** The pipeline's name (PIPELINE_NAME): the `pipeline` field of the function's log lines. */
  readonly pipeline: string;
  readonly logSink: (line: string) => void;
  readonly onCrash: (error: Error) => void;
}

export interface PublishFunction {
  /** Resolves when every record written so far has been published (or given up on). */
  waitUntilIdle(timeoutMs?: number): Promise<void>;
  /** Stream batches given up on after their retries (on AWS: the on-failure destination). */
  failures(): Promise<StreamFailure[]>;
  /** The stream source's counts so far. */
  stats(): Promise<StreamSourceStats>;
  /** Runs the publisher on `event` as a direct invocation would; rejects with what the handler threw. */
  invoke(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse>;
  sdkCalls: FunctionWorker<void>['sdkCalls'];
  stop(): Promise<void>;
}

export async function startPublishFunction(options: PublishFunctionOptions): Promise<PublishFunction> {
  const { bus, metrics, pipeline, logSink, onCrash, ...init } = options;
  const worker = await startFunctionWorker<PublishFunctionInit, void>({
    name: 'publish',
    background: true,
    entry: join(__dirname, 'publish.worker.ts'),
    init,
    pipeline,
    logSink,
    onCrash,
    handlers: {
      [PUBLISH.putEvents]: async (value): Promise<BusAnswer> => {
        const result = await bus.publish(value as StateChange[]);
        // Only cloneable data crosses: an SDK error carries sockets and responses.
        return {
          failedChangeIds: [...result.failedChangeIds],
          ...(result.error === undefined ? {} : { error: serializeError(result.error) }),
        };
      },
      [PUBLISH.metrics]: (value) => {
        const { data, extra } = value as { data: MetricDatum[]; extra?: Record<string, unknown> };
        metrics.put(data, extra);
      },
    },
  });
  return {
    waitUntilIdle: (timeoutMs) => worker.call<void>(PUBLISH.waitUntilIdle, timeoutMs),
    failures: () => worker.call<StreamFailure[]>(PUBLISH.failures),
    stats: () => worker.call<StreamSourceStats>(PUBLISH.stats),
    invoke: (event) => worker.call<DynamoDBBatchResponse>(PUBLISH.invoke, event),
    sdkCalls: () => worker.sdkCalls(),
    stop: () => worker.stop(),
  };
}
