/**
 * LiveKit's webhook sender, rebuilt from livekit/protocol `webhook/resource_url_notifier.go`,
 * `webhook/resource_queue.go`, `webhook/notifier.go` and `webhook/filter.go` (docs/livekit-delivery.md) with every
 * duration a parameter, and with a ground-truth record of what happened to each event: the thing a
 * real LiveKit server never tells you.
 *
 * Modelled rules:
 * - one serial queue per (URL, resource key); key = egress id, else ingress id, else room name,
 *   else participant identity, else track sid, else "default";
 * - MaxDepth is checked when an event is enqueued, against the events still waiting (the one being
 *   sent is no longer in the queue); MaxAge is checked when an event reaches the front, against the
 *   time it waited (time spent retrying the event itself does not count);
 * - go-retryablehttp: retry on transport errors, timeouts, 429 and 5xx except 501; backoff
 *   min * 2^attempt capped at max, `Retry-After` honoured on 429/503; any other status is "sent";
 *   the transport errors `baseRetryPolicy` does not retry (certificate verification, "stopped after
 *   10 redirects", invalid header, unsupported scheme) end delivery at once, the event lost;
 * - Go's `http.Client` follows redirects (at most 10): 301/302/303 as a GET without body,
 *   307/308 as the same POST; `Authorization` kept only on the same host;
 * - one JWT per event (`iss` = API key, 5 min, `sha256` of the exact body), reused on every retry;
 * - the project's event filter (`webhook.filter_params`, or LiveKit Cloud's webhook settings):
 *   `ResourceURLNotifier.QueueNotify` returns before queueing an event the filter does not allow
 *   (`webhook/filter.go`: `includeEvents` wins over `excludeEvents`; neither set = all). A filtered
 *   event is generated (it is ground truth) but never queued, sent or counted as dropped.
 */
import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import { WebhookEvent } from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import { bodySha256 } from './signing';
import { newGuid, RandomSource } from './ids';
import { Clock, monotonicClock, TimerSet } from './timing';

/**
 * Why LiveKit lost an event: too old at the front of its queue, queue full, every retry failed, or
 * a transport error go-retryablehttp does not retry (`not_retryable`: TLS certificate verification,
 * too many redirects, an invalid header or an unsupported scheme; hashicorp/go-retryablehttp
 * `client.go` `baseRetryPolicy`); LiveKit then logs "failed to send webhook" and moves on
 * (livekit/protocol `webhook/resource_url_notifier.go`).
 */
export type DropReason = 'max_age' | 'max_depth' | 'retries_exhausted' | 'not_retryable';

/** Delivery parameters, all durations in milliseconds of real time. */
export interface WebhookDeliveryProfile {
  /** Retries after the first attempt (go-retryablehttp `RetryMax`). */
  readonly maxRetries: number;
  /** Whole-request timeout per attempt; 0 means none (Go's `http.Client.Timeout` unset). */
  readonly requestTimeoutMs: number;
  readonly retryWaitMinMs: number;
  readonly retryWaitMaxMs: number;
  /** An event that waited longer than this in its queue is dropped unsent. */
  readonly maxAgeMs: number;
  /** A queue with this many events waiting drops new ones. */
  readonly maxDepth: number;
}

/** livekit-server defaults: go-retryablehttp's 4 retries, 1 s..30 s backoff, no client timeout. */
export const OPEN_SOURCE_PROFILE: WebhookDeliveryProfile = Object.freeze({
  maxRetries: 4,
  requestTimeoutMs: 0,
  retryWaitMinMs: 1_000,
  retryWaitMaxMs: 30_000,
  maxAgeMs: 30_000,
  maxDepth: 200,
});

/** LiveKit Cloud as its staff describe it (not configurable there): ~3 s timeout, 3 retries. */
export const LIVEKIT_CLOUD_PROFILE: WebhookDeliveryProfile = Object.freeze({
  ...OPEN_SOURCE_PROFILE,
  maxRetries: 3,
  requestTimeoutMs: 3_000,
});

