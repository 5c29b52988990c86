/**
 * Where applied state changes go. The processor only needs `publish`; the Lambda uses EventBridge,
 * tests and the local runtime pass their own (an in-memory list, a console printer).
 */
import { EventBridgeClient, PutEventsCommand, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { EventSource } from '../shared/queue-message';
import { CHANGE_EVENT_SOURCE } from './change-event';
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
}

export interface PublishResult {
  /** Change ids the bus did not take; the processor keeps their outbox items and retries. */
  readonly failedChangeIds: readonly string[];
}

export interface ChangePublisher {
  publish(changes: readonly StateChange[]): Promise<PublishResult>;
}

export { CHANGE_EVENT_SOURCE };
/** PutEvents takes at most 10 entries per call. */
const MAX_ENTRIES = 10;

export class EventBridgePublisher implements ChangePublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(changes: readonly StateChange[]): Promise<PublishResult> {
    const failedChangeIds: string[] = [];
    for (let start = 0; start < changes.length; start += MAX_ENTRIES) {
      const chunk = changes.slice(start, start + MAX_ENTRIES);
      const entries: PutEventsRequestEntry[] = chunk.map((change) => ({
        EventBusName: this.busName,
        Source: CHANGE_EVENT_SOURCE,
        DetailType: change.detailType,
        Detail: JSON.stringify(change),
        Resources: [],
        Time: new Date(change.occurredAt),
      }));
      const output = await this.client.send(new PutEventsCommand({ Entries: entries }));
      if ((output.FailedEntryCount ?? 0) > 0) {
        // Result entries are in request order; a failed one carries an ErrorCode.
        chunk.forEach((change, index) => {
          const result = output.Entries?.[index];
          if (!result || result.ErrorCode || !result.EventId) failedChangeIds.push(change.changeId);
        });
      }
    }
    return { failedChangeIds };
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
