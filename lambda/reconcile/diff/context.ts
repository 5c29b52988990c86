/**
 * What every diff module of a run shares: the run's clients and limits, local state, and three
 * callbacks: `observe` a difference (a missed event if it outlives the grace period), `check` a
 * scope (its comparison was complete, so pending differences of that scope it did not see again
 * are resolved), and `fail` a step (the run is not ok; the parts that depend on it are skipped).
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Logger } from '../../shared/logger';
import type { ApiGate } from '../api-gate';
import type { LiveKitApi } from '../livekit-api';
import type { LocalState } from '../local-state';
import type { RunReport } from '../report';
import type { Difference } from '../bookkeeping';
import type { Repair } from '../repairs';

/** A difference between LiveKit and local state, with how to repair it once it is due. */
export interface Observation extends Difference {
  /** Builds the repair when due; undefined when, looking closer, there is nothing to repair. */
  readonly build: () => Promise<Repair | undefined>;
}

export interface DiffContext {
  readonly ddb: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly livekit: LiveKitApi;
  readonly gate: ApiGate;
  readonly logger: Logger;
  readonly concurrency: number;
  readonly local: LocalState;
  readonly report: RunReport;
  /** Now, in unix seconds (a repair's `createdAt`). */
  nowSeconds(): number;
  nowMs(): number;
  observe(observation: Observation): void;
  check(scope: string): void;
  fail(what: string, error: unknown): void;
}

/** Runs `work` over `items` with at most `concurrency` at once, stopping when `work` returns false; returns how many were not started. */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<boolean | void>): Promise<number> {
  let next = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped && next < items.length) {
      const item = items[next++];
      if ((await work(item)) === false) stopped = true;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return Math.max(0, items.length - next);
}
