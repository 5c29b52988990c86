/**
 * The change feed, as pure functions: one DynamoDB stream record of the state table (the item
 * before and after a write) in, the changes that write made out. The rules are the state model's
 * (`changesFor`); this module only reads the images and stamps each change with the event that
 * caused it, so the Lambda and the local runtime publish exactly the same changes.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { StateChange } from '../process/publisher';
import { changesFor, EntityItem } from '../process/state-model';
import type { EventSource } from '../../contracts/queue-message';

/** The part of a stream record the feed reads (Lambda's event and the Streams API share this shape). */
export interface StreamRecordLike {
  readonly eventName?: string;
  readonly dynamodb?: {
    readonly ApproximateCreationDateTime?: number | Date;
    readonly SequenceNumber?: string;
    readonly OldImage?: Record<string, unknown>;
    readonly NewImage?: Record<string, unknown>;
  };
}

/** EventBridge takes at most 256 KB per PutEvents request; a change's detail stays under this. */
export const MAX_DETAIL_BYTES = 240_000;

function image(raw: Record<string, unknown> | undefined): EntityItem | undefined {
  if (!raw) return undefined;
  // Stored numbers are ours (epoch seconds), strings everything else: plain unmarshalling is safe.
  return unmarshall(raw as Record<string, AttributeValue>) as EntityItem;
}

/** Entity items carry `entityType`; event records, the reconciler's bookkeeping and TTL deletions make no change. */
export function isEntityWrite(record: StreamRecordLike): boolean {
  const next = record.dynamodb?.NewImage as Record<string, { S?: string }> | undefined;
  return (record.eventName === 'INSERT' || record.eventName === 'MODIFY') && typeof next?.entityType?.S === 'string';
}

function approximateTime(record: StreamRecordLike): string {
  const value = record.dynamodb?.ApproximateCreationDateTime;
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value * 1000 : Date.now();
  return new Date(ms).toISOString();
}

/** The changes one stream record carries, in the order they happened (started before ended). */
export function changesFromStreamRecord(record: StreamRecordLike): StateChange[] {
  if (!isEntityWrite(record)) return [];
  const next = image(record.dynamodb!.NewImage)!;
  const old = image(record.dynamodb!.OldImage);
  const createdAt = next.lastEventCreatedAt;
  // createdAt is bounded by the processor (seconds below 1e11), so this date is always valid.
  const occurredAt = typeof createdAt === 'number' ? new Date(createdAt * 1000).toISOString() : approximateTime(record);
  const source: EventSource = next.lastEventSource === 'reconciler' ? 'reconciler' : 'webhook';
  return changesFor(old, next).map((draft) =>
    fitChange({ ...draft, eventId: next.lastEventId, eventType: next.lastEventType, source, occurredAt }),
  );
}

/**
 * A change whose detail would not fit one PutEvents request (entities can hold ~350 KB of LiveKit
 * metadata) loses the `info` of `old`, then of `new`, named in `omitted`; the ids, statuses and
 * the change itself always go out. The full entity stays readable in the table.
 */
export function fitChange(change: StateChange): StateChange {
  let fitted: StateChange = change;
  const omitted: string[] = [];
  for (const side of ['old', 'new'] as const) {
    if (Buffer.byteLength(JSON.stringify(fitted)) <= MAX_DETAIL_BYTES) break;
    const value = fitted[side];
    if (value && 'info' in value) {
      const { info: _info, ...rest } = value;
      fitted = { ...fitted, [side]: rest };
      omitted.push(`${side}.info`);
    }
  }
  return omitted.length > 0 ? { ...fitted, omitted } : fitted;
}
