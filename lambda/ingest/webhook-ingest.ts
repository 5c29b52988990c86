import { createHash } from 'node:crypto';
import { TokenVerifier } from 'livekit-server-sdk';
import type { Logger } from '../shared/logger';
import { MESSAGE_ATTRIBUTE } from '../shared/queue-message';
import { KeyStore, KeyStoreUnavailableError } from './key-store';

/**
 * Verify-and-enqueue: the only work done while LiveKit waits (about 3 s on LiveKit Cloud, and a
 * slow answer holds up every later event of the same room). Verifies the signature over the raw
 * bytes, reads the event's id/type/room, hands the untouched body to the queue, and answers.
 *
 * Status codes follow the contract in DESIGN.md. LiveKit retries only 5xx/429/timeouts and treats
 * any 4xx as delivered, so a 4xx is reserved for requests that are not a genuine event, and any
 * failure on our side is a 503.
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
  readonly maxBodyBytes: number;
  readonly clockToleranceSeconds: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

export const WEBHOOK_PATH = '/webhook';

export type RejectReason =
  | 'route_not_found'
  | 'method_not_allowed'
  | 'body_too_large'
  | 'missing_token'
  | 'malformed_token'
  | 'unknown_key'
  | 'invalid_token'
  | 'body_hash_mismatch'
  | 'body_not_json'
  | 'not_an_event';

export function createWebhookIngest(options: WebhookIngestOptions): (request: IngestRequest) => Promise<IngestResponse> {
  const verifiers = new Map<string, { secret: string; verifier: TokenVerifier }>();
  const now = options.now ?? Date.now;

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

    if (request.path !== WEBHOOK_PATH) return reject(404, 'route_not_found');
    if (request.method !== 'POST') return reject(405, 'method_not_allowed', undefined, { allow: 'POST' });
    if (request.body.length > options.maxBodyBytes) {
      return reject(413, 'body_too_large', `body is ${request.body.length} bytes, the limit is ${options.maxBodyBytes}`);
    }

    const token = header(request.headers, 'authorization')?.trim();
    if (!token) return reject(401, 'missing_token');
    const apiKey = unverifiedIssuer(token);
    if (apiKey === undefined) return reject(401, 'malformed_token');

    let secret: string | undefined;
    try {
      secret = await options.keys.secretFor(apiKey);
    } catch (error) {
      if (!(error instanceof KeyStoreUnavailableError)) throw error;
      log.error('LiveKit API keys unavailable; asking LiveKit to retry', { error, apiKey });
      return respond(503, { error: 'keys_unavailable' }, { 'retry-after': '1' });
    }
    if (secret === undefined) return reject(401, 'unknown_key', `API key "${apiKey}" is not configured`);

    let claims: { sha256?: unknown };
    try {
      claims = await verifierFor(apiKey, secret).verify(token, options.clockToleranceSeconds);
    } catch (error) {
      return reject(401, 'invalid_token', error instanceof Error ? error.message : String(error));
    }
    const bodyHash = createHash('sha256').update(request.body).digest('base64');
    if (claims.sha256 !== bodyHash) return reject(401, 'body_hash_mismatch');

    const text = request.body.toString('utf8');
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
      [MESSAGE_ATTRIBUTE.eventId]: summary.id,
      [MESSAGE_ATTRIBUTE.eventType]: summary.type,
      [MESSAGE_ATTRIBUTE.source]: 'webhook',
      [MESSAGE_ATTRIBUTE.receivedAt]: String(started),
    };
    if (summary.room) attributes[MESSAGE_ATTRIBUTE.roomName] = summary.room;
    try {
      await options.enqueue({ body: text, attributes });
    } catch (error) {
      eventLog.error('event not stored; asking LiveKit to retry', { error, latencyMs: now() - started });
      return respond(503, { error: 'not_stored' }, { 'retry-after': '1' });
    }
    eventLog.info('event enqueued', { latencyMs: now() - started, bytes: request.body.length });
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

/**
 * The `iss` of a JWT, read without verifying it, only to choose which secret to verify it with.
 * LiveKit sends the bare token; a `Bearer ` prefix is tolerated for hand-made requests.
 */
export function unverifiedIssuer(token: string): string | undefined {
  const bare = token.startsWith('Bearer ') ? token.slice(7) : token;
  const parts = bare.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (typeof payload === 'object' && payload !== null && typeof (payload as { iss?: unknown }).iss === 'string') {
      const iss = (payload as { iss: string }).iss;
      return iss === '' ? undefined : iss;
    }
  } catch {
    // Not base64url JSON: reported as a malformed token below.
  }
  return undefined;
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
