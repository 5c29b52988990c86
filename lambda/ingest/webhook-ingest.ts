import { createHash } from 'node:crypto';
import { TokenVerifier } from 'livekit-server-sdk';
import type { Logger } from '../shared/logger';
import { MESSAGE_ATTRIBUTE } from '../../contracts/queue-message';
import { SQS_MAX_MESSAGE_BYTES, sqsMessageBytes, sqsSafeAttribute, sqsSafeBody } from '../shared/sqs-safe-body';
import { KeyStore, KeysNotConfiguredError, KeyStoreUnavailableError, UnknownKeyUnverifiableError } from './key-store';

/**
 * Verify-and-enqueue: the only work done while LiveKit waits (about 3 s on LiveKit Cloud, and a
 * slow answer holds up every later event of the same room). Verifies the signature over the raw
 * bytes, reads the event's id/type/room, hands the body to the queue (byte for byte, unless it
 * holds characters SQS refuses: see `sqsSafeBody`), and answers.
 *
 * Status codes follow the contract in docs/design.md. LiveKit retries only 5xx/429/timeouts and
 * treats any 4xx as delivered, so a 4xx is reserved for requests that are not a genuine event,
 * and anything that keeps a genuine event from the queue (our failure, or its size) is a 503.
 */

export interface IngestRequest {
  readonly method: string;
  readonly path: string;
  /** Header names in any case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The body as received; API Gateway's base64 encoding already undone. */
  readonly body: Buffer;
}

export interface IngestResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** What the queue needs to store one event. */
export interface EnqueueRequest {
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
}