export type WebhookProfileName = 'open-source' | 'cloud';

export interface WebhookSenderOptions {
  /**
   * Every URL gets every event, through queues of its own (LiveKit runs one notifier per URL),
   * in this order: an event the queue of one URL refuses (MaxDepth) is not queued for the URLs
   * after it, as in LiveKit.
   */
  readonly urls: readonly string[];
  /** Key and secret the events are signed with (LiveKit's `webhook.api_key`). */
  readonly apiKey: string;
  readonly apiSecret: string;
  /** Starting point for the delivery parameters; default `open-source`. */
  readonly profile?: WebhookProfileName | WebhookDeliveryProfile;
  /**
   * Multiplies every duration of the profile, and `Retry-After`, so a test can run LiveKit's
   * timings 100x faster (`0.01`: MaxAge 300 ms, backoff 10/20/40/80 ms). Explicit `*Ms` options
   * below are taken as given, not scaled.
   */
  readonly timeScale?: number;
  readonly maxRetries?: number;
  readonly requestTimeoutMs?: number;
  readonly retryWaitMinMs?: number;
  readonly retryWaitMaxMs?: number;
  readonly maxAgeMs?: number;
  readonly maxDepth?: number;
  /** JWT lifetime; LiveKit uses 5 minutes. Real seconds: the receiver checks it against its clock. */
  readonly tokenTtlSeconds?: number;
  /** Time source for queue ages; tests pass a manual clock to cross MaxAge without sleeping. */
  readonly clock?: Clock;
  readonly random?: RandomSource;
  readonly userAgent?: string;
  /** The project's webhook event filter; default: every event type. */
  readonly filter?: WebhookFilter;
}

/** livekit/protocol `webhook.FilterParams`. */
export interface WebhookFilter {
  /** When non-empty, only these event types are sent (takes precedence over `excludeEvents`). */
  readonly includeEvents?: readonly string[];
  /** When non-empty (and `includeEvents` is empty), these event types are not sent. */
  readonly excludeEvents?: readonly string[];
}

/** livekit/protocol `webhook/filter.go` `IsAllowed`. */
export function isEventAllowed(filter: WebhookFilter | undefined, eventType: string): boolean {
  if (filter?.includeEvents && filter.includeEvents.length > 0) return filter.includeEvents.includes(eventType);
  if (filter?.excludeEvents && filter.excludeEvents.length > 0) return !filter.excludeEvents.includes(eventType);
  return true;
}

export interface GeneratedEvent {
  readonly id: string;
  readonly type: string;
  readonly room?: string;
  /** Resource key of the event's queue (same for every URL). */
  readonly key: string;
  /** The exact bytes posted. */
  readonly body: string;
  readonly event: WebhookEvent;
  readonly generatedAtMs: number;
  /** The project's filter excludes the type: never queued or sent (not a drop). */
  readonly filtered?: boolean;
}

export interface DeliveryAttempt {
  /** 0 for the first try. */
  readonly attempt: number;
  readonly startedAtMs: number;
  readonly durationMs: number;
  readonly status?: number;
  readonly error?: string;
  /** Wait chosen before the next attempt (absent on the last one). */
  nextWaitMs?: number;
}

export type DeliveryOutcome = 'queued' | 'sending' | 'delivered' | 'dropped';

/** What happened to one event at one URL. */
export interface Delivery {
  readonly eventId: string;
  readonly type: string;
  readonly room?: string;
  readonly key: string;
  readonly url: string;
  readonly queuedAtMs: number;
  outcome: DeliveryOutcome;
  /** Status of the answer that ended delivery (2xx, or a non-retried 4xx/501). */
  status?: number;
  dropReason?: DropReason;
  readonly attempts: DeliveryAttempt[];
  /** The `Authorization` value sent on every attempt. */
  token?: string;
  settledAtMs?: number;
}

export interface TypeStats {
  generated: number;
  delivered: number;
  dropped: number;
}

