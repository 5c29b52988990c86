import {
  KeysNotConfiguredError,
  KeyStore,
  KeyStoreUnavailableError,
  parseKeySet,
  RefreshFailure,
  UnknownKeyUnverifiableError,
} from '../../../lambda/ingest/key-store';

/** What one read of the secret does: answer a text, fail, or never answer. */
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- 'hang' names the sentinel for the reader
type Answer = string | Error | 'hang';

function store(values: Answer[], options: { ttlMs?: number; minRefreshIntervalMs?: number; maxWaitMs?: number } = {}) {
  let clock = 0;
  let reads = 0;
  const failures: RefreshFailure[] = [];
  const keys = new KeyStore({
    load: () => {
      const value = values[Math.min(reads++, values.length - 1)];
      if (value === 'hang') return new Promise<string>(() => undefined);
      if (value instanceof Error) return Promise.reject(value);
      return Promise.resolve(value);
    },
    ttlMs: options.ttlMs ?? 60_000,
    minRefreshIntervalMs: options.minRefreshIntervalMs ?? 10_000,
    maxWaitMs: options.maxWaitMs ?? 500,
    onRefreshFailed: (failure) => failures.push(failure),
    now: () => clock,
  });
  return { keys, reads: () => reads, failures, advance: (ms: number) => (clock += ms) };
}

