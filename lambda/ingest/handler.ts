import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { nonNegativeIntEnv, pipelineNameEnv, requiredEnv } from '../shared/env';
import { Logger, parseLogLevel, withRequestId } from '../shared/logger';
import { createIngestHandler } from './ingest-handler';

/**
 * The ingest Lambda: API Gateway HTTP API (payload v2) in, a status code out. Configuration,
 * clients and the key cache are set up once per container, here.
 */
const secretId = requiredEnv('LIVEKIT_KEYS_SECRET_ID');

// Per SQS attempt at most 450 ms, three attempts: two full ones fit the 1.5 s send deadline
// (SQS_SEND_DEADLINE_MS), which cuts the third.
const sqs = new SQSClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 200, requestTimeout: 450 } });
// Reads of the secret run in the background of requests (a request waits at most KEY_WAIT_MS),
// so they may take longer than a request can wait; the key store retries with its own backoff.
const secrets = new SecretsManagerClient({ maxAttempts: 2, requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 } });

// The claim-check bucket, for events too large for an SQS message. Its put and the send that
// follows share the 1.5 s deadline. An attempt may take longer than an SQS one (up to 3 MiB go up),
// but requestTimeout is the socket's idle time, not the upload's: a stalled attempt is cut at
// 600 ms, and a second one still fits.
const claimCheckBucket = process.env.CLAIM_CHECK_BUCKET;
const s3 = claimCheckBucket ? new S3Client({ maxAttempts: 2, requestHandler: { connectionTimeout: 200, requestTimeout: 600 } }) : undefined;

export const handler = withRequestId(
  createIngestHandler({
    sqs,
    queueUrl: requiredEnv('QUEUE_URL'),
    ...(s3 && claimCheckBucket ? { claimChecks: { s3, bucket: claimCheckBucket } } : {}),
    loadKeys: async () => {
      const result = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
      if (result.SecretString === undefined) throw new Error('the LiveKit keys secret has no string value');
      return result.SecretString;
    },
    keyCacheSeconds: nonNegativeIntEnv('KEY_CACHE_SECONDS'),
    maxBodyBytes: nonNegativeIntEnv('MAX_BODY_BYTES'),
    clockToleranceSeconds: nonNegativeIntEnv('CLOCK_TOLERANCE_SECONDS'),
    // Its lines carry `pipeline`: the metric filters on this log take their `Pipeline` dimension from it.
    logger: new Logger({ service: 'ingest', pipeline: pipelineNameEnv(), level: parseLogLevel(process.env.LOG_LEVEL) }),
  }),
);
