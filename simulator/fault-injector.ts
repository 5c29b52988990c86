/**
 * Server-API faults for reconciler tests: added latency, error answers (5xx, 429 with
 * `Retry-After`), hung requests and reset connections, on one method or all of them, for the next
 * N calls or a share of calls, plus a per-method call counter. LiveKit Cloud rate-limits and
 * occasionally fails this API; a reconciler has to survive both without giving up on the run.
 */
import { RandomSource } from './ids';
import { TwirpErrorCode } from './twirp';

export type ApiFault =
  /** An error answer; `code` defaults to the Twirp code of the status. */
  | {
      readonly kind: 'error';
      readonly status: number;
      readonly code?: TwirpErrorCode;
      readonly msg?: string;
      readonly retryAfterSeconds?: number;
    }
  /** Never answers: the client's own timeout (or the simulator's stop) ends the request. */
  | { readonly kind: 'hang' }
  /** Closes the connection without an answer (a transport error for the client). */
  | { readonly kind: 'reset' };

export interface FaultScope {
  /** Apply to this many matching calls, then retire. */
  readonly times?: number;
  /** Apply to each matching call with this probability (0..1), until removed. */
  readonly share?: number;
}

/** `'*'` matches every method. */
export type MethodSelector = string;

interface FaultRule {
  readonly method: MethodSelector;
  readonly fault: ApiFault;
  remaining?: number;
  readonly share?: number;
}

export class FaultInjector {
  private rules: FaultRule[] = [];
  private readonly latency = new Map<MethodSelector, number>();
  private readonly calls = new Map<string, number>();

  constructor(
    private readonly random: RandomSource = Math.random,
    defaultLatencyMs = 0,
  ) {
    if (defaultLatencyMs > 0) this.latency.set('*', defaultLatencyMs);
  }

  /** Adds a rule; returns a function that removes it. Rules are checked in the order added. */
  inject(method: MethodSelector, fault: ApiFault, scope: FaultScope = {}): () => void {
    if (scope.times !== undefined && (!Number.isInteger(scope.times) || scope.times < 1))
      throw new RangeError('times must be an integer >= 1');
    if (scope.share !== undefined && !(scope.share >= 0 && scope.share <= 1)) throw new RangeError('share must be within 0..1');
    const rule: FaultRule = {
      method,
      fault,
      ...(scope.times !== undefined ? { remaining: scope.times } : {}),
      ...(scope.share !== undefined ? { share: scope.share } : {}),
    };
    this.rules.push(rule);
    return () => {
      this.rules = this.rules.filter((r) => r !== rule);
    };
  }

  failNext(method: MethodSelector, times: number, fault: ApiFault): () => void {
    return this.inject(method, fault, { times });
  }

  failShare(method: MethodSelector, share: number, fault: ApiFault): () => void {
    return this.inject(method, fault, { share });
  }

  /** Latency added before every answer of `method` (or of all methods); a method's own value wins. */
  setLatency(ms: number, method: MethodSelector = '*'): void {
    if (!(ms >= 0)) throw new RangeError('latency must be >= 0');
    this.latency.set(method, ms);
  }

  latencyFor(method: string): number {
    return this.latency.get(method) ?? this.latency.get('*') ?? 0;
  }

  /** Removes every rule and latency; counters are kept. */
  clear(): void {
    this.rules = [];
    this.latency.clear();
  }

  /** Counts a call and returns the fault it gets, if any. */
  next(method: string): ApiFault | undefined {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    for (const rule of this.rules) {
      if (rule.method !== '*' && rule.method !== method) continue;
      if (rule.share !== undefined && this.random() >= rule.share) continue;
      if (rule.remaining !== undefined) {
        rule.remaining -= 1;
        if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
      }
      return rule.fault;
    }
    return undefined;
  }

  callCount(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  callCounts(): Record<string, number> {
    return Object.fromEntries(this.calls);
  }

  resetCounts(): void {
    this.calls.clear();
  }
}
