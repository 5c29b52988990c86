/**
 * What Lambda sends to a DynamoDB stream event source's on-failure destination when it gives up on
 * a batch: an *invocation record*, a pointer to a range of the stream, not the stream records
 * (AWS Lambda developer guide, "Retaining discarded batches for a DynamoDB event source",
 * services-dynamodb-errors.html). The publisher's DLQ (lib/processing.ts) holds these; the local
 * runtime sends the same JSON to its own publisher DLQ (local/local-pipeline.ts).
 *
 * ```json
 * {"requestContext":{"requestId":"…","functionArn":"arn:aws:lambda:…","condition":"RetryAttemptsExhausted","approximateInvokeCount":101},
 *  "responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},
 *  "version":"1.0","timestamp":"2025-06-05T18:22:26.479Z",
 *  "DDBStreamBatchInfo":{"shardId":"shardId-…","startSequenceNumber":"…","endSequenceNumber":"…",
 *    "approximateArrivalOfFirstRecord":"…","approximateArrivalOfLastRecord":"…","batchSize":1,"streamArn":"arn:aws:dynamodb:…"}}
 * ```
 */
import { randomUUID } from 'node:crypto';

/** `DDBStreamBatchInfo`: the batch given up on, by position in the stream. */
export interface StreamBatchInfo {
  readonly shardId: string;
  /** The first and last record's sequence numbers (decimal strings; compare them as BigInt). */
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly approximateArrivalOfFirstRecord?: string;
  readonly approximateArrivalOfLastRecord?: string;
  /** Records in the batch (after the event source's filter). */
  readonly batchSize: number;
  readonly streamArn: string;
}

/** The invocation record, as Lambda writes it. */
export interface InvocationRecord {
  readonly requestContext: {
    readonly requestId?: string;
    readonly functionArn?: string;
    /** Why the batch was given up on: `RetryAttemptsExhausted`, `RecordAgeExceeded`, … */
    readonly condition: string;
    readonly approximateInvokeCount?: number;
  };
  readonly responseContext?: {
    readonly statusCode?: number;
    readonly executedVersion?: string;
    readonly functionError?: string;
  };
  readonly version?: string;
  readonly timestamp?: string;
  readonly DDBStreamBatchInfo: StreamBatchInfo;
}

/** A message that is not an invocation record, with what is wrong with it. */
export class InvocationRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvocationRecordError';
  }
}

/** DynamoDB Streams sequence numbers: 21 to 40 digits (the Streams API's constraint). */
const SEQUENCE_NUMBER = /^\d{21,40}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses and validates a DLQ message body. Throws InvocationRecordError naming the first problem:
 * not JSON, no `DDBStreamBatchInfo`, a field missing or of the wrong type, a start after the end.
 */
export function parseInvocationRecord(body: string): InvocationRecord {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new InvocationRecordError(`not JSON: ${JSON.stringify(body.slice(0, 80))}`);
  }
  if (!isObject(parsed)) throw new InvocationRecordError('not a JSON object');
  const info = parsed.DDBStreamBatchInfo;
  if (!isObject(info)) throw new InvocationRecordError('no DDBStreamBatchInfo (not a DynamoDB stream invocation record)');
  const context = parsed.requestContext;
  if (!isObject(context) || typeof context.condition !== 'string' || context.condition === '')
    throw new InvocationRecordError('no requestContext.condition');
  for (const field of ['shardId', 'streamArn'] as const) {
    if (typeof info[field] !== 'string' || info[field] === '') throw new InvocationRecordError(`DDBStreamBatchInfo.${field} missing`);
  }
  if (!/^arn:[^:]+:dynamodb:[^:]*:[^:]*:table\/.+\/stream\/.+$/.test(info.streamArn as string))
    throw new InvocationRecordError(`DDBStreamBatchInfo.streamArn is not a DynamoDB stream ARN: ${String(info.streamArn)}`);
  for (const field of ['startSequenceNumber', 'endSequenceNumber'] as const) {
    const value = info[field];
    if (typeof value !== 'string' || !SEQUENCE_NUMBER.test(value))
      throw new InvocationRecordError(`DDBStreamBatchInfo.${field} is not a sequence number: ${JSON.stringify(value)}`);
  }
  if (BigInt(info.startSequenceNumber as string) > BigInt(info.endSequenceNumber as string))
    throw new InvocationRecordError('DDBStreamBatchInfo.startSequenceNumber is after endSequenceNumber');
  if (typeof info.batchSize !== 'number' || !Number.isInteger(info.batchSize) || info.batchSize < 1)
    throw new InvocationRecordError(`DDBStreamBatchInfo.batchSize is not a positive integer: ${JSON.stringify(info.batchSize)}`);
  for (const field of ['approximateArrivalOfFirstRecord', 'approximateArrivalOfLastRecord'] as const) {
    if (info[field] !== undefined && typeof info[field] !== 'string')
      throw new InvocationRecordError(`DDBStreamBatchInfo.${field} is not a string`);
  }
  return parsed as unknown as InvocationRecord;
}

/** What a batch given up on is built from (the local stream source's failure). */
export interface GivenUpBatch {
  readonly streamArn: string;
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly batchSize: number;
  readonly firstArrival?: Date;
  readonly lastArrival?: Date;
  readonly condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
  readonly invokeCount: number;
  readonly functionArn: string;
  /** Whether the last invocation threw (`Unhandled`) rather than reporting batch item failures. */
  readonly functionError: boolean;
}

/** The invocation record Lambda would send for `batch` (used by the local runtime). */
export function invocationRecord(batch: GivenUpBatch, now: Date = new Date()): InvocationRecord {
  // Lambda writes the arrival times to the second, without milliseconds.
  const second = (date: Date | undefined) => (date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined);
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn: batch.functionArn,
      condition: batch.condition,
      approximateInvokeCount: batch.invokeCount,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', ...(batch.functionError ? { functionError: 'Unhandled' } : {}) },
    version: '1.0',
    timestamp: now.toISOString(),
    DDBStreamBatchInfo: {
      shardId: batch.shardId,
      startSequenceNumber: batch.startSequenceNumber,
      endSequenceNumber: batch.endSequenceNumber,
      approximateArrivalOfFirstRecord: second(batch.firstArrival),
      approximateArrivalOfLastRecord: second(batch.lastArrival),
      batchSize: batch.batchSize,
      streamArn: batch.streamArn,
    },
  };
}
