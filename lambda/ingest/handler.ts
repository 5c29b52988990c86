import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MessageAttributeValue, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { Logger, parseLogLevel } from '../shared/logger';
import { KeyStore } from './key-store';
import { createWebhookIngest, EnqueueRequest, IngestRequest } from './webhook-ingest';

/**
 * Lambda adapter for the ingest path: API Gateway HTTP API (payload v2) in, a status code out.
 * Everything that can be done once per container (env, clients, key cache) is done here, at load.
 */

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

function positiveInt(name: string): number {
  const value = Number(requiredEnv(name));
  if (!Number.isInteger(value) || value < 0) throw new Error(`environment variable ${name} must be a non-negative integer`);
  return value;
}

const queueUrl = requiredEnv('QUEUE_URL');
const secretId = requiredEnv('LIVEKIT_KEYS_SECRET_ID');
const maxBodyBytes = positiveInt('MAX_BODY_BYTES');
const clockToleranceSeconds = positiveInt('CLOCK_TOLERANCE_SECONDS');
const keyCacheSeconds = positiveInt('KEY_CACHE_SECONDS');

/**
 * LiveKit gives up after ~3 s. Each SQS attempt gets at most 600 ms, three attempts at most, and the
 * whole send is cut at 2 s, so we answer 503 (LiveKit retries) well before LiveKit gives up on us.
 */
export const SQS_SEND_DEADLINE_MS = 2000;
const sqs = new SQSClient({
  maxAttempts: 3,
  requestHandler: { connectionTimeout: 250, requestTimeout: 600 },
});
const secrets = new SecretsManagerClient({
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 250, requestTimeout: 800 },
});

const logger = new Logger({ service: 'ingest', level: parseLogLevel(process.env.LOG_LEVEL) });

const keys = new KeyStore({
  load: async () => {
    const result = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (result.SecretString === undefined) throw new Error('the LiveKit keys secret has no string value');
    return result.SecretString;
  },
  ttlMs: keyCacheSeconds * 1000,
  minRefreshIntervalMs: 10_000,
});

async function enqueue({ body, attributes }: EnqueueRequest): Promise<void> {
  const messageAttributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes)) {
    messageAttributes[name] = { DataType: 'String', StringValue: value };
  }
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageAttributes: messageAttributes }), {
    abortSignal: AbortSignal.timeout(SQS_SEND_DEADLINE_MS),
  });
}

const ingest = createWebhookIngest({ keys, enqueue, maxBodyBytes, clockToleranceSeconds, logger });

export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  return ingest(toIngestRequest(event));
}

export function toIngestRequest(event: APIGatewayProxyEventV2): IngestRequest {
  const raw = event.body ?? '';
  return {
    method: event.requestContext.http.method,
    // Under a named stage rawPath carries the stage prefix; the route key never does.
    path: routePath(event),
    headers: event.headers ?? {},
    body: event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8'),
  };
}

function routePath(event: APIGatewayProxyEventV2): string {
  const [, path] = event.routeKey.split(' ');
  if (path && !path.includes('{') && event.routeKey !== '$default') return path;
  const stage = event.requestContext.stage;
  const prefix = stage && stage !== '$default' ? `/${stage}` : '';
  return prefix && event.rawPath.startsWith(prefix + '/') ? event.rawPath.slice(prefix.length) : event.rawPath;
}
