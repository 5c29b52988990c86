/**
 * How long a reconcile run may take, derived from the schedule interval. Shared by the CDK
 * construct (Lambda timeout, the handler's time budget) and its tests; no runtime dependencies.
 */

/**
 * livekit-server-sdk's worst case for one call on LiveKit Cloud: 10 s per attempt, up to 3 attempts
 * (region failover on transport errors and 5xx), 200 + 400 ms backoff between them.
 */
export const SDK_WORST_CASE_MS = 3 * 10_000 + 600;

/** Time after the last LiveKit call for the bookkeeping writes and the repairs' SendMessage calls. */
export const WRITE_MARGIN_MS = 4_000;

/** The longest a Lambda may run. */
const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

export interface ReconcileTimings {
  /** The function timeout: below the interval, so a run is over before the next one starts. */
  readonly timeoutSeconds: number;
  /** No LiveKit call starts later than this into the run; one started just before may take the SDK's worst case. */
  readonly timeBudgetMs: number;
}

export function reconcileTimings(intervalMinutes: number): ReconcileTimings {
  const timeoutSeconds = Math.min(LAMBDA_MAX_TIMEOUT_SECONDS, intervalMinutes * 60 - 5);
  const timeBudgetMs = timeoutSeconds * 1000 - SDK_WORST_CASE_MS - WRITE_MARGIN_MS;
  return { timeoutSeconds, timeBudgetMs: Math.floor(timeBudgetMs / 1000) * 1000 };
}
