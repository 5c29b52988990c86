import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PipelineConfig } from '../lib/config';
import { Logger, LogLevel } from '../lambda/shared/logger';
import { emfLines, MemoryMetricsSink, MetricDatum, MetricsSink } from '../lambda/shared/metrics';
import type { LiveKitApi } from '../lambda/reconcile/livekit-api';
import type { RunReport } from '../lambda/reconcile/reconciler';
import type { RecordOutcome } from '../lambda/process/processor';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { ChangePublisher, PublishResult, StateChange } from '../lambda/process/publisher';
import type { StreamFailure } from './dynamodb-stream-source';
import { LOCAL_REGION } from './local-aws';
import { LambdaInvokeApi, startLambdaInvokeApi } from './lambda-invoke-api';
import { DynamoDbLocal, startDynamoDbLocal } from './engines/dynamodb-local';
import { LocalConsumer, LocalConsumers } from './local-consumers';
import { SqsEmulator, startSqsEmulator } from './engines/sqs-emulator';
import type { LocalRoute } from './front-door';
import type { SdkCallStats } from './functions/function-worker';
import { startIngestFunction } from './functions/ingest';
import { ProcessFunction, startProcessFunction } from './functions/process';
import { PublishFunction, startPublishFunction, StreamSourceStats } from './functions/publish';
import { ReconcileFunction, startReconcileFunction } from './functions/reconcile';
import type { SqsEventSourceStats } from './sqs-event-source';
import { createStatusRoute, readStatus, STATUS_PATH, StatusSource, statusSummaryLine } from './status-page';

/**
 * The whole pipeline on one machine, no AWS account: the real ingest and process handlers behind
 * an API Gateway-like front door, the SQS emulator (fauxqs) with the queue and DLQ as the stack
 * creates them, DynamoDB Local with the state table, and a poller that behaves like the Lambda SQS
 * event source. Every setting comes from the same `PipelineConfig` the CDK stack is built from.
 * Used by `npm run local`, the end-to-end tests, the demo and the benchmark.
 *
 * As on AWS, functions run apart, each on a worker thread of its own (local/functions/): the front
 * door with the ingest handler; the processor behind its SQS event source; the publisher behind
 * the table's stream; the reconciler. So one function's load, or a blocked main thread, never
 * delays another's answers. The main thread keeps what stands in for AWS services the functions
 * share (the bus: `changes`; the metrics; the status page). A function that crashes is logged and
 * reported to `onFunctionCrash`.
 */
