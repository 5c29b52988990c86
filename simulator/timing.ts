/**
 * Time helpers shared by the sender, the Twirp server and the naive receiver. Everything that
 * waits goes through a `TimerSet` so `stop()` can cancel it: a simulator that leaves a timer behind
 * keeps Jest (and the benchmark) alive after the run.
 */

/** Monotonic milliseconds; injectable so tests can move time past MaxAge without sleeping. */
export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();

export class TimerSet {
  private readonly pending = new Map<NodeJS.Timeout, () => void>();
  private closed = false;

  /** Resolves after `ms`, or early (without error) when the set is cancelled. */
  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(timer);
          resolve();
        },
        Math.max(0, ms),
      );
      this.pending.set(timer, resolve);
    });
  }

  /** Runs `fn` after `ms` unless the set is cancelled first; returns a cancel function. */
  schedule(ms: number, fn: () => void): () => void {
    if (this.closed) return () => undefined;
    const timer = setTimeout(
      () => {
        this.pending.delete(timer);
        fn();
      },
      Math.max(0, ms),
    );
    this.pending.set(timer, () => undefined);
    return () => {
      clearTimeout(timer);
      this.pending.delete(timer);
    };
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Clears every timer; pending sleeps resolve so the loops awaiting them can notice the stop. */
  cancelAll(): void {
    this.closed = true;
    for (const [timer, resolve] of this.pending) {
      clearTimeout(timer);
      resolve();
    }
    this.pending.clear();
  }
}

let lastNs = 0n;

/**
 * Wall-clock nanoseconds, strictly increasing within this process. Egress `updatedAt` orders egress
 * updates, so two updates made in the same millisecond must still compare in the order they happened.
 */
export function nowNanos(): bigint {
  const ns = BigInt(Date.now()) * 1_000_000n;
  lastNs = ns > lastNs ? ns : lastNs + 1n;
  return lastNs;
}