export interface WebhookIngestOptions {
  readonly keys: KeyStore;
  /** Stores the event durably; resolves once stored, rejects otherwise. */
  readonly enqueue: (request: EnqueueRequest) => Promise<void>;
  /**
   * Stores an event whose SQS message would exceed `SQS_MAX_MESSAGE_BYTES`: the body out of band
   * (the claim-check bucket), then a message pointing at it. Resolves once both are stored, rejects
   * otherwise. Absent (no bucket configured), such an event is answered `503 event_too_large`.
   */
  readonly enqueueClaimCheck?: (request: EnqueueRequest) => Promise<void>;
  readonly maxBodyBytes: number;
  readonly clockToleranceSeconds: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export const WEBHOOK_PATH = '/webhook';

/**
 * LiveKit's webhook tokens are valid for 5 minutes (livekit/protocol `webhook/resource_url_notifier.go`:
 * `auth.NewAccessToken(apiKey, apiSecret).SetValidFor(5 * time.Minute)`), and the same token is
 * reused for every retry. A token whose `exp` lies further ahead than twice that (plus the clock
 * tolerance) was not minted by LiveKit's notifier; neither was one whose `exp` is not a finite
 * number (`"exp":1e400` parses as Infinity, which the JWT library takes for "never expires").
 */
export const MAX_TOKEN_LIFETIME_SECONDS = 600;

export type RejectReason =
  | 'route_not_found'
  | 'method_not_allowed'
  | 'missing_token'
  | 'malformed_token'
  | 'unknown_key'
  | 'invalid_token'
  | 'body_hash_mismatch'
  | 'body_not_utf8'
  | 'body_not_json'
  | 'not_an_event';

/**
 * Strict: LiveKit's body is `protojson.Marshal` output (livekit/protocol
 * `webhook/resource_url_notifier.go`), and protobuf-go's JSON writer fails on invalid UTF-8 rather
 * than write it (`internal/encoding/json/encode.go`), so a signed body that is not UTF-8 was not
 * sent by LiveKit. Decoding it leniently would queue a repaired text, not the signed bytes. A
 * byte-order mark is kept, and then is not JSON.
 */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Logged once per request answered `503 keys_unavailable` because its key id is not in the last
 * key set read and the secret could not be read again (counted by the UnknownKeyRetries metric
 * filter; `api-5xx` subtracts it).
 */
const UNKNOWN_KEY_UNVERIFIABLE_MESSAGE =
  'API key not in the keys read, and the keys secret cannot be read again; asking the sender to retry';

/** Logged once per request answered `503 keys_not_configured` (counted by the NotConfigured metric filter). */
const NOT_CONFIGURED_MESSAGE = 'LiveKit API keys not configured; asking LiveKit to retry';

export function createWebhookIngest(options: WebhookIngestOptions): (request: IngestRequest) => Promise<IngestResponse> {
  const verifiers = new Map<string, { secret: string; verifier: TokenVerifier }>();
  const now = options.now ?? Date.now;
  // The read of the secret whose "not configured" line last carried the error (see below).
  let notConfiguredExplained = -1;

  const verifierFor = (apiKey: string, secret: string): TokenVerifier => {
    const cached = verifiers.get(apiKey);
    if (cached && cached.secret === secret) return cached.verifier;
    const verifier = new TokenVerifier(apiKey, secret);
    verifiers.set(apiKey, { secret, verifier });
    return verifier;
  };

  return async function ingest(request: IngestRequest): Promise<IngestResponse> {
    const started = now();
    const log = options.logger;
    const reject = (statusCode: number, reason: RejectReason, detail?: string, extra: Record<string, string> = {}): IngestResponse => {
      log.warn('webhook rejected', { statusCode, reason, detail, latencyMs: now() - started });
      // A 401 says which check failed, not why (the verifier's message, the key id we lack): that
      // detail helps a forger more than LiveKit, and it is in our log line.
      const shown = statusCode === 401 ? undefined : detail;
      return respond(statusCode, { error: reason, ...(shown ? { detail: shown } : {}) }, extra);
    };
    // No Retry-After: LiveKit's client (hashicorp/go-retryablehttp, `DefaultBackoff`) takes a 503's
    // Retry-After as the wait itself, in place of its 1, 2, 4, 8 s backoff, so `Retry-After: 1`
    // would end its 4 retries after about 4 s instead of 15 s: a blip of SQS, S3 or Secrets
    // Manager longer than that would lose the event. Its own backoff gives the longest window.
    const retryLater = (error: string): IngestResponse => respond(503, { error });

    if (request.path !== WEBHOOK_PATH) return reject(404, 'route_not_found');
    if (request.method !== 'POST') return reject(405, 'method_not_allowed', undefined, { allow: 'POST' });

    const token = header(request.headers, 'authorization')?.trim();
    if (!token) return reject(401, 'missing_token');
    const apiKey = unverifiedIssuer(token);
    if (apiKey === undefined) {
      return reject(401, 'malformed_token', /^bearer\s/i.test(token) ? 'a "Bearer " prefix: LiveKit sends the bare JWT' : undefined);
    }
    // Not a token LiveKit could have signed: a probe (malformed_token), not a lost event (invalid_token).
    if (!signedWithHs256(token)) return reject(401, 'malformed_token', 'the token must be HS256, the only algorithm LiveKit signs with');
    const shownKey = loggableKey(apiKey);

    let secret: string | undefined;
    try {
      secret = await options.keys.secretFor(apiKey);
    } catch (error) {
      if (error instanceof KeysNotConfiguredError) {
        // One line per 503, as for every other answer: the NotConfigured metric filter counts these
        // lines, and the api-5xx page is API Gateway's 5xx minus that count, so a 503 without its
        // line would page a stack that is only waiting for its keys. The first line after each
        // read of the secret carries the error (what to put where) at level error; the rest are
        // warnings of the size of a rejection line.
        const fields = { apiKey: shownKey, latencyMs: now() - started };
        if (error.generation !== notConfiguredExplained) {
          notConfiguredExplained = error.generation;
          log.error(NOT_CONFIGURED_MESSAGE, { error, ...fields });
        } else {
          log.warn(NOT_CONFIGURED_MESSAGE, fields);
        }
        return retryLater('keys_not_configured');
      }
      if (error instanceof UnknownKeyUnverifiableError) {
        // A key id the last good set lacks, while the secret cannot be re-read: a key added since
        // (LiveKit retries the 503, and gets through once a read does), or a forgery. Not an event
        // we failed to store: counted apart (UnknownKeyRetries), and api-5xx subtracts it.
        log.warn(UNKNOWN_KEY_UNVERIFIABLE_MESSAGE, { error, apiKey: shownKey, latencyMs: now() - started });
        return retryLater('keys_unavailable');
      }
      if (!(error instanceof KeyStoreUnavailableError)) throw error;
      log.error('LiveKit API keys unavailable; asking LiveKit to retry', { error, apiKey: shownKey, latencyMs: now() - started });
      return retryLater('keys_unavailable');
    }
    if (secret === undefined) return reject(401, 'unknown_key', `API key "${shownKey}" is not configured`);

    let claims: { sha256?: unknown; exp?: unknown };
    try {
      claims = await verifierFor(apiKey, secret).verify(token, options.clockToleranceSeconds);
    } catch (error) {
      return reject(401, 'invalid_token', error instanceof Error ? error.message : String(error));
    }
    const latestExp = now() / 1000 + MAX_TOKEN_LIFETIME_SECONDS + options.clockToleranceSeconds;
    if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp) || claims.exp > latestExp) {
      return reject(
        401,
        'invalid_token',
        `"exp" must be a time at most ${MAX_TOKEN_LIFETIME_SECONDS} s ahead (LiveKit's tokens live 5 minutes)`,
      );
    }
    const bodyHash = createHash('sha256').update(request.body).digest('base64');
    if (claims.sha256 !== bodyHash) return reject(401, 'body_hash_mismatch');

