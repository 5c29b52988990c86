/**
 * Where state changes go. The publisher (lambda/publish/) only needs `publish`; the Lambda uses
 * EventBridge, tests and the local runtime pass their own (an in-memory list, a console printer).
 */
import { EventBridgeClient, PutEventsCommand, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { EventSource } from '../../contracts/queue-message';
import { CHANGE_EVENT_SOURCE } from '../../contracts/change-event';
import type { EntityRef, EntityView } from './state-model';

/** The `detail` of every change event on the bus. */
export interface StateChange {
  /** Stable: the same change has the same id on every delivery and in every event order. Dedupe on it. */
  readonly changeId: string;
  readonly detailType: string;
  readonly entity: EntityRef;
  readonly old: EntityView | null;
  readonly new: EntityView;
  /** The LiveKit event that caused the change. */
  readonly eventId: string;
  readonly eventType: string;
  readonly source: EventSource;
  /** When LiveKit created the event (ISO 8601), or when it was processed if the event has no `createdAt`. */
  readonly occurredAt: string;
  /** Parts left out to fit the bus's 256 KB limit (`old.info`, `new.info`); rare, see lambda/publish/change-feed.ts. */
  readonly omitted?: readonly string[];
}

export interface PublishResult {
  /** Change ids the bus did not take (refused entries, or a call that failed); the caller retries them. */
  readonly failedChangeIds: readonly string[];
  /** The error of a failed call, if one failed. */
  readonly error?: unknown;
}

export interface ChangePublisher {
  publish(changes: readonly StateChange[]): Promise<PublishResult>;
}

export { CHANGE_EVENT_SOURCE };
/** PutEvents takes at most 10 entries and 256 KB per call. */
const MAX_ENTRIES = 10;
const MAX_REQUEST_BYTES = 256_000;

/** What EventBridge counts of an entry toward the 256 KB request limit (an upper bound). */
function entrySize(entry: PutEventsRequestEntry): number {
  return Buffer.byteLength(entry.Detail ?? '') + Buffer.byteLength(entry.DetailType ?? '') + Buffer.byteLength(entry.Source ?? '') + 64;
}

export class EventBridgePublisher implements ChangePublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(changes: readonly StateChange[]): Promise<PublishResult> {
    const entries = changes.map((change) => ({
      change,
      entry: {
        EventBusName: this.busName,
        Source: CHANGE_EVENT_SOURCE,
        DetailType: change.detailType,
        Detail: JSON.stringify(change),
        Resources: [],
        Time: new Date(change.occurredAt),
      } satisfies PutEventsRequestEntry,
    }));
    // Requests of at most 10 entries and 256 KB, in order.
    const chunks: (typeof entries)[] = [];
    let size = 0;
    for (const item of entries) {
      const last = chunks[chunks.length - 1];
      const itemSize = entrySize(item.entry);
      if (!last || last.length === MAX_ENTRIES || size + itemSize > MAX_REQUEST_BYTES) {
        chunks.push([item]);
        size = itemSize;
      } else {
        last.push(item);
        size += itemSize;
      }
    }
    const failedChangeIds: string[] = [];
    let error: unknown;
    for (const chunk of chunks) {
      if (error !== undefined) {
        // The bus is failing: the rest is retried with the failed call, not sent into it.
        failedChangeIds.push(...chunk.map(({ change }) => change.changeId));
        continue;
      }
      try {
        const output = await this.client.send(new PutEventsCommand({ Entries: chunk.map(({ entry }) => entry) }));
        if ((output.FailedEntryCount ?? 0) > 0) {
          // Result entries are in request order; a failed one carries an ErrorCode.
          chunk.forEach(({ change }, index) => {
            const result = output.Entries?.[index];
            if (!result || result.ErrorCode || !result.EventId) failedChangeIds.push(change.changeId);
          });
        }
      } catch (caught) {
        error = caught;
        failedChangeIds.push(...chunk.map(({ change }) => change.changeId));
      }
    }
    return { failedChangeIds, error };
  }
}

/** Keeps published changes in memory; for tests and the local runtime. */
export class MemoryPublisher implements ChangePublisher {
  readonly published: StateChange[] = [];

  async publish(changes: readonly StateChange[]): Promise<PublishResult> {
    this.published.push(...changes);
    return { failedChangeIds: [] };
  }
}