export interface LocalPipelineOptions {
  readonly config: PipelineConfig;
  /** Front door port; 0 or absent picks a free one. */
  readonly port?: number;
  /** LiveKit API key pairs accepted by ingest, `{ apiKey: apiSecret }`. */
  readonly keys: Readonly<Record<string, string>>;
  /** Where log lines go (default stdout). */
  readonly logSink?: (line: string) => void;
  readonly logLevel?: LogLevel;
  /**
   * Overrides the queue's visibility timeout (default: from config, as deployed). Tests shorten
   * it so a failed message comes back in a second rather than minutes.
   */
  readonly visibilityTimeoutSeconds?: number;
  /** Engines to reuse instead of starting new ones (tests share one per file). */
  readonly engines?: { readonly dynamodb: DynamoDbLocal; readonly sqs: SqsEmulator };
  /**
   * Run the change feed (the table's stream to the publisher). Default true. A test that seeds the
   * table in bulk, bypassing the processor, and does not look at changes can turn it off: the feed
   * would publish every seeded item.
   */
  readonly changeFeed?: boolean;
  /**
   * For tests: a gate over the processor's thread, an `Int32Array` on a `SharedArrayBuffer` of at
   * least 2 elements, `[closed, blocked]`. While `closed` is 1 the processor's thread blocks as each
   * batch arrives (as a processor stuck on CPU would) and `blocked` counts the batches that waited;
   * store 0 and `Atomics.notify(gate, 0)` to let it go on.
   */
  readonly processorGate?: Int32Array;
  /** Extra GET routes on the front door (a status page). */
  readonly getRoutes?: Readonly<Record<string, LocalRoute>>;
  /**
   * The LiveKit server the reconciler calls (a real `livekit-server --dev` or the simulator).
   * Without it the reconciler does not run. An unreachable server makes runs fail and be logged.
   */
  readonly livekit?: {
    readonly url: string;
    readonly apiKey: string;
    readonly apiSecret: string;
    /** SDK per-attempt timeout (default the SDK's 10 s); tests shorten it. */
    readonly requestTimeoutSeconds?: number;
  };
  /** Reconciler timer period; default `config.reconcile.intervalMinutes`. Tests scale it down. */
  readonly reconcileIntervalMs?: number;
  /**
   * Run the reconciler once right at start, not one interval later (`npm run local`). Its heartbeat
   * is then there from the first minute, as on AWS where the schedule's first run follows a deploy
   * within a minute. Default false: tests start their runs themselves.
   */
  readonly reconcileAtStart?: boolean;
  /** Time budget of one run; default 80 % of the interval. */
  readonly reconcileTimeBudgetMs?: number;
  /**
   * Lets a test wrap the LiveKit API the reconciler sees (e.g. a room vanishing between calls).
   * The wrapper runs on the main thread; the reconcile worker's LiveKit calls then go through it.
   */
  readonly wrapLiveKitApi?: (api: LiveKitApi) => LiveKitApi;
  /**
   * Told when a function's worker thread crashes (it is logged at error level in any case).
   * `npm run local` stops and exits non-zero; calls to the crashed function fail.
   */
  readonly onFunctionCrash?: (error: Error, functionName: string) => void;
  /**
   * Handlers each published change is delivered to, as the EventBridge event a rule's target gets
   * (local/local-consumers.ts: asynchronous, retried as Lambda retries; `npm run local`'s `CHANGE_HANDLER`).
   */
  readonly consumers?: readonly LocalConsumer[];
  /**
   * Retries of a failing stream batch before the publisher's event source gives it up to the
   * publisher DLQ (default: the local stream source's, 10). Tests lower it to see a batch given up on.
   */
  readonly publisherRetryAttempts?: number;
  /**
   * Lets a test wrap the bus the publisher puts changes on (e.g. one that refuses everything, as an
   * EventBridge outage would). Runs on the main thread; what the wrapper passes on is published.
   */
  readonly wrapBus?: (bus: ChangePublisher) => ChangePublisher;
}

/**
 * The pipeline's name locally, unless `alarms.namePrefix` gives one: the example app's default
 * stack name (bin/app.ts), which a deployed pipeline takes by default. The functions get it as
 * PIPELINE_NAME and write it on every line, as on AWS, so a local line is as long as a deployed one
 * (the bench measures log bytes per event here).
 */
export const LOCAL_PIPELINE_NAME = 'LiveKitWebhooks';

/** The publish function's name locally (Lambda's Invoke API on `lambdaEndpoint` knows it by this name). */
export const LOCAL_PUBLISHER_FUNCTION_NAME = 'livekit-publish';

export interface LocalPipeline {
  /** The pipeline's name: the `pipeline` field of every log line (`alarms.namePrefix`, else LOCAL_PIPELINE_NAME). */
  readonly pipelineName: string;
  readonly webhookUrl: string;
  readonly baseUrl: string;
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly tableName: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  /** The publisher's DLQ: Lambda's invocation record of each stream batch given up on (npm run publisher:redrive). */
  readonly publisherDlqUrl: string;
  /** Lambda's Invoke API for the publish function (`POST /2015-03-31/functions/<name>/invocations`). */
  readonly lambdaEndpoint: string;
  readonly publisherFunctionName: string;
  /** The claim-check bucket (fauxqs's S3) that events too large for an SQS message go to. */
  readonly claimCheckBucket: string;
  readonly documentClient: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  /** Every change "published to the bus", in order (locally there is no EventBridge). */
  readonly changes: readonly StateChange[];
  /** The processor's SQS event source (on the process function's thread). */
  readonly eventSource: LocalEventSource;
  /** The state table's stream, polled as Lambda's event source does, feeding the publisher (on the publish function's thread). */
  readonly changeFeed: LocalChangeFeed;
  /**
   * What the processor did with each event id, last delivery wins (an applied event leaves no
   * record of its own in the table; this is the local runtime's view of the processor's log).
   */
  readonly processed: ReadonlyMap<string, ProcessedEvent>;
  /** Resolves when each of `eventIds` has been processed and the change feed has published what that wrote. */
  waitUntilProcessed(eventIds: readonly string[], timeoutMs?: number): Promise<void>;
  /** Every metric the local stages emitted (the reconciler's), also printed as log lines. */
  readonly metrics: MemoryMetricsSink;
  /**
   * Bytes of the EMF lines the per-webhook functions (process, publish; ingest emits none) would
   * have written to CloudWatch Logs on AWS for the metrics they emitted so far: each emission
   * rendered as the deployed functions' `EmfMetricsSink` renders it. The reconciler's are left out
   * (not per webhook).
   */
  metricLogBytes(): number;
  /** Reports of the reconcile runs so far, oldest first. */
  readonly reconcileRuns: readonly RunReport[];
  /** Runs the reconciler now (after a run in progress, never two at once) and returns its report. */
  reconcileNow(): Promise<RunReport>;
  /** The line `npm run local` prints when ready. */
  readyLine(): string;
  /** AWS SDK requests made so far by the functions on worker threads, by function, then `Service.Command`. */
  functionSdkCalls(): Promise<Record<string, Record<string, SdkCallStats>>>;
  stop(): Promise<void>;
}