/** Lets the store's promise chains (and a background read) settle. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyStore', () => {
  it('reads the secret once for concurrent callers', async () => {
    const s = store(['{"k":"s"}']);
    await Promise.all([s.keys.secretFor('k'), s.keys.secretFor('k'), s.keys.secretFor('k')]);
    expect(s.reads()).toBe(1);
  });

  it('refreshes in the background once the cache period is over, serving the cached set meanwhile', async () => {
    const s = store(['{"k":"old"}', '{"k":"new"}']);
    expect(await s.keys.secretFor('k')).toBe('old');
    s.advance(59_999);
    expect(await s.keys.secretFor('k')).toBe('old');
    expect(s.reads()).toBe(1);
    s.advance(1);
    expect(await s.keys.secretFor('k')).toBe('old');
    await settle();
    expect(s.reads()).toBe(2);
    expect(await s.keys.secretFor('k')).toBe('new');
  });

  it('re-reads at once for an unknown key (a key added to the secret works without waiting for the cache), at most once per interval', async () => {
    const s = store(['{"k":"s"}', '{"k":"s","new":"n"}']);
    expect(await s.keys.secretFor('k')).toBe('s');
    // A set read this very moment may say "unknown" (the key was not in the secret when it was read);
    // one read an interval ago may not.
    expect(await s.keys.secretFor('new')).toBeUndefined();
    expect(s.reads()).toBe(1);
    s.advance(10_000);
    expect(await s.keys.secretFor('new')).toBe('n');
    expect(await s.keys.secretFor('unknown')).toBeUndefined();
    expect(await s.keys.secretFor('unknown')).toBeUndefined();
    expect(s.reads()).toBe(2);
    s.advance(10_000);
    await s.keys.secretFor('unknown');
    expect(s.reads()).toBe(3);
  });

  describe('a key added during a rotation, whatever else was sent before it', () => {
    /** The real store against a secret the test edits, as an operator does; the clock is the test's. */
    function rotation(minRefreshIntervalMs = 1_000) {
      let secret = '{"APIold":"o"}';
      let clock = 0;
      let reads = 0;
      const keys = new KeyStore({
        load: async () => {
          reads++;
          return secret;
        },
        ttlMs: 300_000,
        minRefreshIntervalMs,
        now: () => clock,
      });
      return {
        keys,
        reads: () => reads,
        addNewKey: () => (secret = '{"APIold":"o","APInew":"n"}'),
        advance: (ms: number) => (clock += ms),
      };
    }

    it('is found when one forged request with a made-up key id came just before the operator added it', async () => {
      const r = rotation();
      expect(await r.keys.secretFor('APIold')).toBe('o');
      expect(await r.keys.secretFor('APIforged')).toBeUndefined();
      r.advance(1_000);
      r.addNewKey();
      r.advance(1_000);
      expect(await r.keys.secretFor('APInew')).toBe('n');
    });

    it('is found when forged requests with its own id (key ids are not secret) kept coming until the switch', async () => {
      const r = rotation();
      await r.keys.secretFor('APIold');
      for (let t = 0; t < 5_000; t += 100) {
        expect(await r.keys.secretFor('APInew')).toBeUndefined();
        r.advance(100);
      }
      r.addNewKey();
      r.advance(1_000);
      expect(await r.keys.secretFor('APInew')).toBe('n');
    });

    it('is found a second after it was added during a flood of random forged ids, which costs at most one read a second', async () => {
      const r = rotation();
      await r.keys.secretFor('APIold');
      let found: number | undefined;
      for (let t = 1; t <= 60_000; t += 10) {
        r.advance(10);
        expect(await r.keys.secretFor(`APIforged${t}`)).toBeUndefined();
        if (t === 30_001) r.addNewKey();
        if (t > 30_001 && found === undefined && (await r.keys.secretFor('APInew')) === 'n') found = t - 30_001;
      }
      expect(found).toBeDefined();
      expect(found!).toBeLessThanOrEqual(1_000);
      // One read on the cold start, then at most one per second of the flood.
      expect(r.reads()).toBeLessThanOrEqual(1 + 60);
    });
  });

  it('serves the last good key set at once while refreshes fail, and retries them with backoff, not per request', async () => {
    const s = store(['{"k":"s"}', new Error('throttled')], { ttlMs: 1_000 });
    await s.keys.secretFor('k');
    s.advance(1_000);
    for (let i = 0; i < 5; i++) expect(await s.keys.secretFor('k')).toBe('s');
    await settle();
    expect(s.reads()).toBe(2);
    expect(s.failures).toEqual([expect.objectContaining({ failures: 1, retryInMs: 1_000, servingLastGoodKeys: true })]);

    // Backoff: 1 s, then 2 s, 4 s, 8 s, and never more than 10 s between reads.
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const retryInMs = s.failures[s.failures.length - 1].retryInMs;
      s.advance(retryInMs - 1);
      expect(await s.keys.secretFor('k')).toBe('s');
      await settle();
      expect(s.failures).toHaveLength(i + 1);
      s.advance(1);
      expect(await s.keys.secretFor('k')).toBe('s');
      await settle();
      delays.push(retryInMs);
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 10_000]);
  });

  it('recovers once a read succeeds again', async () => {
    const s = store(['{"k":"old"}', new Error('down'), '{"k":"new"}'], { ttlMs: 1_000 });
    await s.keys.secretFor('k');
    s.advance(1_000);
    await s.keys.secretFor('k');
    await settle();
    s.advance(1_000);
    await s.keys.secretFor('k');
    await settle();
    expect(await s.keys.secretFor('k')).toBe('new');
  });

  it('on a cold start, fails with KeyStoreUnavailableError when the read fails, and does not read again during the backoff', async () => {
    const s = store([new Error('AccessDenied')]);
    await expect(s.keys.secretFor('k')).rejects.toBeInstanceOf(KeyStoreUnavailableError);
    await expect(s.keys.secretFor('k')).rejects.toThrow('next in 1000 ms');
    expect(s.reads()).toBe(1);
    s.advance(1_000);
    await expect(s.keys.secretFor('k')).rejects.toBeInstanceOf(KeyStoreUnavailableError);
    expect(s.reads()).toBe(2);
  });

  it('answers an unknown key as unavailable, not unknown, when the forced re-read fails', async () => {
    const s = store(['{"k":"s"}', new Error('down')]);
    await s.keys.secretFor('k');
    s.advance(10_000);
    await expect(s.keys.secretFor('maybe-new')).rejects.toBeInstanceOf(KeyStoreUnavailableError);
    expect(await s.keys.secretFor('k')).toBe('s');
  });

  it('still answers unavailable, never unknown, right after a failed re-read (the set that would answer is old)', async () => {
    const s = store(['{"k":"s"}', new Error('down'), '{"k":"s","new":"n"}']);
    await s.keys.secretFor('k');
    s.advance(10_000);
    await expect(s.keys.secretFor('forged')).rejects.toBeInstanceOf(KeyStoreUnavailableError);
    // Within the backoff: no read, and no "unknown" from the 10 s old set either.
    await expect(s.keys.secretFor('new')).rejects.toBeInstanceOf(KeyStoreUnavailableError);
    expect(s.reads()).toBe(2);
    s.advance(1_000);
    expect(await s.keys.secretFor('new')).toBe('n');
  });

  it('says why it cannot tell: the key is not in the last good set and the re-read failed (UnknownKeyUnverifiableError), not a cold start', async () => {
    const s = store(['{"k":"s"}', new Error('down')]);
    await s.keys.secretFor('k');
    s.advance(10_000);
    const error = await s.keys.secretFor('forged').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownKeyUnverifiableError);
    expect(error).toBeInstanceOf(KeyStoreUnavailableError);
    expect((error as Error).message).toContain('could not be read again');
    // During the backoff, the same (no read, no wait).
    await expect(s.keys.secretFor('forged2')).rejects.toBeInstanceOf(UnknownKeyUnverifiableError);
    expect(s.reads()).toBe(2);
  });

  it('stays "not configured" for any key when the last good set held no key pair and the re-read failed', async () => {
    // A fresh stack (secret `{}`) while Secrets Manager fails: forged key ids must not turn its quiet
    // "not configured" 503s into failures that page.
    const s = store(['{}', new Error('down')]);
    await expect(s.keys.secretFor('k')).rejects.toBeInstanceOf(KeysNotConfiguredError);
    s.advance(10_000);
    await expect(s.keys.secretFor('APIforged')).rejects.toBeInstanceOf(KeysNotConfiguredError);
    await expect(s.keys.secretFor('APIforged2')).rejects.toBeInstanceOf(KeysNotConfiguredError);
    expect(s.reads()).toBe(2);
  });

  it('throws KeysNotConfiguredError, with the read it came from, when the secret holds no key pair', async () => {
    const s = store(['{}']);
    const first = await s.keys.secretFor('k').catch((error: unknown) => error);
    const second = await s.keys.secretFor('k').catch((error: unknown) => error);
    expect(first).toBeInstanceOf(KeysNotConfiguredError);
    expect(first).toBeInstanceOf(KeyStoreUnavailableError);
    expect((second as KeysNotConfiguredError).generation).toBe((first as KeysNotConfiguredError).generation);
    s.advance(10_000);
    const later = await s.keys.secretFor('k').catch((error: unknown) => error);
    expect((later as KeysNotConfiguredError).generation).toBeGreaterThan((first as KeysNotConfiguredError).generation);
  });
});