    // From here the body is LiveKit's: anything refused now is refused with a status LiveKit
    // retries (5xx) unless LiveKit could never have sent it (the 400s below).
    const tooLarge = (fields: Record<string, number>, eventLog = log): IngestResponse => {
      eventLog.error('event not stored; asking LiveKit to retry', { reason: 'event_too_large', ...fields, latencyMs: now() - started });
      return retryLater('event_too_large');
    };
    if (request.body.length > options.maxBodyBytes) return tooLarge({ bytes: request.body.length, maxBodyBytes: options.maxBodyBytes });

    let text: string;
    try {
      text = utf8.decode(request.body);
    } catch {
      return reject(400, 'body_not_utf8', 'the body must be UTF-8 (LiveKit sends protojson, always valid UTF-8)');
    }
    let event: unknown;
    try {
      event = JSON.parse(text);
    } catch {
      return reject(400, 'body_not_json');
    }
    const summary = summarize(event);
    if (!summary) return reject(400, 'not_an_event', 'the body must be a JSON object with string "id" and "event"');

    const eventLog = log.child({ eventId: summary.id, eventType: summary.type, room: summary.room });
    const attributes: Record<string, string> = {
      [MESSAGE_ATTRIBUTE.eventId]: sqsSafeAttribute(summary.id),
      [MESSAGE_ATTRIBUTE.eventType]: sqsSafeAttribute(summary.type),
      [MESSAGE_ATTRIBUTE.source]: 'webhook',
      [MESSAGE_ATTRIBUTE.receivedAt]: String(started),
    };
    if (summary.room) attributes[MESSAGE_ATTRIBUTE.roomName] = sqsSafeAttribute(summary.room);
    // The signed text, unless it holds characters SQS refuses: then the same JSON with those
    // characters as \u escapes (lambda/shared/sqs-safe-body.ts).
    const body = sqsSafeBody(text);
    const messageBytes = sqsMessageBytes(body, attributes);
    // Too large for one SQS message: the body goes to the claim-check bucket and the message
    // carries a pointer to it (contracts/queue-message.ts), if a bucket is configured.
    const claimCheck = messageBytes > SQS_MAX_MESSAGE_BYTES;
    const store = claimCheck ? options.enqueueClaimCheck : options.enqueue;
    if (!store) return tooLarge({ bytes: request.body.length, messageBytes, maxMessageBytes: SQS_MAX_MESSAGE_BYTES }, eventLog);
    try {
      await store({ body, attributes });
    } catch (error) {
      eventLog.error('event not stored; asking LiveKit to retry', {
        error,
        ...(claimCheck ? { claimCheck, messageBytes } : {}),
        latencyMs: now() - started,
      });
      return retryLater('not_stored');
    }
    eventLog.info('event enqueued', {
      latencyMs: now() - started,
      bytes: request.body.length,
      ...(body !== text ? { escapedBytes: Buffer.byteLength(body) } : {}),
      ...(claimCheck ? { claimCheck, messageBytes } : {}),
    });
    return respond(200, { ok: true, id: summary.id });
  };
}