/** The processor's event source, seen from the main thread. */
export interface LocalEventSource {
  /** Its counts so far: handler invocations (batches), receives with and without messages, batch deletes. */
  stats(): Promise<SqsEventSourceStats>;
  /** Stops polling the queue (the batch in flight finishes): the processor is paused, the rest runs on. */
  stop(): Promise<void>;
}

/** The change feed, seen from the main thread. */
export interface LocalChangeFeed {
  /** Resolves when every record written to the table so far has been published (or given up on). */
  waitUntilIdle(timeoutMs?: number): Promise<void>;
  /** Stream batches given up on after their retries, oldest first (on AWS: the on-failure destination). */
  failures(): Promise<StreamFailure[]>;
  /** Publisher invocations (stream batches) so far and the records they carried. */
  stats(): Promise<StreamSourceStats>;
}

export interface ProcessedEvent {
  readonly outcome: RecordOutcome;
  /** Milliseconds since the epoch. */
  readonly processedAt: number;
}

/**
 * Stands in for the EventBridge bus: prints each change as a JSON line and keeps it for inspection.
 * It lives on the main thread; the publish function's thread hands it each PutEvents batch.
 */
class PrintingBus implements ChangePublisher {
  readonly changes: StateChange[] = [];
  constructor(
    private readonly logger: Logger,
    private readonly consumers?: LocalConsumers,
  ) {}

  async publish(changes: readonly StateChange[]): Promise<PublishResult> {
    for (const change of changes) {
      this.changes.push(change);
      this.logger.info('state change published', {
        eventId: change.eventId,
        eventType: change.eventType,
        detailType: change.detailType,
        changeId: change.changeId,
        entity: change.entity,
        old: change.old,
        new: change.new,
        source: change.source,
      });
      this.consumers?.deliver(change);
    }
    return { failedChangeIds: [] };
  }
}

