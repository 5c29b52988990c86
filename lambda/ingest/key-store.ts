import { KeysSecretError, parseKeysSecret } from '../shared/keys-secret';
import { withDeadline } from './deadline';

/**
 * The LiveKit API key/secret pairs the ingest path accepts, read from Secrets Manager and cached.
 *
 * Several pairs may be valid at once (rotation): the secret holds `{"<apiKey>": "<apiSecret>", ...}`
 * and a token is checked against the pair named by its `iss`.
 *
 * Nothing here may make LiveKit wait: it gives up after about 3 s, and one slow answer holds up
 * every later event of the same room. So:
 * - a key set past its cache period is still served at once, while a refresh runs in the
 *   background; a failed refresh keeps the last good set and is retried with exponential backoff
 *   (1 s, 2 s, 4 s, ... at most 10 s), never once per request;
 *   (On Lambda a background read progresses while invocations run, and may finish in a later
 *   one; the load timeout counts wall-clock time, so a read that spanned a freeze is given up.)
 * - a request waits for a read of the secret only when it cannot be answered otherwise (a cold
 *   start, or a key the cached set lacks), and never longer than `maxWaitMs`; during a backoff
 *   it does not wait at all. It then fails with `KeyStoreUnavailableError`: the sender is not at
 *   fault, and must be told to retry;
 * - a key is called unknown only by a key set whose read started less than
 *   `minRefreshIntervalMs` before the request; an older set is re-read first (LiveKit does not
 *   retry a 401, so a genuine event signed with a key added since must not be answered 401 and
 *   lost). A read already in flight is joined only if it started within that interval too: one
 *   that started earlier (a slow background refresh) may predate the key. If the re-read fails,
 *   the request is answered as unavailable (503, `UnknownKeyUnverifiableError`), not as an unknown
 *   key, and not as a failure to store an event: forged key ids sent while Secrets Manager is down
 *   page nobody. (A set that held no key at all stays "not configured".) The bound is on the age
 *   of the set, not on a count of re-reads per key or in all:
 *   - reads stay bounded under a flood of forged key ids, random or repeated: a re-read makes
 *     the set young again, so there is at most one per interval (failed reads are paced by the
 *     backoff);
 *   - nobody else's requests can make a genuine new key unknown: whatever was sent before, the
 *     set that answers it was read less than one interval earlier, so a key put in the secret
 *     longer ago than that is in it. (A rate limit per key id would let anyone who knows the new
 *     id, which every client join token carries, send it just before the switch and keep it
 *     "recently checked"; a global count of re-reads, as before, let one forged id use up the
 *     re-read the new key needed.)
 */

export class KeyStoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyStoreUnavailableError';
  }
}

/**
 * The secret was read and holds no key pair (`{}`: the stack created it empty and nobody has put
 * the keys in yet). `generation` counts successful reads, so a caller can log once per read
 * instead of once per request.
 */
export class KeysNotConfiguredError extends KeyStoreUnavailableError {
  constructor(readonly generation: number) {
    super('the LiveKit keys secret holds no key pair; put {"<apiKey>": "<apiSecret>"} in it');
    this.name = 'KeysNotConfiguredError';
  }
}

/**
 * The key is not in the last good key set, and a re-read to be sure (that set is older than
 * `minRefreshIntervalMs`) failed or did not come in time. It may be a key added to the secret
 * since, or a forgery: the request is told to retry (503), and this is not a failure to store an
 * event, so it pages nothing (`UnknownKeyRetries`). Cold starts and sets that hold no key throw
 * the other errors.
 */
export class UnknownKeyUnverifiableError extends KeyStoreUnavailableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnknownKeyUnverifiableError';
  }
}

export interface RefreshFailure {
  readonly error: unknown;
  /** Consecutive failed reads. */
  readonly failures: number;
  /** When the next read may start. */
  readonly retryInMs: number;
  /** Whether a last good key set is still being served. */
  readonly servingLastGoodKeys: boolean;
}

export interface KeyStoreOptions {
  /** Returns the secret's current JSON text. */
  readonly load: () => Promise<string>;
  /** How long a loaded key set is used before it is refreshed (in the background). */
  readonly ttlMs: number;
  /**
   * A set read (started) less than this long ago can call a key unknown; an older one is re-read
   * first. So at most one read per interval for unknown keys, and a key put in the secret longer
   * ago than this is never called unknown.
   */
  readonly minRefreshIntervalMs: number;
  /** Longest a request waits for a read of the secret. Default 500 ms (the ingest handler's `KEY_WAIT_MS`). */
  readonly maxWaitMs?: number;
  /** A read not settled by then counts as failed, so a hung call cannot block refreshes for good. Default 5 s. */
  readonly loadTimeoutMs?: number;
  /** First backoff after a failed read; doubled per further failure up to `maxBackoffMs`. Default 1 s. */
  readonly baseBackoffMs?: number;
  /** Default 10 s: a cold container whose first read failed recovers within LiveKit's retries. */
  readonly maxBackoffMs?: number;
  /** Called once per failed read (reads are rate-limited by the backoff, so this cannot flood). */
  readonly onRefreshFailed?: (failure: RefreshFailure) => void;
  readonly now?: () => number;
}

export type KeySet = ReadonlyMap<string, string>;

export class KeyStore {
  private keys: KeySet | undefined;
  private loadedAt = -Infinity;
  /** When the read that produced `keys` started: what it lacks was not in the secret then. */
  private readStartedAt = -Infinity;
  private inFlight: Promise<KeySet> | undefined;
  /** When the read in flight started: a request that needs a set younger than that starts its own. */
  private inFlightStartedAt = -Infinity;
  private failures = 0;
  private retryAt = -Infinity;
  private lastError: unknown;
  private generation = 0;
  private readonly now: () => number;