export interface WebhookSenderStats {
  readonly generated: number;
  /** Counted per (event, URL). */
  readonly delivered: number;
  readonly dropped: number;
  /** Events the project's filter kept from being sent (per event, not per URL). */
  readonly filtered: number;
  readonly pending: number;
  readonly attempts: number;
  readonly dropReasons: Record<DropReason, number>;
  readonly byType: Record<string, TypeStats>;
}

export interface WebhookSenderEvents {
  generated: (event: GeneratedEvent) => void;
  attempt: (delivery: Delivery, attempt: DeliveryAttempt) => void;
  delivered: (delivery: Delivery) => void;
  dropped: (delivery: Delivery) => void;
}

export class WebhookSenderStoppedError extends Error {
  constructor() {
    super('webhook sender is stopped');
    this.name = 'WebhookSenderStoppedError';
  }
}

interface ResourceQueue {
  readonly id: string;
  readonly items: Delivery[];
  running: boolean;
}

interface AttemptResult {
  readonly status?: number;
  readonly retryAfter?: string;
  readonly error?: string;
  /** A transport error go-retryablehttp does not retry. */
  readonly notRetryable?: boolean;
}

/** Go's `http.Client` default `CheckRedirect`: "stopped after 10 redirects". */
const MAX_REDIRECTS = 10;

/**
 * Node's codes for a certificate that fails verification; Go reports all of them as
 * `*tls.CertificateVerificationError`, which go-retryablehttp (`cert_error_go120.go` `isCertError`)
 * does not retry.
 */
const CERT_ERROR_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Node's codes for a header value or name Go's transport would refuse ("invalid header field ..."). */
const INVALID_HEADER_CODES: ReadonlySet<string> = new Set(['ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN', 'ERR_HTTP_INVALID_HEADER_VALUE']);

/** livekit/protocol `webhook.EventKey`. */
export function webhookEventKey(event: WebhookEvent): string {
  if (event.egressInfo) return event.egressInfo.egressId;
  if (event.ingressInfo) return event.ingressInfo.ingressId;
  if (event.room) return event.room.name;
  if (event.participant) return event.participant.identity;
  if (event.track) return event.track.sid;
  return 'default';
}

export { bodySha256 };

export function resolveDeliveryProfile(options: Omit<WebhookSenderOptions, 'urls' | 'apiKey' | 'apiSecret'>): WebhookDeliveryProfile {
  const base =
    options.profile === undefined || options.profile === 'open-source'
      ? OPEN_SOURCE_PROFILE
      : options.profile === 'cloud'
        ? LIVEKIT_CLOUD_PROFILE
        : options.profile;
  const scale = options.timeScale ?? 1;
  if (!(scale > 0)) throw new RangeError(`timeScale must be > 0, got ${scale}`);
  const profile: WebhookDeliveryProfile = {
    maxRetries: options.maxRetries ?? base.maxRetries,
    requestTimeoutMs: options.requestTimeoutMs ?? base.requestTimeoutMs * scale,
    retryWaitMinMs: options.retryWaitMinMs ?? base.retryWaitMinMs * scale,
    retryWaitMaxMs: options.retryWaitMaxMs ?? base.retryWaitMaxMs * scale,
    maxAgeMs: options.maxAgeMs ?? base.maxAgeMs * scale,
    maxDepth: options.maxDepth ?? base.maxDepth,
  };
  if (!Number.isInteger(profile.maxRetries) || profile.maxRetries < 0) throw new RangeError('maxRetries must be an integer >= 0');
  if (!Number.isInteger(profile.maxDepth) || profile.maxDepth < 1) throw new RangeError('maxDepth must be an integer >= 1');
  return profile;
}

