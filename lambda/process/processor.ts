/**
 * Applies queued webhook events to the state table: one conditional write per event.
 *
 * Per event: project it onto its entity (state-model.ts) and put the candidate item on the
 * condition `attribute_not_exists(pk) OR rev < :rev`. The revision order makes that write the
 * whole decision: a newer event is stored, a duplicate or stale one is refused by DynamoDB (one
 * request, no read, no other write). Nothing is published here: the table's stream carries every
 * stored write, with the item before and after, to the publisher (lambda/publish/), which derives
 * the changes. So there is no processing record, no transaction and no outbox on the hot path.
 *
 * What cannot become an entity is still kept, one item per event under `EVENT#<eventId>`: an
 * unknown event type (with its body, for a replay once the model knows it) and an event rejected
 * for good (with its reason). Failures are classified: permanent ones (the event can never apply,
 * whatever the retry) are recorded once and acknowledged; transient ones (throttling, 5xx, a
 * network error) are reported in `batchItemFailures` and retried by SQS.
 *
 * A claim-checked message (attribute `bodyLocation` = `s3`, contracts/queue-message.ts) carries a
 * pointer to its body in the claim-check bucket: the body is fetched and verified first, then
 * processed exactly as if it had come in the message. A pointer that is invalid, an object that is
 * gone or that is not the body the pointer names can never apply (permanent); any other S3 error
 * is transient.
 */
