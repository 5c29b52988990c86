/**
 * Every LiveKit API request of a run goes through one gate, which enforces the run's limits:
 * - the request budget (LiveKit Cloud rate-limits the server API per project): every attempt,
 *   retries included, spends one request; when the budget is spent, calls fail with
 *   `BudgetExhaustedError` and are not made;
 * - the time budget: no attempt starts after the deadline (one already started may run to the
 *   SDK's own timeout, which the Lambda timeout is sized for);
 * - bounded concurrency;
 * - retries with exponential backoff and jitter on 429, 5xx, timeouts and transport errors.
 */
import { isRetryable, LiveKitMethod } from './livekit-api';

export class BudgetExhaustedError extends Error {
  constructor(readonly reason: 'requests' | 'time') {
    super(reason === 'requests' ? 'request budget of the run is spent' : 'time budget of the run is spent');
    this.name = 'BudgetExhaustedError';
  }
}

export interface ApiGateOptions {
  readonly requestBudget: number;
  readonly concurrency: number;
  /** Milliseconds since the epoch after which no attempt starts. */
  readonly deadline: number;
  readonly clock: () => number;
  /** Attempts per call, the first included. */
  readonly maxAttempts?: number;
  readonly backoffBaseMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export class ApiGate {
  /** Requests made, by method (each attempt counts). */
  readonly calls: Record<string, number> = {};
  /** Failed attempts, by method. */
  readonly errors: Record<string, number> = {};
  private made = 0;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly maxAttempts: number;
  private readonly backoffBaseMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: ApiGateOptions) {
    this.maxAttempts = options.maxAttempts ?? 3;
    this.backoffBaseMs = options.backoffBaseMs ?? 200;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  get requestsMade(): number {
    return this.made;
  }

  get remaining(): number {
    return Math.max(0, this.options.requestBudget - this.made);
  }

  get totalErrors(): number {
    return Object.values(this.errors).reduce((a, b) => a + b, 0);
  }

  /** Whether another call could start now (budget left and before the deadline). */
  canStart(): boolean {
    return this.remaining > 0 && this.options.clock() < this.options.deadline;
  }

  async call<T>(method: LiveKitMethod, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      if (this.remaining <= 0) throw new BudgetExhaustedError('requests');
      if (this.options.clock() >= this.options.deadline) throw new BudgetExhaustedError('time');
      // Counted before waiting for a slot, so concurrent callers cannot overspend the budget.
      this.made++;
      this.calls[method] = (this.calls[method] ?? 0) + 1;
      let failure: unknown;
      await this.acquire();
      try {
        return await fn();
      } catch (error) {
        failure = error;
      } finally {
        this.release();
      }
      this.errors[method] = (this.errors[method] ?? 0) + 1;
      if (!isRetryable(failure) || attempt >= this.maxAttempts) throw failure;
      // Jittered: many rooms (or two overlapping runs) do not retry in lockstep against a throttle.
      const wait = this.backoffBaseMs * 2 ** (attempt - 1) * (0.5 + this.random() / 2);
      if (this.options.clock() + wait >= this.options.deadline) throw failure;
      await this.sleep(wait);
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.options.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => resolve()));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
