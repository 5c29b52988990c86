import { DeadlineExceededError, withDeadline } from '../../../lambda/ingest/deadline';

describe('withDeadline (fake timers)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('rejects at the deadline, not a millisecond before, even when the operation ignores its abort signal', async () => {
    let settled: unknown;
    let signal: AbortSignal | undefined;
    withDeadline('the call', 1_500, (s) => {
      signal = s;
      return new Promise(() => undefined);
    }).catch((error: unknown) => (settled = error));
    await jest.advanceTimersByTimeAsync(1_499);
    expect(settled).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1);
    expect(settled).toBeInstanceOf(DeadlineExceededError);
    expect((settled as Error).message).toBe('the call did not finish within 1500 ms');
    expect(signal?.aborted).toBe(true);
  });

  it('passes a result or an error through when it comes first, and leaves no timer behind', async () => {
    await expect(withDeadline('ok', 1_000, async () => 42)).resolves.toBe(42);
    await expect(withDeadline('fails', 1_000, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(jest.getTimerCount()).toBe(0);
  });
});