function respond(statusCode: number, body: object, headers: Record<string, string> = {}): IngestResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

/** Header lookup ignoring case: API Gateway lowercases names, other front doors may not. */
export function header(headers: Readonly<Record<string, string | undefined>>, name: string): string | undefined {
  const direct = headers[name];
  if (direct !== undefined) return direct;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

/** A JWT in compact form: three base64url parts, nothing around them. */
const COMPACT_JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The `iss` of a JWT, read without verifying it, only to choose which secret to verify it with.
 * The header must be the bare token, as LiveKit sends it (livekit/protocol
 * `webhook/resource_url_notifier.go`: `req.Header.Set(authHeader, token)`, no prefix) and as
 * LiveKit's own receivers expect it (livekit/protocol `webhook/verifier.go` and livekit-server-sdk's
 * `WebhookReceiver` hand the header to the JWT parser unchanged). Anything else, a `Bearer `
 * prefix included, is malformed: refused before any key lookup, so lookup and verification
 * always see the same token.
 */
export function unverifiedIssuer(token: string): string | undefined {
  if (!COMPACT_JWT.test(token)) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
    if (typeof payload === 'object' && payload !== null && typeof (payload as { iss?: unknown }).iss === 'string') {
      const iss = (payload as { iss: string }).iss;
      return iss === '' ? undefined : iss;
    }
  } catch {
    // Not base64url JSON: reported as a malformed token.
  }
  return undefined;
}

/**
 * Whether the token's (unverified) header names HS256. LiveKit signs every token with HS256
 * (livekit/protocol `auth/accesstoken.go` `ToJWT`: `jose.SigningKey{Algorithm: jose.HS256, ...}`;
 * livekit-server-sdk's `AccessToken` the same), but the SDK's `TokenVerifier` passes no
 * `algorithms` to `jose.jwtVerify`, which then also verifies HS384 and HS512 with the same secret.
 * Checked before the key lookup: a header of a few dozen bytes to decode, and a token of another
 * algorithm costs no read of the secret. The verification still checks the signature against it.
 */
export function signedWithHs256(token: string): boolean {
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'));
    return typeof header === 'object' && header !== null && (header as { alg?: unknown }).alg === 'HS256';
  } catch {
    return false;
  }
}

/**
 * An unverified `iss` as it may appear in a log line: LiveKit API keys are short ASCII ids, so a
 * short printable one is shown whole; anything else (a forger's 7 KB `iss`, control characters)
 * by its first characters, its length and a hash, so a log line cannot be amplified or forged.
 */
export function loggableKey(apiKey: string): string {
  if (apiKey.length <= 64 && /^[\x21-\x7e]+$/.test(apiKey)) return apiKey;
  const head = apiKey.slice(0, 16).replace(/[^\x21-\x7e]/g, '?');
  return `${head}... (${apiKey.length} chars, sha256 ${createHash('sha256').update(apiKey).digest('hex').slice(0, 12)})`;
}

interface EventSummary {
  readonly id: string;
  readonly type: string;
  readonly room?: string;
}

/** Only what enqueueing needs: the event's id and type, and its room for routing and logs. */
function summarize(event: unknown): EventSummary | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return undefined;
  const { id, event: type, room, egressInfo, ingressInfo } = event as Record<string, unknown>;
  if (typeof id !== 'string' || id === '' || typeof type !== 'string' || type === '') return undefined;
  const roomName = nameOf(room, 'name') ?? nameOf(egressInfo, 'roomName') ?? nameOf(ingressInfo, 'roomName');
  return { id, type, ...(roomName ? { room: roomName } : {}) };
}

function nameOf(value: unknown, field: string): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const name = (value as Record<string, unknown>)[field];
  return typeof name === 'string' && name !== '' ? name : undefined;
}
