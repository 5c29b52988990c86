/**
 * A range of a DynamoDB stream shard read back (`[startSequenceNumber, endSequenceNumber]` of an
 * invocation record), and turned into the event Lambda's DynamoDB event source would have invoked
 * the publisher with. Sequence numbers are decimal strings of up to 40 digits: compared as BigInt,
 * never as strings (lengths differ) or Numbers (they overflow).
 */
import {
  _Record,
  AttributeValue as StreamsAttributeValue,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { StreamBatchInfo } from './invocation-record';

/** Records of one GetRecords page that fall in the range, and whether the page went past its end. */
export function selectRange(records: readonly _Record[], start: bigint, end: bigint): { inRange: _Record[]; pastEnd: boolean } {
  const inRange: _Record[] = [];
  let pastEnd = false;
  for (const record of records) {
    const sequence = record.dynamodb?.SequenceNumber;
    if (sequence === undefined) continue;
    const value = BigInt(sequence);
    if (value > end) {
      pastEnd = true;
      break;
    }
    if (value >= start) inRange.push(record);
    if (value === end) pastEnd = true;
  }
  return { inRange, pastEnd };
}

export type RangeRead =
  | { readonly complete: true; readonly records: _Record[] }
  /** The stream no longer holds (all of) the range: why, and what was still found. */
  | { readonly complete: false; readonly reason: string; readonly records: _Record[] };

export interface ReadRangeOptions {
  /** GetRecords pages that return nothing, in a row, before the range is called incomplete. Default 10. */
  readonly maxEmptyPages?: number;
  /** GetRecords `Limit` (1-1000). Default 1000. */
  readonly pageSize?: number;
}

const GONE = new Set(['TrimmedDataAccessException', 'ResourceNotFoundException']);

/**
 * Reads the records of `[startSequenceNumber, endSequenceNumber]` from the shard: GetShardIterator
 * `AT_SEQUENCE_NUMBER` the start, then GetRecords pages until a record at or past the end. The
 * range is complete when its first and last records are there and it holds at least `batchSize`
 * records (more when the event source filtered some out of the batch). Records trimmed from the
 * stream (24 hours after their write: TrimmedDataAccessException) or a shard or stream that no
 * longer exists (ResourceNotFoundException) make it incomplete; any other error is thrown.
 */
export async function readRange(
  streams: DynamoDBStreamsClient,
  batch: StreamBatchInfo,
  options: ReadRangeOptions = {},
): Promise<RangeRead> {
  const start = BigInt(batch.startSequenceNumber);
  const end = BigInt(batch.endSequenceNumber);
  const records: _Record[] = [];
  try {
    let { ShardIterator: iterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: batch.streamArn,
        ShardId: batch.shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        SequenceNumber: batch.startSequenceNumber,
      }),
    );
    let emptyPages = 0;
    let reachedEnd = false;
    while (iterator && !reachedEnd) {
      const page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: options.pageSize ?? 1000 }));
      const { inRange, pastEnd } = selectRange(page.Records ?? [], start, end);
      records.push(...inRange);
      reachedEnd = pastEnd;
      // An open shard's tip can answer empty pages; the end record was written, so it comes.
      emptyPages = (page.Records ?? []).length === 0 ? emptyPages + 1 : 0;
      if (emptyPages >= (options.maxEmptyPages ?? 10)) break;
      iterator = page.NextShardIterator;
    }
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (GONE.has(name)) {
      return {
        complete: false,
        reason: `${name}: ${(error as Error).message || 'the stream no longer holds these records'}`,
        records,
      };
    }
    throw error;
  }
  const first = records[0]?.dynamodb?.SequenceNumber;
  const last = records[records.length - 1]?.dynamodb?.SequenceNumber;
  if (first === undefined || BigInt(first) !== start)
    return { complete: false, reason: `the range's first record (${batch.startSequenceNumber}) is not in the shard`, records };
  if (last === undefined || BigInt(last) !== end)
    return { complete: false, reason: `the range's last record (${batch.endSequenceNumber}) is not in the shard`, records };
  if (records.length < batch.batchSize)
    return { complete: false, reason: `${records.length} of the batch's ${batch.batchSize} records found`, records };
  return { complete: true, records };
}

/** An attribute value as Lambda's JSON event carries it (binary as base64). */
function lambdaAttribute(value: StreamsAttributeValue): LambdaAttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((b) => Buffer.from(b).toString('base64')) };
  if (value.M !== undefined) return { M: lambdaImage(value.M)! };
  if (value.L !== undefined) return { L: value.L.map(lambdaAttribute) };
  // S, N, BOOL, NULL, SS, NS: the same in both; drop the SDK's `$unknown` member if any.
  const { $unknown: _unknown, ...rest } = value as StreamsAttributeValue & { $unknown?: unknown };
  return rest as LambdaAttributeValue;
}

function lambdaImage(image: Record<string, StreamsAttributeValue> | undefined): Record<string, LambdaAttributeValue> | undefined {
  if (!image) return undefined;
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, lambdaAttribute(value)]));
}

/**
 * A Streams API record as Lambda's DynamoDB event source hands it to a function: the same fields,
 * plus `eventSourceARN` (the stream), `ApproximateCreationDateTime` in epoch seconds and binary
 * values in base64.
 */
export function lambdaEventRecord(record: _Record, streamArn: string): DynamoDBRecord {
  const stream = record.dynamodb ?? {};
  const created = stream.ApproximateCreationDateTime;
  return {
    eventID: record.eventID,
    eventName: record.eventName,
    eventVersion: record.eventVersion,
    eventSource: record.eventSource ?? 'aws:dynamodb',
    awsRegion: record.awsRegion ?? streamArn.split(':')[3],
    eventSourceARN: streamArn,
    dynamodb: {
      ...(created !== undefined ? { ApproximateCreationDateTime: created.getTime() / 1000 } : {}),
      ...(stream.Keys ? { Keys: lambdaImage(stream.Keys) } : {}),
      ...(stream.NewImage ? { NewImage: lambdaImage(stream.NewImage) } : {}),
      ...(stream.OldImage ? { OldImage: lambdaImage(stream.OldImage) } : {}),
      SequenceNumber: stream.SequenceNumber,
      SizeBytes: stream.SizeBytes,
      StreamViewType: stream.StreamViewType,
    },
    ...(record.userIdentity ? { userIdentity: record.userIdentity } : {}),
  };
}

/** Lambda's synchronous invocation payload limit is 6 MB; stay well below it per invocation. */
export const MAX_EVENT_BYTES = 5_000_000;

/**
 * The events to invoke the publisher with, in stream order: one unless the records' JSON would pass
 * `maxBytes` (a batch Lambda sent fitted its own 6 MB limit, so normally one).
 */
export function lambdaEvents(records: readonly DynamoDBRecord[], maxBytes = MAX_EVENT_BYTES): DynamoDBStreamEvent[] {
  const events: DynamoDBStreamEvent[] = [];
  let current: DynamoDBRecord[] = [];
  let bytes = 0;
  for (const record of records) {
    const size = Buffer.byteLength(JSON.stringify(record)) + 1;
    if (current.length > 0 && bytes + size > maxBytes) {
      events.push({ Records: current });
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  }
  if (current.length > 0) events.push({ Records: current });
  return events;
}
