/**
 * Handle each change once. The feed is at least once: a change can reach a consumer again (a
 * retried stream batch republishes under the same change ids; EventBridge retries a target), and
 * every repeat has the same `changeId` (docs/state-model.md, "Exactly once in effect"). The
 * deduper records the ids it handled, for `ttlMs`, in a store: in memory by default (bounded), or
 * any `DedupeStore` (a DynamoDB table with `DynamoDbDedupeStore`, shared by every container of a
 * Lambda consumer).
 *
 * A change is recorded as handled only after the handler succeeded. While one delivery is being
 * handled its id is leased; a repeat arriving meanwhile is not dropped (the first may still fail)
 * but refused with `ChangeInFlightError`, so the caller's retry (Lambda's async retries, a queue's
 * redelivery) brings it back after the first settled. A lease that outlives a crashed handler
 * expires after `leaseMs`, and the change can be handled again.
 */
import type { ChangeDetail, ChangeEvent } from './change-event';

/** What a store answers when asked to take a change id. */
export type ClaimResult =
  /** Taken: handle the change, then `complete` (or `release` if handling failed). */
  | 'claimed'
  /** Handled before (within the TTL): skip it. */
  | 'done'
  /** Being handled by another delivery right now (its lease has not expired). */
  | 'in-flight';

/** Where handled change ids are kept. Times are milliseconds since the epoch. */
export interface DedupeStore {
  /** Takes `changeId` until `leaseUntilMs`, unless it is done or leased by someone else (as of `nowMs`). Atomic. */
  claim(changeId: string, nowMs: number, leaseUntilMs: number): Promise<ClaimResult>;
  /** Marks `changeId` handled until `expiresAtMs`. */
  complete(changeId: string, expiresAtMs: number): Promise<void>;
  /** Gives up a claim: handling failed, a retry may take it. */
  release(changeId: string): Promise<void>;
}

/** A repeat of a change that another delivery is handling right now; throw it on so the repeat is retried later. */
export class ChangeInFlightError extends Error {
  constructor(readonly changeId: string) {
    super(`change ${changeId} is being handled by another delivery; retry later`);
    this.name = 'ChangeInFlightError';
  }
}

export interface ChangeDeduperOptions {
  /** Default: a `MemoryDedupeStore` of 10,000 ids. */
  readonly store?: DedupeStore;
  /**
   * How long a handled id is remembered. Default 24 hours: repeats come from a stream batch retried
   * (records live 24 h in the stream) and from EventBridge's retries (up to 24 h).
   */
  readonly ttlMs?: number;
  /** How long one delivery may hold a change before a repeat may take it over. Default 15 minutes (Lambda's longest run). */
  readonly leaseMs?: number;
  /** Milliseconds since the epoch; tests pass their own. */
  readonly clock?: () => number;
}

export const DEFAULT_DEDUPE_TTL_MS = 24 * 3600_000;
export const DEFAULT_DEDUPE_LEASE_MS = 15 * 60_000;

/** Accepts what a consumer has at hand: the event, its detail, or the id. */
export type ChangeRef = string | Pick<ChangeDetail, 'changeId'> | Pick<ChangeEvent, 'detail'>;

function changeIdOf(change: ChangeRef): string {
  const id = typeof change === 'string' ? change : 'detail' in change ? change.detail.changeId : change.changeId;
  if (typeof id !== 'string' || id === '') throw new TypeError('a change id must be a non-empty string');
  return id;
}

export class ChangeDeduper {
  private readonly store: DedupeStore;
  private readonly ttlMs: number;
  private readonly leaseMs: number;
  private readonly clock: () => number;

  constructor(options: ChangeDeduperOptions = {}) {
    this.store = options.store ?? new MemoryDedupeStore();
    this.ttlMs = options.ttlMs ?? DEFAULT_DEDUPE_TTL_MS;
    this.leaseMs = options.leaseMs ?? DEFAULT_DEDUPE_LEASE_MS;
    this.clock = options.clock ?? Date.now;
    if (!(this.ttlMs > 0) || !(this.leaseMs > 0)) throw new RangeError('ttlMs and leaseMs must be positive');
  }

  /**
   * Runs `handle` unless the change was handled before: resolves true when it ran now, false for a
   * repeat. If `handle` throws, the change is not recorded (a retry runs it) and the error is
   * rethrown. A repeat of a change being handled right now rejects with `ChangeInFlightError`.
   */
  async once(change: ChangeRef, handle: () => unknown): Promise<boolean> {
    const changeId = changeIdOf(change);
    const now = this.clock();
    const claim = await this.store.claim(changeId, now, now + this.leaseMs);
    if (claim === 'done') return false;
    if (claim === 'in-flight') throw new ChangeInFlightError(changeId);
    try {
      await handle();
    } catch (error) {
      await this.store.release(changeId).catch(() => undefined);
      throw error;
    }
    await this.store.complete(changeId, this.clock() + this.ttlMs);
    return true;
  }
}

export interface MemoryDedupeStoreOptions {
  /** At most this many ids are kept; the oldest are forgotten first. Default 10,000. */
  readonly maxEntries?: number;
}

/**
 * Ids in this process's memory, bounded: expired ids are dropped as new ones come, and beyond
 * `maxEntries` the oldest go first. In a Lambda consumer it sees only the repeats that land on the
 * same container; use `DynamoDbDedupeStore` when every repeat must be caught.
 */
export class MemoryDedupeStore implements DedupeStore {
  /** Insertion order is claim order; an entry is moved to the end when completed. */
  private readonly entries = new Map<string, { state: 'in-flight' | 'done'; untilMs: number }>();
  private readonly maxEntries: number;

  constructor(options: MemoryDedupeStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  }

  /** Ids currently remembered (done or in flight). */
  get size(): number {
    return this.entries.size;
  }

  async claim(changeId: string, nowMs: number, leaseUntilMs: number): Promise<ClaimResult> {
    this.evict(nowMs);
    const entry = this.entries.get(changeId);
    if (entry && entry.untilMs > nowMs) return entry.state === 'done' ? 'done' : 'in-flight';
    this.entries.delete(changeId);
    this.entries.set(changeId, { state: 'in-flight', untilMs: leaseUntilMs });
    this.trim();
    return 'claimed';
  }

  async complete(changeId: string, expiresAtMs: number): Promise<void> {
    this.entries.delete(changeId);
    this.entries.set(changeId, { state: 'done', untilMs: expiresAtMs });
    this.trim();
  }

  async release(changeId: string): Promise<void> {
    this.entries.delete(changeId);
  }

  /** Drops expired entries from the oldest end (entries are roughly in expiry order); stops at the first live one. */
  private evict(nowMs: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.untilMs > nowMs) break;
      this.entries.delete(id);
    }
  }

  private trim(): void {
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