import type { SQSBatchItemFailure, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '../shared/logger';
import { METRIC, MetricDatum, MetricsSink } from '../shared/metrics';
import { BODY_LOCATION_S3, EventSource, MESSAGE_ATTRIBUTE, parseClaimCheck } from '../../contracts/queue-message';
import { claimCheckMismatch, ClaimCheckMissingError, ClaimCheckStore } from './claim-check';
import { EntityItem, isKnownEventType, project, Projection, RECORD_ONLY_EVENT_TYPES } from './state-model';
import { keys, LATE_ARRIVAL_MAX_MS, LATE_ARRIVAL_MS, LATE_ARRIVAL_TTL_SECONDS } from '../../contracts/table-schema';
import { InvalidEventError, parseWebhookEvent, WebhookEvent } from './webhook-event';

export interface ProcessorOptions {
  readonly ddb: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly logger: Logger;
  /** Days tombstones and event records (unknown, rejected) are kept (TTL). */
  readonly eventRecordTtlDays: number;
  /** Where the per-batch metrics go (EMF on Lambda). Default: none. */
  readonly metrics?: MetricsSink;
  /** Milliseconds since the epoch. */
  readonly clock?: () => number;
  /** Records of one batch processed at once. */
  readonly recordConcurrency?: number;
  /**
   * Fetches claim-checked bodies (`s3ClaimCheckStore` in claim-check.ts). Without it a
   * claim-checked message is a configuration error: retried (so it ends in the DLQ), never dropped.
   */
  readonly claimChecks?: ClaimCheckStore;
  /**
   * This pipeline's claim-check bucket: a pointer naming any other bucket is refused as
   * `invalid_claim_check` (defence in depth behind the role, which may read this bucket only).
   * Unset: the pointer's bucket is taken as is.
   */
  readonly claimCheckBucket?: string;
}

export type RecordOutcome =
  /** Stored: the entity item is now this event's projection. */
  | 'applied'
  /** Not newer than what is stored (a duplicate or a stale event): refused by the conditional write. */
  | 'stale'
  /** A type the model does not know: recorded and acknowledged. */
  | 'unknown_type'
  /** Can never apply (invalid, out of range): recorded with its reason and acknowledged. */
  | 'rejected';

export interface RecordResult {
  readonly messageId: string;
  readonly eventId?: string;
  readonly outcome?: RecordOutcome;
  /** Set when the record is to be retried (transient failure). */
  readonly error?: Error;
  /** Why a rejected event can never apply. */
  readonly reason?: string;
}

export interface Processor {
  processBatch(records: readonly SQSRecord[]): Promise<SQSBatchResponse>;
  /** Like `processBatch`, with each record's outcome (for the local runtime, tests and benchmarks). */
  processRecords(records: readonly SQSRecord[]): Promise<RecordResult[]>;
}

/** The event can never apply; `reason` says why (`detail`: more, for the log). Recorded once, never retried. */
class PermanentFailure extends Error {
  constructor(
    readonly reason: string,
    readonly detail?: string,
  ) {
    super(reason);
    this.name = 'PermanentFailure';
  }
}

/**
 * The reason recorded for a live-phase event accepted longer ago than the tombstone retention
 * (`eventRecordTtlDays`) allows: the tombstone that would refuse it may be gone, so applying it
 * could bring an ended entity back.
 */
export const OLDER_THAN_TOMBSTONES = 'older_than_tombstones';

/** The reasons a claim-checked message can never apply, as recorded in its event record. */
export const CLAIM_CHECK_REASON = {
  /** The message says its body is in S3, but its body is not a valid `ClaimCheck`. */
  invalid: 'invalid_claim_check',
  /** The object is not in the bucket (expired by the lifecycle rule, or never written). */
  missing: 'claim_check_missing',
  /** The object's length or SHA-256 is not the pointer's. */
  corrupt: 'claim_check_corrupt',
} as const;

const DAY_SECONDS = 86_400;
/** A record body kept in an event record is cut here, below DynamoDB's 400 KB item limit. */
const MAX_RECORD_BODY_BYTES = 350_000;
/**
 * LiveKit stamps `createdAt` with `time.Now().Unix()`, seconds (livekit/livekit
 * pkg/telemetry/events.go). Above this (year 5138) it is not seconds: a milliseconds or
 * microseconds value would date the tombstone and the change millennia away.
 */
const MAX_CREATED_AT_SECONDS = 1e11;

/**
 * A message whose SQS `SentTimestamp` is this much later than its `receivedAt` was sent to the
 * queue again after its first enqueue: a DLQ redrive. Ingest sends within its 1.5 s store
 * deadline and the reconciler stamps `receivedAt` as it sends, so a first enqueue never comes
 * near it; a message reaches the DLQ only after `maxReceiveCount` receives, each followed by a
 * visibility timeout (minutes), and leaves it only when someone redrives it.
 */
export const RESENT_AFTER_MS = 60_000;

/**
 * Where a message's apply lag starts (ms since the epoch), or undefined without a `receivedAt`:
 * when ingest (or the reconciler) accepted the event, unless the message was redriven from the
 * DLQ, which makes it a new message with a new enqueue time (AWS SQS Developer Guide, "Configure a
 * dead-letter queue redrive": "All redriven messages are considered new messages with a new
 * messageID and enqueueTime"; `npm run dlq:redrive -- --copy` sends a new message too). A redriven
 * event's lag counts from its redrive: the time it sat in the DLQ was paged for by `dlq-not-empty`,
 * and counting it again would page `apply-lag` throughout the redrive an engineer runs to recover.
 * A retry after a visibility timeout keeps its `SentTimestamp`, so retries still count as lag.
 */
export function lagStartMs(record: Pick<SQSRecord, 'attributes' | 'messageAttributes'>): number | undefined {
  const receivedAt = Number(record.messageAttributes?.[MESSAGE_ATTRIBUTE.receivedAt]?.stringValue);
  if (!Number.isFinite(receivedAt) || receivedAt <= 0) return undefined;
  const sentAt = Number(record.attributes?.SentTimestamp);
  return Number.isFinite(sentAt) && sentAt - receivedAt > RESENT_AFTER_MS ? sentAt : receivedAt;
}

export function createProcessor(options: ProcessorOptions): Processor {
  const { ddb, tableName, logger } = options;
  const clock = options.clock ?? Date.now;
  const ttlSeconds = options.eventRecordTtlDays * DAY_SECONDS;
  const recordConcurrency = options.recordConcurrency ?? 10;

  /** Writes an item only if absent; false when it already exists (a redelivery). */
  async function putOnce(item: Record<string, unknown>): Promise<boolean> {
    try {
      await ddb.send(new PutCommand({ TableName: tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }));
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** An `EVENT#<id>` item: what could not become an entity, kept with its body. */
  function eventRecord(
    eventId: string,
    eventType: string | undefined,
    source: EventSource,
    outcome: 'unknown_type' | 'rejected',
    body: string,
    reason?: string,
  ) {
    const nowMs = clock();
    const bodyBytes = Buffer.byteLength(body);
    return {
      ...keys.eventRecord(eventId),
      eventId,
      eventType,
      source,
      outcome,
      reason,
      processedAt: new Date(nowMs).toISOString(),
      expiresAt: Math.floor(nowMs / 1000) + ttlSeconds,
      body: bodyBytes > MAX_RECORD_BODY_BYTES ? Buffer.from(body).subarray(0, MAX_RECORD_BODY_BYTES).toString() : body,
      bodyBytes,
      bodyTruncated: bodyBytes > MAX_RECORD_BODY_BYTES ? true : undefined,
    };
  }

  /**
   * Everything about an event that can be checked without DynamoDB; throws `PermanentFailure`.
   * Only the event can make this pure code throw (a missing id, a RangeError on a value): no retry helps.
   */
  function permanently<T>(step: () => T): T {
    try {
      return step();
    } catch (error) {
      throw new PermanentFailure(error instanceof Error ? error.message : String(error));
    }
  }

  function projectEvent(event: WebhookEvent, source: EventSource): Projection | undefined {
    if (event.createdAt !== undefined && Math.abs(Number(event.createdAt)) >= MAX_CREATED_AT_SECONDS) {
      throw new InvalidEventError(`createdAt ${String(event.createdAt)} is not a time in seconds`);
    }
    return isKnownEventType(event.event) ? project(event as WebhookEvent & { event: typeof event.event }, ttlSeconds, source) : undefined;
  }

  /**
   * Refuses a live-phase event that ingest (or the reconciler) accepted more than
   * `eventRecordTtlDays` less a day ago. Its entity's end, if it came, was created no earlier than
   * the event (LiveKit creates a session's events in order; a repair's `createdAt` is its run), and
   * the event no more than LiveKit's delivery window (under a minute; the day covers that and any
   * clock skew) before `receivedAt`; so the end's tombstone, kept until its `createdAt` + the TTL,
   * is still there for any younger event, and may be gone for an older one, which would bring the
   * ended entity back (a ghost participant, and a `joined` change for it). Only a message redriven
   * from the DLQ more than once gets that old (a redrive makes a new message whose retention starts
   * again; the config keeps the TTL above one queue + DLQ retention); whatever of it is still live,
   * the reconciler repairs from LiveKit. A terminal event is a tombstone itself and applies.
   */
  function refuseOlderThanTombstones(projection: Projection, record: SQSRecord): void {
    if (projection.item.terminal) return;
    const receivedAt = Number(record.messageAttributes?.[MESSAGE_ATTRIBUTE.receivedAt]?.stringValue);
    if (!Number.isFinite(receivedAt) || receivedAt <= 0) return;
    const ageSeconds = (clock() - receivedAt) / 1000;
    if (ageSeconds < ttlSeconds - DAY_SECONDS) return;
    throw new PermanentFailure(
      OLDER_THAN_TOMBSTONES,
      `accepted ${(ageSeconds / DAY_SECONDS).toFixed(1)} days ago; tombstones are kept ${options.eventRecordTtlDays} days from their event`,
    );
  }

  async function apply(projection: Projection): Promise<'applied' | 'stale'> {
    try {
      await ddb.send(
        new PutCommand({
          TableName: tableName,
          Item: projection.item,
          // The whole decision, in one request: never seen, or older than this event.
          ConditionExpression: 'attribute_not_exists(pk) OR #rev < :rev',
          ExpressionAttributeNames: { '#rev': 'rev' },
          ExpressionAttributeValues: { ':rev': projection.item.rev },
        }),
      );
      return 'applied';
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return 'stale';
      // DynamoDB refuses the item itself (too large, an invalid value): it would refuse it every time.
      if ((error as Error).name === 'ValidationException')
        throw new PermanentFailure(`DynamoDB refused the item: ${(error as Error).message}`);
      throw error;
    }
  }

  /**
   * Evidence for the reconciler, written only when a webhook arrived late (LATE_ARRIVAL_MS after
   * LiveKit created it, table-schema.ts): the events queued behind it in LiveKit's serial room
   * queue may have been dropped, so the reconciler checks that room first. A duplicate or stale
   * delivery counts too: its lateness says the same about the queue. Evidence only: a failed write
   * is logged and costs a faster detection, never the event.
   */
  async function recordLateArrival(item: EntityItem, receivedAt: number, log: Logger): Promise<void> {
    const roomSid = typeof item.roomSid === 'string' ? item.roomSid : item.entityType === 'room' ? item.entityId : undefined;
    if (!roomSid || item.lastEventCreatedAt === undefined || !Number.isFinite(receivedAt) || receivedAt <= 0) return;
    // `createdAt` has a resolution of one second: count the lateness from the end of that second.
    const lateMs = receivedAt - (item.lastEventCreatedAt + 1) * 1000;
    if (lateMs < LATE_ARRIVAL_MS || lateMs > LATE_ARRIVAL_MAX_MS) return;
    try {
      await ddb.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            ...keys.lateArrival(roomSid),
            roomSid,
            ...(typeof item.roomName === 'string' ? { roomName: item.roomName } : {}),
            eventId: item.lastEventId,
            createdAt: item.lastEventCreatedAt,
            receivedAt,
            lateMs,
            expiresAt: Math.floor(receivedAt / 1000) + LATE_ARRIVAL_TTL_SECONDS,
          },
        }),
      );
      log.info('late webhook recorded for the reconciler', { roomSid, lateMs });
    } catch (error) {
      log.warn('late webhook not recorded', { roomSid, lateMs, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  /**
   * The body a claim-checked message points to, verified. Throws `PermanentFailure` for what no
   * retry mends (an invalid pointer, a missing or corrupt object); anything else S3 throws, and a
   * processor without a store, is transient.
   */
  async function claimedBody(record: SQSRecord, log: Logger): Promise<string> {
    const check = parseClaimCheck(record.body);
    if (!check) throw new PermanentFailure(CLAIM_CHECK_REASON.invalid, 'the body is not a claim check');
    if (options.claimCheckBucket !== undefined && check.bucket !== options.claimCheckBucket)
      throw new PermanentFailure(CLAIM_CHECK_REASON.invalid, `the pointer names bucket ${check.bucket}, not this pipeline's`);
    if (!options.claimChecks) {
      // A deployment error (the function was built without the bucket): loud, and never a drop.
      log.error('claim-checked event but no claim-check store is configured; retried until the DLQ', {
        bucket: check.bucket,
        key: check.key,
      });
      throw new Error('no claim-check store configured');
    }
    let text: string;
    try {
      text = await options.claimChecks.fetch(check);
    } catch (error) {
      if (error instanceof ClaimCheckMissingError) throw new PermanentFailure(CLAIM_CHECK_REASON.missing, error.message);
      throw error;
    }
    const mismatch = claimCheckMismatch(check, text);
    if (mismatch) throw new PermanentFailure(CLAIM_CHECK_REASON.corrupt, `s3://${check.bucket}/${check.key}: ${mismatch}`);
    return text;
  }

  async function processRecord(record: SQSRecord): Promise<RecordResult & { lagMs?: number; ageMs?: number }> {
    let log = logger.child({ messageId: record.messageId });
    const source: EventSource =
      record.messageAttributes?.[MESSAGE_ATTRIBUTE.source]?.stringValue === 'reconciler' ? 'reconciler' : 'webhook';
    let eventId: string | undefined;
    let eventType: string | undefined;
    // The event's text: the message body, or the body it points to once fetched.
    let body = record.body;
    const claimChecked = record.messageAttributes?.[MESSAGE_ATTRIBUTE.bodyLocation]?.stringValue === BODY_LOCATION_S3;
    // Ingest set these from the verified event; until the body is fetched they are all there is to
    // name it by, so a pointer that can never resolve is recorded under the event's own id.
    const claimedEventId = claimChecked ? record.messageAttributes?.[MESSAGE_ATTRIBUTE.eventId]?.stringValue || undefined : undefined;
    const claimedEventType = claimChecked ? record.messageAttributes?.[MESSAGE_ATTRIBUTE.eventType]?.stringValue || undefined : undefined;
    try {
      try {
        if (claimChecked) {
          if (claimedEventId) log = log.child({ eventId: claimedEventId });
          body = await claimedBody(record, log);
        }
        const event = permanently(() => parseWebhookEvent(body));
        eventId = event.id;
        eventType = event.event;
        log = logger.child({ messageId: record.messageId, eventId, eventType, room: roomNameOf(event) });
        const projection = permanently(() => projectEvent(event, source));
        if (!projection) {
          // Kept whole, so a type LiveKit adds later can be replayed once the model knows it.
          if (await putOnce(eventRecord(event.id, event.event, source, 'unknown_type', body))) {
            if ((RECORD_ONLY_EVENT_TYPES as readonly string[]).includes(event.event))
              log.info('event recorded: it describes no room state');
            else log.warn('unknown event type recorded');
          }
          return { messageId: record.messageId, eventId, outcome: 'unknown_type' };
        }
        refuseOlderThanTombstones(projection, record);
        const outcome = await apply(projection);
        const now = clock();
        const receivedAt = Number(record.messageAttributes?.[MESSAGE_ATTRIBUTE.receivedAt]?.stringValue);
        if (source === 'webhook') await recordLateArrival(projection.item, receivedAt, log);
        const lagStart = lagStartMs(record);
        if (outcome === 'stale') {
          log.info('stale or duplicate event ignored', { eventRev: projection.item.rev });
          return { messageId: record.messageId, eventId, outcome };
        }
        // A metric filter counts this message: keep it. One line per event is billed per byte: no
        // `rev` here (it is the item's, and ends in the event id the line already names).
        log.info('event applied', { entity: projection.item.pk, status: projection.item.status });
        const createdAt = projection.item.lastEventCreatedAt;
        return {
          messageId: record.messageId,
          eventId,
          outcome,
          lagMs: lagStart !== undefined ? Math.max(0, now - lagStart) : undefined,
          ageMs: createdAt !== undefined ? Math.max(0, now - createdAt * 1000) : undefined,
        };
      } catch (error) {
        if (!(error instanceof PermanentFailure)) throw error;
        // Recorded once (a redelivery finds the record and writes nothing), counted, acknowledged.
        const id = eventId ?? claimedEventId ?? `message:${record.messageId}`;
        await putOnce(eventRecord(id, eventType ?? claimedEventType, source, 'rejected', body, error.reason));
        log.error('event rejected: it can never apply', {
          reason: error.reason,
          ...(error.detail !== undefined ? { detail: error.detail } : {}),
          permanent: true,
          recordKey: keys.eventRecord(id).pk,
        });
        return { messageId: record.messageId, eventId: eventId ?? claimedEventId, outcome: 'rejected', reason: error.reason };
      }
    } catch (error) {
      const err = error instanceof Error ? error : new Error(String(error));
      log.warn('event not processed, SQS will redeliver it', {
        error: err,
        permanent: false,
        receiveCount: record.attributes?.ApproximateReceiveCount,
      });
      return { messageId: record.messageId, eventId: eventId ?? claimedEventId, error: err };
    }
  }

  function emitMetrics(results: readonly (RecordResult & { lagMs?: number; ageMs?: number })[]): void {
    if (!options.metrics || results.length === 0) return;
    // EventsProcessed is counted from the `event applied` log line by a metric filter, not here.
    const data: MetricDatum[] = [];
    const rejected = results.filter((r) => r.outcome === 'rejected').length;
    if (rejected > 0) data.push({ name: METRIC.eventsRejected, value: rejected });
    // One line per batch: the largest lag of the batch (its worst event) is what an alarm wants.
    const lags = results.map((r) => r.lagMs).filter((v): v is number => v !== undefined);
    const ages = results.map((r) => r.ageMs).filter((v): v is number => v !== undefined);
    if (lags.length > 0) data.push({ name: METRIC.applyLag, value: Math.max(...lags), unit: 'Milliseconds' });
    if (ages.length > 0) data.push({ name: METRIC.eventAge, value: Math.max(...ages), unit: 'Milliseconds' });
    options.metrics.put(data, { records: results.length });
  }

  async function processRecords(records: readonly SQSRecord[]): Promise<RecordResult[]> {
    const results = new Array<RecordResult & { lagMs?: number; ageMs?: number }>(records.length);
    let next = 0;
    const worker = async () => {
      while (next < records.length) {
        const index = next++;
        results[index] = await processRecord(records[index]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(recordConcurrency, records.length) }, worker));
    emitMetrics(results);
    return results;
  }

  return {
    processRecords,
    async processBatch(records) {
      const results = await processRecords(records);
      const batchItemFailures: SQSBatchItemFailure[] = results
        .filter((result) => result.error)
        .map((result) => ({ itemIdentifier: result.messageId }));
      return { batchItemFailures };
    },
  };
}

function roomNameOf(event: WebhookEvent): string | undefined {
  return event.room?.name ?? event.egressInfo?.roomName ?? event.ingressInfo?.roomName;
}
