/**
 * The reconcile Lambda, invoked by an EventBridge schedule. Configuration and AWS clients are set
 * up once per container; the LiveKit key pair is read from Secrets Manager on every run, so a key
 * rotation takes effect at the next run. Everything else is in reconciler.ts.
 *
 * Before the keys secret holds a key pair (the stack creates it as `{}` for you to fill in), a run
 * does not fail: it logs `LiveKit API keys not configured; reconciler waiting` once, emits
 * `NotConfigured` = 1 and its heartbeat (a waiting reconciler is healthy), and returns.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { createDocumentClient } from '../process/document-client';
import { nonNegativeIntEnv, pipelineNameEnv, requiredEnv } from '../shared/env';
import { KeysSecretError, parseKeysSecret } from '../shared/keys-secret';
import { Logger, parseLogLevel, withRequestId } from '../shared/logger';
import { EmfMetricsSink, METRIC } from '../shared/metrics';
import { sqsEnqueue } from './enqueue';
import { createLiveKitApi } from './livekit-api';
import { createReconciler, RunReport } from './reconciler';

const tableName = requiredEnv('TABLE_NAME');
const queueUrl = requiredEnv('QUEUE_URL');
const livekitUrl = requiredEnv('LIVEKIT_URL');
const secretId = requiredEnv('LIVEKIT_KEYS_SECRET_ID');
const preferredKey = process.env.LIVEKIT_API_KEY || undefined;
const reconcile = {
  intervalMinutes: nonNegativeIntEnv('RECONCILE_INTERVAL_MINUTES'),
  graceSeconds: nonNegativeIntEnv('RECONCILE_GRACE_SECONDS'),
  requestBudgetPerRun: nonNegativeIntEnv('RECONCILE_REQUEST_BUDGET'),
  concurrency: nonNegativeIntEnv('RECONCILE_CONCURRENCY'),
  fullCheckMinutes: nonNegativeIntEnv('RECONCILE_FULL_CHECK_MINUTES'),
};
const timeBudgetMs = nonNegativeIntEnv('RECONCILE_TIME_BUDGET_MS');
// The project's webhook filter (livekit.webhookEvents); unset = every type.
const webhookEvents = process.env.RECONCILE_WEBHOOK_EVENTS
  ? process.env.RECONCILE_WEBHOOK_EVENTS.split(',').filter((type) => type !== '')
  : undefined;

const pipeline = pipelineNameEnv();
const logger = new Logger({ service: 'reconcile', pipeline, level: parseLogLevel(process.env.LOG_LEVEL) });
const ddb = createDocumentClient();
const sqs = new SQSClient({ maxAttempts: 3 });
// Repairs too large for an SQS message go by claim check, as ingest's webhooks do (enqueue.ts).
const claimCheckBucket = process.env.CLAIM_CHECK_BUCKET;
const claimChecks = claimCheckBucket ? { s3: new S3Client({ maxAttempts: 3 }), bucket: claimCheckBucket } : undefined;
const secrets = new SecretsManagerClient({ maxAttempts: 3 });
const metrics = new EmfMetricsSink(pipeline);

export class LiveKitKeysError extends Error {
  /** `notConfigured`: the secret holds no key pair at all (not filled in yet), as opposed to a broken secret. */
  constructor(
    message: string,
    readonly notConfigured = false,
  ) {
    super(message);
    this.name = 'LiveKitKeysError';
  }
}

/** The pair to sign API calls with: `LIVEKIT_API_KEY` if set, else the first pair of the secret. */
export function pickKeyPair(secretString: string | undefined, preferred?: string): { apiKey: string; apiSecret: string } {
  let pairs: Map<string, string>;
  try {
    // The parser ingest uses too, so both accept and refuse the same secrets.
    pairs = parseKeysSecret(secretString ?? '');
  } catch (error) {
    if (error instanceof KeysSecretError) throw new LiveKitKeysError(error.message);
    throw error;
  }
  if (pairs.size === 0) throw new LiveKitKeysError('the LiveKit keys secret holds no key pair yet', true);
  const entries = [...pairs];
  const chosen = preferred !== undefined ? entries.find(([key]) => key === preferred) : entries[0];
  if (!chosen)
    throw new LiveKitKeysError(
      preferred !== undefined ? `the LiveKit keys secret has no pair for ${preferred}` : 'the LiveKit keys secret holds no key pair yet',
    );
  return { apiKey: chosen[0], apiSecret: chosen[1] };
}

/** A run did not complete (a listing, a read or a repair failed); its report was logged with the metrics. */
export class ReconcileRunFailedError extends Error {
  constructor(readonly errors: readonly string[]) {
    super(`reconcile run failed: ${errors.join('; ')}`);
    this.name = 'ReconcileRunFailedError';
  }
}

/**
 * Throws when the run failed, so the function's Errors metric (and its alarm) sees it; the
 * schedule target does not retry (the next run comes anyway). No heartbeat is emitted either.
 */
export const handler = withRequestId(async (): Promise<RunReport | undefined> => {
  let keys: { apiKey: string; apiSecret: string };
  try {
    keys = pickKeyPair((await secrets.send(new GetSecretValueCommand({ SecretId: secretId }))).SecretString, preferredKey);
  } catch (error) {
    if (error instanceof LiveKitKeysError && error.notConfigured) {
      // Which secret: the stack output LiveKitKeysSecretArn (a secret's name is not logged, by rule: test/unit/shared/secrets-never-logged.test.ts).
      logger.warn('LiveKit API keys not configured; reconciler waiting');
      metrics.put(
        [
          { name: METRIC.notConfigured, value: 1 },
          { name: METRIC.heartbeat, value: 1 },
        ],
        { service: 'reconcile' },
      );
      return undefined;
    }
    logger.error('reconcile run failed: no LiveKit key pair', { error });
    throw error;
  }
  const reconciler = createReconciler({
    livekit: createLiveKitApi({ url: livekitUrl, ...keys }),
    ddb,
    tableName,
    enqueue: sqsEnqueue(sqs, queueUrl, Date.now, claimChecks),
    metrics,
    logger,
    config: reconcile,
    ...(webhookEvents ? { webhookEvents } : {}),
    timeBudgetMs,
  });
  const report = await reconciler.run();
  if (!report.ok) throw new ReconcileRunFailedError(report.errors);
  return report;
});
