import { KeyStore, KeyStoreUnavailableError, parseKeySet } from '../../lambda/ingest/key-store';

function store(values: Array<string | Error>, options: { ttlMs?: number; minRefreshIntervalMs?: number } = {}) {
  let clock = 0;
  let reads = 0;
  const keys = new KeyStore({
    load: async () => {
      const value = values[Math.min(reads++, values.length - 1)];
      if (value instanceof Error) throw value;
      return value;
    },
    ttlMs: options.ttlMs ?? 60_000,
    minRefreshIntervalMs: options.minRefreshIntervalMs ?? 10_000,
    now: () => clock,
  });
  return { keys, reads: () => reads, advance: (ms: number) => (clock += ms) };
}

describe('KeyStore', () => {
  it('reads the secret once for concurrent callers', async () => {
    const s = store(['{"k":"s"}']);
    await Promise.all([s.keys.secretFor('k'), s.keys.secretFor('k'), s.keys.secretFor('k')]);
    expect(s.reads()).toBe(1);
  });

  it('reads the secret again once the cache period is over', async () => {
    const s = store(['{"k":"old"}', '{"k":"new"}']);
    expect(await s.keys.secretFor('k')).toBe('old');
    s.advance(59_999);
    expect(await s.keys.secretFor('k')).toBe('old');
    s.advance(1);
    expect(await s.keys.secretFor('k')).toBe('new');
  });

  it('re-reads early for an unknown key, but at most once per interval', async () => {
    const s = store(['{"k":"s"}']);
    expect(await s.keys.secretFor('unknown')).toBeUndefined();
    expect(await s.keys.secretFor('unknown')).toBeUndefined();
    expect(s.reads()).toBe(2);
    s.advance(10_000);
    await s.keys.secretFor('unknown');
    expect(s.reads()).toBe(3);
  });

  it('serves the stale key set when a refresh fails', async () => {
    const s = store(['{"k":"s"}', new Error('throttled')]);
    await s.keys.secretFor('k');
    s.advance(60_000);
    expect(await s.keys.secretFor('k')).toBe('s');
  });

  it('throws KeyStoreUnavailableError when nothing was ever read', async () => {
    const s = store([new Error('AccessDenied')]);
    await expect(s.keys.secretFor('k')).rejects.toBeInstanceOf(KeyStoreUnavailableError);
  });

  it('throws KeyStoreUnavailableError when the secret is empty', async () => {
    const s = store(['{}']);
    await expect(s.keys.secretFor('k')).rejects.toThrow('no LiveKit API keys are configured');
  });
});

describe('parseKeySet', () => {
  it('reads several key pairs', () => {
    expect([...parseKeySet('{"a":"1","b":"2"}')]).toEqual([['a', '1'], ['b', '2']]);
  });
  it.each(['not json', '[]', '"k"', '{"k":1}', '{"k":""}'])('rejects %s with a message naming the expected shape', (text) => {
    expect(() => parseKeySet(text)).toThrow(KeyStoreUnavailableError);
  });
});
