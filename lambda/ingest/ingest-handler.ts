import { MessageAttributeValue, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Logger } from '../shared/logger';
import { KeyStore } from './key-store';
import { createWebhookIngest, EnqueueRequest, IngestRequest } from './webhook-ingest';

/**
 * The ingest handler, wired to SQS and a key source. `handler.ts` builds it from the Lambda's
 * environment; the local runtime builds it against the SQS emulator and local keys, so both run
 * the same code from the API Gateway event on.
 */
export interface IngestHandlerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Returns the key set's JSON text, `{"<apiKey>": "<apiSecret>", ...}`. */
  readonly loadKeys: () => Promise<string>;
  readonly keyCacheSeconds: number;
  readonly maxBodyBytes: number;
  readonly clockToleranceSeconds: number;
  readonly logger: Logger;
}

export type IngestHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * LiveKit gives up after ~3 s. The SQS client is built with per-attempt timeouts (see handler.ts)
 * and the whole send is cut at this deadline, so we answer 503 (LiveKit retries) well before
 * LiveKit gives up on us.
 */
export const SQS_SEND_DEADLINE_MS = 2000;

/** Unknown keys force an early re-read of the secret at most this often. */
const FORCED_KEY_REFRESH_MS = 10_000;

export function createIngestHandler(options: IngestHandlerOptions): IngestHandler {
  const keys = new KeyStore({ load: options.loadKeys, ttlMs: options.keyCacheSeconds * 1000, minRefreshIntervalMs: FORCED_KEY_REFRESH_MS });

  async function enqueue({ body, attributes }: EnqueueRequest): Promise<void> {
    const messageAttributes: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries(attributes)) {
      messageAttributes[name] = { DataType: 'String', StringValue: value };
    }
    await options.sqs.send(new SendMessageCommand({ QueueUrl: options.queueUrl, MessageBody: body, MessageAttributes: messageAttributes }), {
      abortSignal: AbortSignal.timeout(SQS_SEND_DEADLINE_MS),
    });
  }

  const ingest = createWebhookIngest({
    keys,
    enqueue,
    maxBodyBytes: options.maxBodyBytes,
    clockToleranceSeconds: options.clockToleranceSeconds,
    logger: options.logger,
  });
  return (event) => ingest(toIngestRequest(event));
}

export function toIngestRequest(event: APIGatewayProxyEventV2): IngestRequest {
  const raw = event.body ?? '';
  return {
    method: event.requestContext.http.method,
    path: routePath(event),
    headers: event.headers ?? {},
    body: event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8'),
  };
}

/** Under a named stage `rawPath` carries the stage prefix; a route key never does. */
function routePath(event: APIGatewayProxyEventV2): string {
  const [, path] = event.routeKey.split(' ');
  if (path && !path.includes('{') && event.routeKey !== '$default') return path;
  const stage = event.requestContext.stage;
  const prefix = stage && stage !== '$default' ? `/${stage}` : '';
  return prefix && event.rawPath.startsWith(prefix + '/') ? event.rawPath.slice(prefix.length) : event.rawPath;
}