export class WebhookSender {
  readonly profile: WebhookDeliveryProfile;
  readonly urls: readonly string[];
  private readonly timeScale: number;
  private readonly clock: Clock;
  private readonly random: RandomSource;
  private readonly emitter = new EventEmitter();
  private readonly timers = new TimerSet();
  private readonly queues = new Map<string, ResourceQueue>();
  private readonly inFlight = new Set<http.ClientRequest>();
  private readonly httpAgent = new http.Agent({ keepAlive: true });
  private readonly httpsAgent = new https.Agent({ keepAlive: true });
  private readonly generatedEvents: GeneratedEvent[] = [];
  private readonly deliveryLog: Delivery[] = [];
  private readonly bodies = new Map<string, string>();
  private idleWaiters: Array<() => void> = [];
  private accepting = true;
  private stopped = false;

  constructor(private readonly options: WebhookSenderOptions) {
    if (!options.apiKey || !options.apiSecret) throw new RangeError('apiKey and apiSecret are required to sign webhooks');
    for (const url of options.urls) {
      const protocol = new URL(url).protocol;
      if (protocol !== 'http:' && protocol !== 'https:') throw new RangeError(`webhook URL must be http(s): ${url}`);
    }
    this.urls = [...options.urls];
    this.profile = resolveDeliveryProfile(options);
    this.timeScale = options.timeScale ?? 1;
    this.clock = options.clock ?? monotonicClock;
    this.random = options.random ?? Math.random;
    // Each queue may hold a listener through waitFor(); many concurrent waits are normal here.
    this.emitter.setMaxListeners(0);
  }

  on<K extends keyof WebhookSenderEvents>(name: K, listener: WebhookSenderEvents[K]): this {
    this.emitter.on(name, listener);
    return this;
  }

  off<K extends keyof WebhookSenderEvents>(name: K, listener: WebhookSenderEvents[K]): this {
    this.emitter.off(name, listener);
    return this;
  }

  /**
   * Queues `event` for every URL, the way `DefaultNotifier.QueueNotify` does: fills in `id` and
   * `createdAt` (unix seconds) when absent, serialises it once, and returns what was generated.
   * Synchronous: queue-full drops are decided here, as in LiveKit.
   */
  send(event: WebhookEvent): GeneratedEvent {
    if (!this.accepting) throw new WebhookSenderStoppedError();
    if (!event.id) event.id = newGuid('event', this.random);
    if (!event.createdAt) event.createdAt = BigInt(Math.floor(Date.now() / 1000));
    const filtered = !isEventAllowed(this.options.filter, event.event);
    const generated: GeneratedEvent = {
      ...(filtered ? { filtered } : {}),
      id: event.id,
      type: event.event,
      room: event.room?.name || event.egressInfo?.roomName || event.ingressInfo?.roomName || event.job?.room?.name || undefined,
      key: webhookEventKey(event),
      body: event.toJsonString(),
      event,
      generatedAtMs: this.clock(),
    };
    this.generatedEvents.push(generated);
    this.bodies.set(generated.id, generated.body);
    this.emitter.emit('generated', generated);
    // livekit/protocol webhook/notifier.go `DefaultNotifier.QueueNotify` returns at the first URL
    // whose queue refuses the event (`errQueueFull` at MaxDepth, resource_queue.go `EnqueueAt`):
    // the URLs after it never get it either.
    if (!filtered)
      for (const [i, url] of this.urls.entries())
        if (!this.enqueue(generated, url)) {
          for (const later of this.urls.slice(i + 1)) this.drop(this.record(generated, later), 'max_depth');
          break;
        }
    return generated;
  }

  /** Resolves when every queue is empty and nothing is being sent. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Resolves with the delivery of `eventId` (to `url`, default the first URL) once it is delivered or dropped. */
  settled(eventId: string, url: string | undefined = this.urls[0]): Promise<Delivery> {
    const matches = (d: Delivery): boolean => d.eventId === eventId && d.url === url;
    const done = this.deliveryLog.find((d) => matches(d) && (d.outcome === 'delivered' || d.outcome === 'dropped'));
    if (done) return Promise.resolve(done);
    return new Promise((resolve) => {
      const listener = (d: Delivery): void => {
        if (!matches(d)) return;
        this.emitter.off('delivered', listener);
        this.emitter.off('dropped', listener);
        resolve(d);
      };
      this.emitter.on('delivered', listener);
      this.emitter.on('dropped', listener);
    });
  }

