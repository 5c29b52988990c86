/**
 * The reconciler as a local function: its timer, its serialized runs, its own DynamoDB and SQS
 * clients and LiveKit API client. Reports and metrics go to the main thread. Runs on a worker
 * thread (reconcile.worker.ts), or in process when a test wraps the LiveKit API. See reconcile.ts.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { sqsEnqueue } from '../../lambda/reconcile/enqueue';
import { localS3ClientConfig } from '../engines/sqs-emulator';
import { createLiveKitApi, LiveKitApi } from '../../lambda/reconcile/livekit-api';
import { createReconciler, RunReport } from '../../lambda/reconcile/reconciler';
import type { MetricDatum } from '../../lambda/shared/metrics';
import { localDocumentClient, localDynamoDbClient, localSqsClient } from './clients';
import { LiveKitCallMethod, RECONCILE, ReconcileFunctionInit } from './reconcile';
import type { FunctionStart } from './worker-runtime';

export const startReconciler: FunctionStart<ReconcileFunctionInit, void> = async (init, host) => {
  const dynamodb = host.meter(localDynamoDbClient(init.dynamodbEndpoint), 'DynamoDB');
  const sqs = host.meter(localSqsClient(init.sqsEndpoint), 'SQS');
  const claimChecks =
    init.claimCheckBucket !== undefined
      ? { s3: new S3Client(localS3ClientConfig(init.sqsEndpoint)), bucket: init.claimCheckBucket }
      : undefined;
  // Only in process (a test's wrapper): the answers are the wrapper's own objects, passed by reference.
  const viaMainThread =
    <T>(method: LiveKitCallMethod) =>
    (argument?: unknown): Promise<T[]> =>
      host.call<T[]>(RECONCILE.livekit, { method, argument });
  const livekit: LiveKitApi = init.livekit
    ? createLiveKitApi(init.livekit)
    : {
        listRooms: viaMainThread('listRooms'),
        listParticipants: viaMainThread('listParticipants'),
        listEgress: viaMainThread('listEgress'),
        listIngress: viaMainThread('listIngress'),
      };
  const logger = host.logger('reconcile', init.logLevel);
  const reconciler = createReconciler({
    livekit,
    ddb: localDocumentClient(dynamodb),
    tableName: init.tableName,
    enqueue: sqsEnqueue(sqs, init.queueUrl, Date.now, claimChecks),
    metrics: {
      put: (data: readonly MetricDatum[], extra?: Record<string, unknown>) =>
        void host.call(RECONCILE.metrics, { data, extra }).catch(() => undefined),
    },
    logger,
    config: init.config,
    ...(init.webhookEvents ? { webhookEvents: init.webhookEvents } : {}),
    timeBudgetMs: init.timeBudgetMs,
  });

  let current: Promise<RunReport> | undefined;
  let stopped = false;
  // Runs are serialized: a run starts only after the previous one ended; it ends once the main
  // thread has recorded its report (and printed the status line).
  const runExclusive = async (): Promise<RunReport> => {
    while (current) await current.catch(() => undefined);
    const run = reconciler.run().then(async (report) => {
      await host.call(RECONCILE.runFinished, report);
      return report;
    });
    current = run;
    try {
      return await run;
    } finally {
      if (current === run) current = undefined;
    }
  };
  const scheduled = () => {
    if (current || stopped) return;
    runExclusive().catch((error) => logger.error('reconcile run crashed', { error }));
  };
  const timer = setInterval(scheduled, init.intervalMs);
  if (init.runAtStart) setImmediate(scheduled);

  return {
    ready: undefined,
    handlers: { [RECONCILE.runNow]: () => runExclusive() },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await current?.catch(() => undefined);
      dynamodb.destroy();
      sqs.destroy();
    },
  };
};
