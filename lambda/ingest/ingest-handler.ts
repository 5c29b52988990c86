import { MessageAttributeValue, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { BODY_LOCATION_S3, MESSAGE_ATTRIBUTE } from '../../contracts/queue-message';
import { ClaimCheckBucket, putClaimCheck } from '../shared/claim-check-put';
import type { Logger } from '../shared/logger';
import { withDeadline } from './deadline';
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
  /**
   * Where bodies too large for an SQS message are stored (the claim-check bucket). Absent, an
   * event whose message would exceed 1 MiB is answered `503 event_too_large`.
   */
  readonly claimChecks?: ClaimCheckBucket;
  /** Returns the key set's JSON text, `{"<apiKey>": "<apiSecret>", ...}`. */
  readonly loadKeys: () => Promise<string>;
  readonly keyCacheSeconds: number;
  readonly maxBodyBytes: number;
  readonly clockToleranceSeconds: number;
  readonly logger: Logger;
  /** Default `KEY_WAIT_MS`. */
  readonly keyWaitMs?: number;
  /** Default `SQS_SEND_DEADLINE_MS`. */
  readonly sqsSendDeadlineMs?: number;
}

export type IngestHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

/**
 * LiveKit gives up after about 3 s (LiveKit Cloud), and a slow answer holds up every later event
 * of the same room. The worst case for one answer is bounded by two deadlines, one per call that
 * can be slow, plus the CPU work (verifying, hashing and parsing: tens of ms at most, for a body of a few MiB):
 * - `KEY_WAIT_MS`: the longest a request waits for Secrets Manager (only on a cold start or for a
 *   key the cached set lacks; a refresh of a cached set never makes a request wait);
 * - `SQS_SEND_DEADLINE_MS`: the whole store, retries included, after which we answer 503. For an
 *   event too large for an SQS message that is the S3 put of its body and the SQS send of its
 *   claim check, one after the other under this one deadline (not one each): the bound stays
 *   the same whichever way an event is stored.
 * `ANSWER_BOUND_MS` (2 s) leaves about 1 s of LiveKit's 3 s for API Gateway, the network and a
 * Lambda cold start. Both deadlines race their call, so a client that ignores its abort signal
 * cannot hold the answer either.
 */
export const KEY_WAIT_MS = 500;
export const SQS_SEND_DEADLINE_MS = 1500;
export const ANSWER_BOUND_MS = KEY_WAIT_MS + SQS_SEND_DEADLINE_MS;

/**
 * A key set read longer ago than this is re-read before it may call a key unknown (key-store.ts).
 * It bounds both sides: a flood of forged key ids costs at most one Secrets Manager read a second
 * per warm container (about $0.45 a day each at $0.05 per 10,000 calls), and a key put in the
 * secret more than a second before LiveKit first signs with it is never answered 401, whatever
 * else anyone sends.
 */
export const FORCED_KEY_REFRESH_MS = 1_000;

export function createIngestHandler(options: IngestHandlerOptions): IngestHandler {
  const keys = new KeyStore({
    load: options.loadKeys,
    ttlMs: options.keyCacheSeconds * 1000,
    minRefreshIntervalMs: FORCED_KEY_REFRESH_MS,
    maxWaitMs: options.keyWaitMs ?? KEY_WAIT_MS,
    onRefreshFailed: ({ error, failures, retryInMs, servingLastGoodKeys }) =>
      options.logger.warn('LiveKit API keys could not be read', { error, failures, retryInMs, servingLastGoodKeys }),
  });
  const sendDeadlineMs = options.sqsSendDeadlineMs ?? SQS_SEND_DEADLINE_MS;

  const send = async (body: string, attributes: Readonly<Record<string, string>>, abortSignal: AbortSignal): Promise<void> => {
    const messageAttributes: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries(attributes)) {
      messageAttributes[name] = { DataType: 'String', StringValue: value };
    }
    await options.sqs.send(
      new SendMessageCommand({ QueueUrl: options.queueUrl, MessageBody: body, MessageAttributes: messageAttributes }),
      {
        abortSignal,
      },
    );
  };

  async function enqueue({ body, attributes }: EnqueueRequest): Promise<void> {
    await withDeadline('sending the event to SQS', sendDeadlineMs, (abortSignal) => send(body, attributes, abortSignal));
  }

  /** The body to the bucket under its SHA-256 (`putClaimCheck`), then the claim check to the queue. */
  const enqueueClaimCheck = (store: ClaimCheckBucket) =>
    async function enqueueClaimCheck({ body, attributes }: EnqueueRequest): Promise<void> {
      await withDeadline('storing the event in S3 and its claim check in SQS', sendDeadlineMs, async (abortSignal) => {
        const pointer = await putClaimCheck(store, body, abortSignal);
        // A put that finished after the deadline must not start a send: we have answered 503.
        abortSignal.throwIfAborted();
        await send(JSON.stringify(pointer), { ...attributes, [MESSAGE_ATTRIBUTE.bodyLocation]: BODY_LOCATION_S3 }, abortSignal);
      });
    };

  const ingest = createWebhookIngest({
    keys,
    enqueue,
    ...(options.claimChecks ? { enqueueClaimCheck: enqueueClaimCheck(options.claimChecks) } : {}),
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