  /** Stops accepting events and resolves once everything queued has been sent or dropped. */
  async drain(): Promise<void> {
    this.accepting = false;
    await this.idle();
  }

  /** Aborts in-flight requests and pending retries; undelivered events stay `queued`/`sending`. */
  async stop(): Promise<void> {
    this.accepting = false;
    this.stopped = true;
    this.timers.cancelAll();
    for (const req of this.inFlight) req.destroy(new WebhookSenderStoppedError());
    this.inFlight.clear();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    for (const queue of this.queues.values()) queue.items.length = 0;
    this.queues.clear();
    this.notifyIdle();
  }

  /** Every event generated, in order. */
  events(): readonly GeneratedEvent[] {
    return this.generatedEvents;
  }

  /** Every (event, URL) delivery record, in the order the events were generated. */
  deliveries(filter?: { readonly url?: string; readonly eventId?: string; readonly type?: string }): Delivery[] {
    return this.deliveryLog.filter(
      (d) =>
        (filter?.url === undefined || d.url === filter.url) &&
        (filter?.eventId === undefined || d.eventId === filter.eventId) &&
        (filter?.type === undefined || d.type === filter.type),
    );
  }

  delivered(): Delivery[] {
    return this.deliveryLog.filter((d) => d.outcome === 'delivered');
  }

  dropped(reason?: DropReason): Delivery[] {
    return this.deliveryLog.filter((d) => d.outcome === 'dropped' && (reason === undefined || d.dropReason === reason));
  }

  stats(): WebhookSenderStats {
    const dropReasons: Record<DropReason, number> = { max_age: 0, max_depth: 0, retries_exhausted: 0, not_retryable: 0 };
    const byType: Record<string, TypeStats> = {};
    const typeStats = (type: string): TypeStats => (byType[type] ??= { generated: 0, delivered: 0, dropped: 0 });
    for (const e of this.generatedEvents) typeStats(e.type).generated += 1;
    let delivered = 0;
    let dropped = 0;
    let attempts = 0;
    for (const d of this.deliveryLog) {
      attempts += d.attempts.length;
      if (d.outcome === 'delivered') {
        delivered += 1;
        typeStats(d.type).delivered += 1;
      } else if (d.outcome === 'dropped') {
        dropped += 1;
        typeStats(d.type).dropped += 1;
        dropReasons[d.dropReason!] += 1;
      }
    }
    return {
      generated: this.generatedEvents.length,
      delivered,
      dropped,
      filtered: this.generatedEvents.filter((e) => e.filtered).length,
      pending: this.deliveryLog.length - delivered - dropped,
      attempts,
      dropReasons,
      byType,
    };
  }

  /** A delivery of `event` to `url`, in the log. */
  private record(event: GeneratedEvent, url: string): Delivery {
    const delivery: Delivery = {
      eventId: event.id,
      type: event.type,
      room: event.room,
      key: event.key,
      url,
      queuedAtMs: this.clock(),
      outcome: 'queued',
      attempts: [],
    };
    this.deliveryLog.push(delivery);
    return delivery;
  }

  /** Queues `event` for `url`; false when the queue is full (MaxDepth) and the event was dropped. */
  private enqueue(event: GeneratedEvent, url: string): boolean {
    const delivery = this.record(event, url);
    const queueId = `${url}\n${event.key}`;
    let queue = this.queues.get(queueId);
    if (!queue) {
      queue = { id: queueId, items: [], running: false };
      this.queues.set(queueId, queue);
    }
    if (queue.items.length >= this.profile.maxDepth) {
      this.drop(delivery, 'max_depth');
      return false;
    }
    queue.items.push(delivery);
    if (!queue.running) {
      queue.running = true;
      void this.work(queue);
    }
    return true;
  }