describe('KeyStore: the bound on a wait (fake timers, no wall clock)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  async function outcome(promise: Promise<unknown>) {
    const state: { settled: boolean; error?: unknown } = { settled: false };
    promise.then(
      () => (state.settled = true),
      (error: unknown) => Object.assign(state, { settled: true, error }),
    );
    return state;
  }

  it('a cold start waits for a hung read exactly maxWaitMs, then fails as unavailable', async () => {
    const s = store(['hang'], { maxWaitMs: 500 });
    const state = await outcome(s.keys.secretFor('k'));
    await jest.advanceTimersByTimeAsync(499);
    expect(state.settled).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(state.settled).toBe(true);
    expect(state.error).toBeInstanceOf(KeyStoreUnavailableError);
  });

  it('a cached key is answered without waiting on a hung refresh', async () => {
    const s = store(['{"k":"s"}', 'hang'], { ttlMs: 0 });
    await s.keys.secretFor('k');
    const state = await outcome(s.keys.secretFor('k'));
    await jest.advanceTimersByTimeAsync(0);
    expect(state).toEqual({ settled: true });
  });

  it('does not join a read that started before the key was added: a key added while a slow refresh was in flight is found', async () => {
    // A background refresh starts and takes 3.3 s; the operator adds the key 0.3 s into it, and
    // LiveKit signs with it 3 s later. Joining the slow read (which began before the key was in the
    // secret) would answer 401 unknown_key, which LiveKit does not retry.
    let secret = '{"APIold":"o"}';
    let clock = 0;
    let reads = 0;
    const keys = new KeyStore({
      load: () => {
        reads++;
        const snapshot = secret;
        // The read sees the secret as it was when it started, and answers 3.3 s later.
        return new Promise<string>((resolve) => setTimeout(() => resolve(snapshot), reads === 2 ? 3_300 : 10));
      },
      ttlMs: 60_000,
      minRefreshIntervalMs: 1_000,
      maxWaitMs: 500,
      loadTimeoutMs: 5_000,
      now: () => clock,
    });
    const tick = async (ms: number) => {
      clock += ms;
      await jest.advanceTimersByTimeAsync(ms);
    };
    const first = keys.secretFor('APIold');
    await tick(10);
    expect(await first).toBe('o');
    await tick(60_000);
    // The cache period is over: this request starts the slow background refresh (read 2).
    expect(await keys.secretFor('APIold')).toBe('o');
    expect(reads).toBe(2);
    await tick(300);
    secret = '{"APIold":"o","APInew":"n"}';
    // 0.3 s before the slow read answers (within a request's 500 ms wait for it).
    await tick(2_700);
    const answer = keys.secretFor('APInew');
    await tick(500);
    expect(await answer).toBe('n');
    expect(reads).toBe(3);
    // The slow read lands last, with the older set: it does not replace the newer one.
    await tick(1_000);
    expect(await keys.secretFor('APInew')).toBe('n');
  });

  it('a hung read is given up after the load timeout (5 s), so the next one can start', async () => {
    const s = store(['hang', '{"k":"s"}']);
    void s.keys.secretFor('k').catch(() => undefined);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(s.failures).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1_000);
    s.advance(6_000);
    const state = await outcome(s.keys.secretFor('k'));
    await jest.advanceTimersByTimeAsync(0);
    expect(state).toEqual({ settled: true });
    expect(s.reads()).toBe(2);
  });
});

describe('parseKeySet', () => {
  it('reads several key pairs', () => {
    expect([...parseKeySet('{"a":"1","b":"2"}')]).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
  });
  it.each(['not json', '[]', '"k"', '{"k":1}', '{"k":""}'])('rejects %s with a message naming the expected shape', (text) => {
    expect(() => parseKeySet(text)).toThrow(KeyStoreUnavailableError);
  });
});
