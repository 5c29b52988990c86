/**
 * The LiveKit API key/secret pairs the ingest path accepts, read from Secrets Manager and cached.
 *
 * Several pairs may be valid at once (rotation): the secret holds `{"<apiKey>": "<apiSecret>", ...}`
 * and a token is checked against the pair named by its `iss`. A key we have not seen may simply be
 * newer than our cache, so an unknown key forces one early re-read (rate-limited, so a flood of
 * forged tokens cannot turn into a flood of Secrets Manager calls) before it is called unknown:
 * LiveKit does not retry a 401, so answering one to a genuine event loses it.
 */

export class KeyStoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KeyStoreUnavailableError';
  }
}

export interface KeyStoreOptions {
  /** Returns the secret's current JSON text. */
  readonly load: () => Promise<string>;
  /** How long a loaded key set is used before it is read again. */
  readonly ttlMs: number;
  /** Least time between two forced re-reads caused by unknown keys. */
  readonly minRefreshIntervalMs: number;
  readonly now?: () => number;
}

export type KeySet = ReadonlyMap<string, string>;

export class KeyStore {
  private keys: KeySet | undefined;
  private loadedAt = -Infinity;
  private lastForcedAt = -Infinity;
  private inFlight: Promise<KeySet> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: KeyStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The secret for `apiKey`, or `undefined` when the key is not configured.
   * Throws `KeyStoreUnavailableError` when no key set can be read at all, or none is configured:
   * the sender is not at fault then, and must be told to retry.
   */
  async secretFor(apiKey: string): Promise<string | undefined> {
    let keys = await this.current();
    let secret = keys.get(apiKey);
    if (secret === undefined && this.now() - this.lastForcedAt >= this.options.minRefreshIntervalMs) {
      this.lastForcedAt = this.now();
      keys = await this.reload(keys);
      secret = keys.get(apiKey);
    }
    if (keys.size === 0) {
      throw new KeyStoreUnavailableError('no LiveKit API keys are configured in the secret');
    }
    return secret;
  }

  private async current(): Promise<KeySet> {
    if (this.keys && this.now() - this.loadedAt < this.options.ttlMs) return this.keys;
    return this.reload(this.keys);
  }

  /** Reads the secret once for all concurrent callers; on failure keeps serving a stale set. */
  private async reload(stale: KeySet | undefined): Promise<KeySet> {
    this.inFlight ??= this.options
      .load()
      .then((text) => {
        const keys = parseKeySet(text);
        this.keys = keys;
        this.loadedAt = this.now();
        return keys;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    try {
      return await this.inFlight;
    } catch (error) {
      if (stale) return stale;
      throw error instanceof KeyStoreUnavailableError
        ? error
        : new KeyStoreUnavailableError('could not read the LiveKit API keys', { cause: error });
    }
  }
}

/** Parses `{"<apiKey>": "<apiSecret>", ...}`; anything else is a configuration error. */
export function parseKeySet(text: string): KeySet {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KeyStoreUnavailableError('the LiveKit keys secret is not JSON; expected {"<apiKey>": "<apiSecret>"}');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KeyStoreUnavailableError('the LiveKit keys secret must be a JSON object {"<apiKey>": "<apiSecret>"}');
  }
  const keys = new Map<string, string>();
  for (const [apiKey, apiSecret] of Object.entries(value)) {
    if (typeof apiSecret !== 'string' || apiKey === '' || apiSecret === '') {
      throw new KeyStoreUnavailableError(`the LiveKit keys secret has an empty or non-string entry for "${apiKey}"`);
    }
    keys.set(apiKey, apiSecret);
  }
  return keys;
}