  private async work(queue: ResourceQueue): Promise<void> {
    try {
      while (!this.stopped) {
        const delivery = queue.items.shift();
        if (!delivery) break;
        if (this.clock() - delivery.queuedAtMs > this.profile.maxAgeMs) {
          this.drop(delivery, 'max_age');
          continue;
        }
        await this.deliver(delivery, this.bodies.get(delivery.eventId)!);
      }
    } finally {
      queue.running = false;
      if (queue.items.length === 0 && this.queues.get(queue.id) === queue) this.queues.delete(queue.id);
      this.notifyIdle();
    }
  }

  private async deliver(delivery: Delivery, body: string): Promise<void> {
    delivery.outcome = 'sending';
    const at = new AccessToken(this.options.apiKey, this.options.apiSecret, { ttl: this.options.tokenTtlSeconds ?? 300 });
    at.sha256 = bodySha256(body);
    const token = await at.toJwt();
    delivery.token = token;
    for (let attempt = 0; !this.stopped; attempt += 1) {
      const startedAtMs = this.clock();
      const result = await this.post(delivery.url, body, token);
      if (this.stopped) return;
      const record: DeliveryAttempt = {
        attempt,
        startedAtMs,
        durationMs: this.clock() - startedAtMs,
        ...(result.status !== undefined ? { status: result.status } : {}),
        ...(result.error !== undefined ? { error: result.error } : {}),
      };
      delivery.attempts.push(record);
      if (result.notRetryable) {
        this.emitter.emit('attempt', delivery, record);
        this.drop(delivery, 'not_retryable');
        return;
      }
      const retry = shouldRetry(result);
      if (!retry) {
        this.emitter.emit('attempt', delivery, record);
        delivery.outcome = 'delivered';
        delivery.status = result.status;
        delivery.settledAtMs = this.clock();
        this.emitter.emit('delivered', delivery);
        return;
      }
      if (attempt >= this.profile.maxRetries) {
        this.emitter.emit('attempt', delivery, record);
        this.drop(delivery, 'retries_exhausted');
        return;
      }
      record.nextWaitMs = this.backoff(attempt, result);
      this.emitter.emit('attempt', delivery, record);
      await this.timers.sleep(record.nextWaitMs);
    }
  }

  /** go-retryablehttp `DefaultBackoff`. */
  private backoff(attempt: number, result: AttemptResult): number {
    if ((result.status === 429 || result.status === 503) && result.retryAfter !== undefined) {
      const seconds = parseRetryAfter(result.retryAfter);
      if (seconds !== undefined) return seconds * 1000 * this.timeScale;
    }
    return Math.min(2 ** attempt * this.profile.retryWaitMinMs, this.profile.retryWaitMaxMs);
  }

  /**
   * One go-retryablehttp attempt: Go's `http.Client.Do`, redirects followed as Go does, the request
   * timeout (Go's `Client.Timeout`) covering the whole chain.
   */
  private async post(url: string, body: string, token: string): Promise<AttemptResult> {
    // Real time, not `clock`: a test's manual clock moves queue ages, never request timeouts.
    const deadline = this.profile.requestTimeoutMs > 0 ? Date.now() + this.profile.requestTimeoutMs : undefined;
    const origin = new URL(url);
    let target = origin;
    let method: 'POST' | 'GET' = 'POST';
    for (let redirects = 0; ; redirects += 1) {
      const remaining = deadline === undefined ? 0 : Math.max(1, deadline - Date.now());
      const sameHost = target.hostname === origin.hostname || target.hostname.endsWith(`.${origin.hostname}`);
      const result = await this.request(target, method, method === 'POST' ? body : undefined, sameHost ? token : undefined, remaining);
      if (result.error !== undefined || result.location === undefined) return result;
      // Go's redirectBehavior: 301/302/303 turn a POST into a GET without body; 307/308 resend it.
      // Go's defaultCheckRedirect refuses the redirect once 10 requests were made.
      if (redirects + 1 >= MAX_REDIRECTS) return { error: `Post "${url}": stopped after ${MAX_REDIRECTS} redirects`, notRetryable: true };
      let next: URL;
      try {
        next = new URL(result.location, target);
      } catch {
        return { status: result.status ?? 0 };
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        return { error: `Post "${url}": unsupported protocol scheme "${next.protocol.replace(/:$/, '')}"`, notRetryable: true };
      }
      if (result.status === 301 || result.status === 302 || result.status === 303) method = 'GET';
      target = next;
    }
  }