  constructor(private readonly options: KeyStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The secret for `apiKey`, or `undefined` when a key set read less than `minRefreshIntervalMs`
   * before the request does not have it (an older set is re-read first). Throws
   * `KeysNotConfiguredError` when the secret holds no key pair (or held none at the last read, and
   * the re-read failed), `KeyStoreUnavailableError` when no key set could be read in time on a
   * cold start, `UnknownKeyUnverifiableError` when the re-read for a key the last good set lacks
   * failed (we cannot tell an unknown key then).
   */
  async secretFor(apiKey: string): Promise<string | undefined> {
    const askedAt = this.now();
    let keys = this.keys ?? (await this.read());
    if (this.now() - this.loadedAt >= this.options.ttlMs) this.refreshInBackground();
    const secret = keys.get(apiKey);
    if (secret !== undefined) return secret;
    const notBefore = askedAt - this.options.minRefreshIntervalMs;
    if (this.readStartedAt <= notBefore) {
      const lastGood = keys;
      try {
        // A read in flight that started earlier than that may not hold a key added since: it is
        // not joined, a read of our own starts (at most one per interval: it is young until then).
        keys = await this.read(notBefore);
      } catch (error) {
        if (!(error instanceof KeyStoreUnavailableError)) throw error;
        // What the last good set says stands for what we cannot re-read: no key pair at all is
        // still "not configured"; a key it lacks is unknown, or new: ask the sender to retry.
        if (lastGood.size === 0) throw new KeysNotConfiguredError(this.generation);
        throw new UnknownKeyUnverifiableError(
          `the API key is not in the key set read ${Math.round(askedAt - this.readStartedAt)} ms ago, and the secret could not be read again (${error.message})`,
          { cause: error },
        );
      }
    }
    return this.lookup(keys, apiKey);
  }

  private lookup(keys: KeySet, apiKey: string): string | undefined {
    if (keys.size === 0) throw new KeysNotConfiguredError(this.generation);
    return keys.get(apiKey);
  }

  private refreshInBackground(): void {
    if (!this.inFlight && this.now() >= this.retryAt) this.start();
  }

  /**
   * A fresh key set from a read started no earlier than `notBefore` (a read in flight that started
   * before it is not joined), waiting at most `maxWaitMs` for it; no wait at all during a backoff.
   */
  private async read(notBefore = -Infinity): Promise<KeySet> {
    if (!this.inFlight || this.inFlightStartedAt < notBefore) {
      const waitMs = this.retryAt - this.now();
      if (waitMs > 0) {
        throw new KeyStoreUnavailableError(
          `the LiveKit keys secret could not be read (${this.failures} failed reads; next in ${waitMs} ms)`,
          { cause: this.lastError },
        );
      }
      this.start();
    }
    const reading = this.inFlight!;
    try {
      return await withDeadline('reading the LiveKit keys secret', this.options.maxWaitMs ?? 500, () => reading);
    } catch (error) {
      throw error instanceof KeyStoreUnavailableError
        ? error
        : new KeyStoreUnavailableError(`could not read the LiveKit API keys (${nameOf(error)})`, { cause: error });
    }
  }

  /** Starts one read for every caller; its outcome updates the cache or the backoff, whoever awaits it. */
  private start(): void {
    const startedAt = this.now();
    const reading = withDeadline('reading the LiveKit keys secret', this.options.loadTimeoutMs ?? 5_000, () => this.options.load()).then(
      parseKeySet,
    );
    const settled = reading.then(
      (keys) => {
        // A read that started before the one that set the cache came in last: it is older news.
        if (startedAt < this.readStartedAt && this.keys) return this.keys;
        this.keys = keys;
        this.loadedAt = this.now();
        this.readStartedAt = startedAt;
        this.failures = 0;
        this.retryAt = -Infinity;
        this.generation++;
        return keys;
      },
      (cause: unknown) => {
        // A younger read already succeeded: this one's failure changes nothing.
        if (startedAt < this.readStartedAt && this.keys) return this.keys;
        // Only our own messages and the failure's class go further (into logs): a client error's
        // message could quote what it was reading.
        const error =
          cause instanceof KeyStoreUnavailableError
            ? cause
            : new KeyStoreUnavailableError(`could not read the LiveKit API keys (${nameOf(cause)})`, { cause });
        this.failures++;
        const retryInMs = Math.min((this.options.baseBackoffMs ?? 1_000) * 2 ** (this.failures - 1), this.options.maxBackoffMs ?? 10_000);
        this.retryAt = this.now() + retryInMs;
        this.lastError = error;
        this.options.onRefreshFailed?.({ error, failures: this.failures, retryInMs, servingLastGoodKeys: this.keys !== undefined });
        throw error;
      },
    );
    this.inFlight = settled;
    this.inFlightStartedAt = startedAt;
    // Cleared whatever the outcome; a background refresh nobody awaits must not be an unhandled rejection.
    settled.then(
      () => this.clear(settled),
      () => this.clear(settled),
    );
  }

  private clear(settled: Promise<KeySet>): void {
    if (this.inFlight === settled) this.inFlight = undefined;
  }
}

function nameOf(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/** Parses `{"<apiKey>": "<apiSecret>", ...}` (lambda/shared/keys-secret.ts); anything else is a configuration error. */
export function parseKeySet(text: string): KeySet {
  try {
    return parseKeysSecret(text);
  } catch (error) {
    if (error instanceof KeysSecretError) throw new KeyStoreUnavailableError(error.message);
    throw error;
  }
}