export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  const { config } = options;
  const logLevel = options.logLevel ?? 'info';
  const pipelineName = config.alarms.namePrefix ?? LOCAL_PIPELINE_NAME;
  const logger = (service: string) => new Logger({ service, pipeline: pipelineName, level: logLevel, sink: options.logSink });
  const logSink = options.logSink ?? ((line: string) => void process.stdout.write(line + '\n'));
  const runtimeLogger = logger('local-runtime');
  const functionCrashed = (name: string) => (error: Error) => {
    runtimeLogger.error('function crashed', { function: name, error, stack: error.stack });
    if (options.onFunctionCrash) options.onFunctionCrash(error, name);
    // Nobody to tell: say it on stderr too, even when logs are silenced, rather than half-run quietly.
    else process.stderr.write(`local pipeline: the ${name} function crashed; calls to it fail: ${error.stack ?? error.message}\n`);
  };
  const functionSdkCalls: Record<string, () => Promise<Record<string, SdkCallStats>>> = {};
  const cleanups: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };

  try {
    let dynamodb: DynamoDbLocal;
    let sqsEmulator: SqsEmulator;
    if (options.engines) {
      ({ dynamodb, sqs: sqsEmulator } = options.engines);
    } else {
      // Both engines take seconds to boot; start them side by side.
      const [ddbResult, sqsResult] = await Promise.allSettled([startDynamoDbLocal(), startSqsEmulator()]);
      if (ddbResult.status === 'fulfilled') cleanups.push(() => ddbResult.value.stop());
      if (sqsResult.status === 'fulfilled') cleanups.push(() => sqsResult.value.stop());
      if (ddbResult.status === 'rejected') throw ddbResult.reason;
      if (sqsResult.status === 'rejected') throw sqsResult.reason;
      dynamodb = ddbResult.value;
      sqsEmulator = sqsResult.value;
    }

    const tableName = await dynamodb.createStateTable(options.engines ? undefined : 'livekit-state');
    const queues = await sqsEmulator.createEventQueues(config, {
      // Shared engines (tests) need a queue of their own per pipeline.
      name: options.engines ? undefined : 'livekit-events',
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    });
    // The claim-check bucket (fauxqs's S3), for events too large for an SQS message.
    const claimCheckBucket = await sqsEmulator.createBucket(options.engines ? undefined : 'livekit-claim-checks');

    const metrics = new MemoryMetricsSink();
    const processed = new Map<string, ProcessedEvent>();
    const consumers = options.consumers?.length
      ? new LocalConsumers({ consumers: options.consumers, logger: logger('consumers') })
      : undefined;
    if (consumers) cleanups.push(() => consumers.stop());
    const printingBus = new PrintingBus(logger('bus'), consumers);
    const publisher = options.wrapBus ? options.wrapBus(printingBus) : printingBus;
    const metricsLogger = logger('metrics');
    // The per-webhook functions' metrics (process, publish): kept, and measured as the EMF lines
    // their deployed `EmfMetricsSink` would write to CloudWatch Logs.
    let metricLogBytes = 0;
    const functionMetrics: MetricsSink = {
      put(data: readonly MetricDatum[], extra?: Record<string, unknown>) {
        metrics.put(data);
        for (const line of emfLines(pipelineName, data, extra)) metricLogBytes += Buffer.byteLength(line) + 1;
      },
    };
    const metricsSink: MetricsSink = {
      put(data: readonly MetricDatum[], extra?: Record<string, unknown>) {
        metrics.put(data);
        metricsLogger.info('metrics', {
          ...extra,
          metrics: Object.fromEntries(
            data.map((d) => [d.dimensions ? `${d.name}{${Object.values(d.dimensions).join(',')}}` : d.name, d.value]),
          ),
        });
      },
    };
    const reconcileRuns: RunReport[] = [];
    const statusSource: StatusSource = {
      sqs: sqsEmulator.client,
      queueUrl: queues.queueUrl,
      dlqUrl: queues.dlqUrl,
      publisherDlqUrl: queues.publisherDlqUrl,
      config,
      metrics,
      reconcilerEnabled: Boolean(options.livekit),
      ...(options.reconcileIntervalMs !== undefined ? { reconcileIntervalMs: options.reconcileIntervalMs } : {}),
      liveKitKeysConfigured: () => Object.keys(options.keys).length > 0,
      liveKitUrl: options.livekit?.url,
      startedAt: Date.now(),
    };
    const statusLogger = logger('status');
    // Every function runs on a worker thread of its own (local/functions/); they start side by side.
    // The processor as on AWS: the queue -> its event source -> the processor -> the table.
    const processStarting = startProcessFunction({
      dynamodbEndpoint: dynamodb.endpoint,
      sqsEndpoint: sqsEmulator.endpoint,
      claimCheckBucket,
      tableName,
      queueUrl: queues.queueUrl,
      queueArn: queues.queueArn,
      processing: config.processing,
      logLevel,
      pipeline: pipelineName,
      logSink,
      gate: options.processorGate?.buffer as SharedArrayBuffer | undefined,
      metrics: functionMetrics,
      onBatchProcessed: ({ outcomes, processedAt }) => {
        for (const { eventId, outcome } of outcomes) processed.set(eventId, { outcome, processedAt });
      },
      onCrash: functionCrashed('process'),
    });
    // The change feed as on AWS: the table's stream -> the publisher -> the bus (here: printed, on this thread).
    const publishStarting =
      options.changeFeed === false
        ? undefined
        : startPublishFunction({
            dynamodbEndpoint: dynamodb.endpoint,
            tableName,
            // Lambda polls a stream shard about four times a second.
            pollIntervalMs: 250,
            retryAttempts: options.publisherRetryAttempts,
            functionName: LOCAL_PUBLISHER_FUNCTION_NAME,
            functionArn: `arn:aws:lambda:${LOCAL_REGION}:000000000000:function:${LOCAL_PUBLISHER_FUNCTION_NAME}`,
            sqsEndpoint: sqsEmulator.endpoint,
            publisherDlqUrl: queues.publisherDlqUrl,
            logLevel,
            pipeline: pipelineName,
            logSink,
            bus: publisher,
            metrics: functionMetrics,
            onCrash: functionCrashed('publish'),
          });
    let reconcilerStarting: Promise<ReconcileFunction> | undefined;
    if (options.livekit) {
      const intervalMs = options.reconcileIntervalMs ?? config.reconcile.intervalMinutes * 60_000;
      reconcilerStarting = startReconcileFunction({
        dynamodbEndpoint: dynamodb.endpoint,
        sqsEndpoint: sqsEmulator.endpoint,
        claimCheckBucket,
        tableName,
        queueUrl: queues.queueUrl,
        livekit: options.livekit,
        wrapLiveKitApi: options.wrapLiveKitApi,
        config: config.reconcile,
        webhookEvents: config.livekit.webhookEvents,
        timeBudgetMs: options.reconcileTimeBudgetMs ?? Math.floor(intervalMs * 0.8),
        intervalMs,
        runAtStart: options.reconcileAtStart ?? false,
        logLevel,
        pipeline: pipelineName,
        logSink,
        metrics: metricsSink,
        onRunFinished: async (report) => {
          reconcileRuns.push(report);
          // After each run, one line with what on-call watches: depths, missed events, alarms.
          await readStatus(statusSource).then(
            (current) => statusLogger.info(statusSummaryLine(current)),
            (error) => statusLogger.warn('status unavailable', { error }),
          );
        },
        onCrash: functionCrashed('reconcile'),
      });
    }

    // GET /status: queue and DLQ depth, the reconciler's metrics and the alarms evaluated with the
    // same rules as the CloudWatch alarms. The front door lives on the ingest thread and forwards
    // GET routes here, where their data is.
    const status = createStatusRoute(statusSource);
    const ingestStarting = startIngestFunction({
      sqsEndpoint: sqsEmulator.endpoint,
      queueUrl: queues.queueUrl,
      claimCheckBucket,
      keys: options.keys,
      ingest: config.ingest,
      port: options.port,
      logLevel,
      pipeline: pipelineName,
      logSink,
      getRoutes: { [STATUS_PATH]: status, ...options.getRoutes },
      onCrash: functionCrashed('ingest'),
    });
    // Lambda's Invoke API for the publisher (npm run publisher:redrive): the same publisher, the same bus.
    const invokeApiStarting = startLambdaInvokeApi({
      [LOCAL_PUBLISHER_FUNCTION_NAME]: async (event) => {
        const publish = await publishStarting;
        if (!publish) throw new Error('the change feed is off (changeFeed: false): no publisher runs');
        return publish.invoke(event as DynamoDBStreamEvent);
      },
    });
    const [reconcilerResult, ingestResult, processResult, publishResult, invokeApiResult] = await Promise.allSettled([
      reconcilerStarting,
      ingestStarting,
      processStarting,
      publishStarting,
      invokeApiStarting,
    ]);
    // Stopped in reverse: ingest first (nothing new comes in), then the reconciler, the processor, the Invoke API, the publisher.
    let publish: PublishFunction | undefined;
    if (publishResult.status === 'fulfilled' && publishResult.value) {
      publish = publishResult.value;
      cleanups.push(() => publishResult.value!.stop());
      functionSdkCalls.publish = () => publishResult.value!.sdkCalls();
    }
    let invokeApi: LambdaInvokeApi | undefined;
    if (invokeApiResult.status === 'fulfilled') {
      invokeApi = invokeApiResult.value;
      cleanups.push(() => invokeApiResult.value.stop());
    }
    let processFunction: ProcessFunction | undefined;
    if (processResult.status === 'fulfilled') {
      processFunction = processResult.value;
      cleanups.push(() => processResult.value.stop());
      functionSdkCalls.process = () => processResult.value.sdkCalls();
    }
    let reconcileNow: () => Promise<RunReport> = () => Promise.reject(new Error('the reconciler is not configured (no livekit option)'));
    if (reconcilerResult.status === 'fulfilled' && reconcilerResult.value) {
      const reconciler = reconcilerResult.value;
      cleanups.push(() => reconciler.stop());
      reconcileNow = () => reconciler.reconcileNow();
      functionSdkCalls.reconcile = () => reconciler.sdkCalls();
    }
    if (ingestResult.status === 'fulfilled') cleanups.push(() => ingestResult.value.stop());
    if (reconcilerResult.status === 'rejected') throw reconcilerResult.reason;
    if (ingestResult.status === 'rejected') throw ingestResult.reason;
    if (processResult.status === 'rejected') throw processResult.reason;
    if (publishResult.status === 'rejected') throw publishResult.reason;
    if (invokeApiResult.status === 'rejected') throw invokeApiResult.reason;
    const lambdaEndpoint = invokeApi!.endpoint;
    const ingest = ingestResult.value;
    const eventSource: LocalEventSource = {
      stats: () => processFunction!.stats(),
      stop: () => processFunction!.stopPolling(),
    };
    const changeFeed: LocalChangeFeed = {
      waitUntilIdle: (timeoutMs) =>
        publish ? publish.waitUntilIdle(timeoutMs) : Promise.reject(new Error('the change feed is off (changeFeed: false)')),
      failures: async () => (publish ? publish.failures() : []),
      stats: async () => (publish ? publish.stats() : { invocations: 0, records: 0 }),
    };
    functionSdkCalls.ingest = () => ingest.sdkCalls();
    const { baseUrl } = ingest.ready;

    const pipeline: LocalPipeline = {
      pipelineName,
      webhookUrl: `${baseUrl}/webhook`,
      baseUrl,
      dynamodbEndpoint: dynamodb.endpoint,
      sqsEndpoint: sqsEmulator.endpoint,
      tableName,
      queueUrl: queues.queueUrl,
      dlqUrl: queues.dlqUrl,
      publisherDlqUrl: queues.publisherDlqUrl,
      lambdaEndpoint,
      publisherFunctionName: LOCAL_PUBLISHER_FUNCTION_NAME,
      claimCheckBucket,
      documentClient: dynamodb.documentClient,
      sqs: sqsEmulator.client,
      changes: printingBus.changes,
      eventSource,
      changeFeed,
      processed,
      async waitUntilProcessed(eventIds, timeoutMs = 30_000) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const pending = eventIds.filter((id) => !processed.has(id));
          if (pending.length === 0) break;
          if (Date.now() > deadline)
            throw new Error(`${pending.length} events were not processed within ${timeoutMs} ms: ${pending.slice(0, 10).join(', ')}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        if (publish) await publish.waitUntilIdle(Math.max(1000, deadline - Date.now()));
      },
      metrics,
      metricLogBytes: () => metricLogBytes,
      reconcileRuns,
      reconcileNow: () => reconcileNow(),
      readyLine: () =>
        JSON.stringify({
          ready: true,
          webhookUrl: pipeline.webhookUrl,
          dynamodbEndpoint: pipeline.dynamodbEndpoint,
          tableName,
          queueUrl: queues.queueUrl,
          dlqUrl: queues.dlqUrl,
          sqsEndpoint: sqsEmulator.endpoint,
          statusUrl: `${baseUrl}${STATUS_PATH}`,
          publisherDlqUrl: queues.publisherDlqUrl,
          publisherFunctionName: LOCAL_PUBLISHER_FUNCTION_NAME,
          lambdaEndpoint,
        }),
      async functionSdkCalls() {
        const entries = await Promise.all(Object.entries(functionSdkCalls).map(async ([name, read]) => [name, await read()] as const));
        return Object.fromEntries(entries);
      },
      stop: stopAll,
    };
    return pipeline;
  } catch (error) {
    await stopAll();
    throw error;
  }
}