  private request(
    target: URL,
    method: 'POST' | 'GET',
    body: string | undefined,
    token: string | undefined,
    timeoutMs: number,
  ): Promise<AttemptResult & { readonly location?: string }> {
    return new Promise((resolve) => {
      const isHttps = target.protocol === 'https:';
      const payload = body === undefined ? undefined : Buffer.from(body, 'utf8');
      let settled = false;
      let req: http.ClientRequest | undefined;
      let cancelTimeout: () => void = () => undefined;
      const finish = (result: AttemptResult & { readonly location?: string }): void => {
        if (settled) return;
        settled = true;
        cancelTimeout();
        if (req) this.inFlight.delete(req);
        resolve(result);
      };
      const headers: http.OutgoingHttpHeaders = { 'User-Agent': this.options.userAgent ?? 'LiveKit' };
      if (payload) {
        headers['Content-Type'] = 'application/webhook+json';
        headers['Content-Length'] = payload.length;
      }
      if (token !== undefined) headers.Authorization = token;
      try {
        req = (isHttps ? https : http).request(target, { method, agent: isHttps ? this.httpsAgent : this.httpAgent, headers });
      } catch (err) {
        // Go refuses the request before sending it: `net/http: invalid header field value ...`.
        const code = (err as NodeJS.ErrnoException).code ?? '';
        finish({ error: (err as Error).message, ...(INVALID_HEADER_CODES.has(code) ? { notRetryable: true } : {}) });
        return;
      }
      const sent = req;
      this.inFlight.add(sent);
      // Go's Client.Timeout covers the whole exchange, body included.
      if (timeoutMs > 0) cancelTimeout = this.timers.schedule(timeoutMs, () => sent.destroy(new Error('Client.Timeout exceeded')));
      sent.on('response', (res) => {
        const retryAfter = res.headers['retry-after'];
        const location = res.headers.location;
        const status = res.statusCode ?? 0;
        const redirect = REDIRECT_STATUSES.has(status) && typeof location === 'string' && location !== '';
        res.on('error', (err) => finish({ error: err.message }));
        res.on('end', () =>
          finish({ status, ...(typeof retryAfter === 'string' ? { retryAfter } : {}), ...(redirect ? { location } : {}) }),
        );
        res.resume();
      });
      sent.on('error', (err) => {
        const code = (err as NodeJS.ErrnoException).code ?? '';
        finish({ error: err.message, ...(CERT_ERROR_CODES.has(code) ? { notRetryable: true } : {}) });
      });
      sent.end(payload);
    });
  }

  private drop(delivery: Delivery, reason: DropReason): void {
    delivery.outcome = 'dropped';
    delivery.dropReason = reason;
    delivery.settledAtMs = this.clock();
    this.emitter.emit('dropped', delivery);
  }

  private isIdle(): boolean {
    for (const queue of this.queues.values()) if (queue.running || queue.items.length > 0) return false;
    return true;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Statuses Go's `http.Client` follows when a `Location` is given (net/http `redirectBehavior`). */
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** go-retryablehttp `baseRetryPolicy`: transport errors (but see `notRetryable`), 429, and 5xx other than 501. */
function shouldRetry(result: AttemptResult): boolean {
  if (result.status === undefined) return true;
  if (result.status === 429) return true;
  return result.status === 0 || (result.status >= 500 && result.status !== 501);
}

/** Seconds from a `Retry-After` header: delta-seconds or an HTTP date; undefined when unusable. */
export function parseRetryAfter(value: string): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, (date - Date.now()) / 1000);
}
