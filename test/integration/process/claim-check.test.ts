/**
 * Claim-checked events (contracts/queue-message.ts): a genuine LiveKit event too large for an SQS
 * message arrives as a pointer to its body in the claim-check bucket. Against DynamoDB Local and
 * fauxqs's S3: the body is fetched, verified and applied as any other; a pointer that can never
 * resolve is recorded once with its reason and acknowledged; an S3 outage is retried, never recorded.
 */
import { createHash } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { MessageAttributeValue, SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { BODY_LOCATION_S3, ClaimCheck, claimCheckKey, MESSAGE_ATTRIBUTE } from '../../../contracts/queue-message';
import { keys } from '../../../contracts/table-schema';
import { s3ClaimCheckStore } from '../../../lambda/process/claim-check';
import { CLAIM_CHECK_REASON, createProcessor, ProcessorOptions } from '../../../lambda/process/processor';
import { getEventRecord } from '../../../lambda/process/queries';
import { EntityItem, entityInfo } from '../../../lambda/process/state-model';
import { SQS_MAX_MESSAGE_BYTES } from '../../../lambda/shared/sqs-safe-body';
import { parseConfig } from '../../../lib/config';
import { freePort } from '../../../local/engines/free-port';
import { startLocalPipeline } from '../../../local/local-pipeline';
import { localS3ClientConfig, SqsEmulator, startSqsEmulator } from '../../../local/engines/sqs-emulator';
import { participantJoined, sqsRecord } from '../../../simulator/events';
import { processHandlerEnv, useDynamoDbLocal } from '../../support/dynamodb';
import { memoryLogger } from '../../support/state';

const local = useDynamoDbLocal();
let sqs: SqsEmulator;
let bucket: string;
let tableName: string;

beforeAll(async () => {
  sqs = await startSqsEmulator();
  bucket = await sqs.createBucket();
  tableName = await local.engine.createStateTable();
});
afterAll(async () => {
  await sqs?.stop();
});

const T0 = 1_771_351_800;
let n = 0;
const newRoom = () => ({ sid: `RM_cc${++n}`, name: `claim check ${n}` });
const target = () => ({ ddb: local.engine.documentClient, tableName });
const getItem = async (key: { pk: string; sk: string }) =>
  (await local.engine.documentClient.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item as
    EntityItem | undefined;

function processor(overrides: Partial<ProcessorOptions> = {}) {
  const { logger, lines } = memoryLogger();
  return {
    lines,
    processor: createProcessor({
      ddb: local.engine.documentClient,
      tableName,
      logger,
      eventRecordTtlDays: 30,
      claimChecks: s3ClaimCheckStore(sqs.s3),
      ...overrides,
    }),
  };
}

/** The pointer for `body` as ingest builds it (content-addressed key). */
function pointerTo(body: string, inBucket = bucket): ClaimCheck {
  const sha256 = createHash('sha256').update(body, 'utf8').digest('hex');
  return { claimCheck: { bucket: inBucket, key: claimCheckKey(sha256), bytes: Buffer.byteLength(body), sha256 } };
}

/** The SQS record ingest enqueues for a claim-checked event: its attributes, the pointer (or `pointer`) as its body. */
function claimCheckedRecord(event: ReturnType<typeof participantJoined>, pointer: ClaimCheck | string): SQSRecord {
  const record = sqsRecord(event);
  return {
    ...record,
    body: typeof pointer === 'string' ? pointer : JSON.stringify(pointer),
    messageAttributes: {
      ...record.messageAttributes,
      [MESSAGE_ATTRIBUTE.bodyLocation]: { stringValue: BODY_LOCATION_S3, stringListValues: [], binaryListValues: [], dataType: 'String' },
    },
  };
}

async function store(key: string, text: string, inBucket = bucket): Promise<void> {
  await sqs.s3.send(new PutObjectCommand({ Bucket: inBucket, Key: key, Body: text, ContentType: 'application/json' }));
}

/** A genuine participant_joined over 1 MiB: ~600 KB each of room and participant metadata. */
function hugeJoin(room = newRoom()) {
  const joined = participantJoined(room, { sid: `PA_cc${n}`, identity: 'huge' }, T0);
  const event = {
    ...joined,
    room: { ...joined.room, metadata: 'r'.repeat(600_000) },
    participant: { ...joined.participant, metadata: 'p'.repeat(600_000) },
  };
  const body = JSON.stringify(event);
  expect(Buffer.byteLength(body)).toBeGreaterThan(SQS_MAX_MESSAGE_BYTES);
  return { event, body, participantSid: joined.participant!.sid! };
}

describe('a claim-checked event', () => {
  test('a participant_joined over 1 MiB is fetched and applied, its info cut under the item budget; a duplicate delivery is refused', async () => {
    const { event, body, participantSid } = hugeJoin();
    const pointer = pointerTo(body);
    await store(pointer.claimCheck.key, body);
    const record = claimCheckedRecord(event, pointer);
    const { processor: p } = processor();

    const [first] = await p.processRecords([record]);
    const [again] = await p.processRecords([{ ...record, messageId: 'redelivered' }]);

    expect(first).toMatchObject({ eventId: event.id, outcome: 'applied' });
    expect(first.error).toBeUndefined();
    expect(again).toMatchObject({ eventId: event.id, outcome: 'stale' });
    const item = await getItem(keys.participant(participantSid));
    expect(item).toMatchObject({ status: 'ACTIVE', lastEventId: event.id, infoOmitted: ['metadata'] });
    expect(Buffer.byteLength(item!.info)).toBeLessThanOrEqual(350_000);
    expect(entityInfo(item!).identity).toBe('huge');
    // Applied events leave no event record; the pointer is not kept anywhere.
    expect((await getEventRecord(target(), event.id)).record).toBeUndefined();
  });

  test('through the Lambda handler module: its S3 client reaches the bucket the pointer names', async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, processHandlerEnv(local.engine, tableName), { AWS_ENDPOINT_URL_S3: sqs.endpoint });
      jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      let handler!: (event: SQSEvent) => Promise<SQSBatchResponse>;
      jest.isolateModules(() => {
        handler = (require('../../../lambda/process/handler') as { handler: typeof handler }).handler;
      });
      const { event, body, participantSid } = hugeJoin();
      const pointer = pointerTo(body);
      await store(pointer.claimCheck.key, body);

      const response = await handler({ Records: [claimCheckedRecord(event, pointer)] });

      expect(response.batchItemFailures).toEqual([]);
      expect(await getItem(keys.participant(participantSid))).toMatchObject({ status: 'ACTIVE', lastEventId: event.id });
    } finally {
      process.env = saved;
      jest.restoreAllMocks();
    }
  });

  test('an unknown event type keeps the fetched body in its event record, cut as any record body', async () => {
    const { event, body } = hugeJoin();
    const unknown = { ...event, event: 'room_metadata_changed' };
    const text = JSON.stringify(unknown);
    const pointer = pointerTo(text);
    await store(pointer.claimCheck.key, text);

    const [result] = await processor().processor.processRecords([claimCheckedRecord(unknown, pointer)]);

    expect(result).toMatchObject({ eventId: event.id, outcome: 'unknown_type' });
    const { record } = await getEventRecord(target(), event.id);
    expect(record).toMatchObject({
      outcome: 'unknown_type',
      bodyBytes: Buffer.byteLength(body) + 'room_metadata_changed'.length - 'participant_joined'.length,
      bodyTruncated: true,
    });
    expect(record?.body).toBe(text.slice(0, 350_000));
  });
});

describe('a pointer that can never resolve is recorded once and acknowledged', () => {
  test('a missing object (expired, or never written): claim_check_missing, under the event id, once', async () => {
    const { event, body } = hugeJoin();
    const pointer = pointerTo(body); // never stored
    const record = claimCheckedRecord(event, pointer);
    let now = Date.UTC(2026, 0, 1);
    const { processor: p, lines } = processor({ clock: () => now });

    const first = await p.processBatch([record]);
    now += 60_000;
    const again = await p.processBatch([record]);

    expect(first.batchItemFailures).toEqual([]);
    expect(again.batchItemFailures).toEqual([]);
    const { record: stored } = await getEventRecord(target(), event.id);
    expect(stored).toMatchObject({
      outcome: 'rejected',
      reason: CLAIM_CHECK_REASON.missing,
      eventType: 'participant_joined',
      body: record.body,
      processedAt: new Date(Date.UTC(2026, 0, 1)).toISOString(),
    });
    expect(await getItem(keys.participant(event.participant.sid!))).toBeUndefined();
    const rejected = lines.filter((line) => line.message === 'event rejected: it can never apply');
    expect(rejected).toHaveLength(2);
    expect(rejected[0]).toMatchObject({ reason: 'claim_check_missing', eventId: event.id, permanent: true });
    expect(String(rejected[0].detail)).toContain(pointer.claimCheck.key);
  });

  test('an object that is not the body the pointer names (same length, another hash): claim_check_corrupt', async () => {
    const { event, body } = hugeJoin();
    const pointer = pointerTo(body);
    await store(pointer.claimCheck.key, body.replace('"huge"', '"HUGE"'));

    const [result] = await processor().processor.processRecords([claimCheckedRecord(event, pointer)]);

    expect(result).toMatchObject({ eventId: event.id, outcome: 'rejected', reason: CLAIM_CHECK_REASON.corrupt });
    expect(result.error).toBeUndefined();
    expect((await getEventRecord(target(), event.id)).record).toMatchObject({ reason: 'claim_check_corrupt' });
    expect(await getItem(keys.participant(event.participant.sid!))).toBeUndefined();
  });

  test.each([
    ['shorter', (body: string) => body.slice(0, 1000), () => 1000],
    // Read up to one byte past the pointer's length, no further.
    ['longer', (body: string) => body + ' '.repeat(5_000_000), (bytes: number) => bytes + 1],
  ])('an object %s than the pointer says: claim_check_corrupt', async (_, damage, bytesRead) => {
    const { event, body } = hugeJoin();
    const pointer = pointerTo(body);
    await store(pointer.claimCheck.key, damage(body));
    const { processor: p, lines } = processor();

    const [result] = await p.processRecords([claimCheckedRecord(event, pointer)]);

    expect(result).toMatchObject({ outcome: 'rejected', reason: 'claim_check_corrupt' });
    const rejected = lines.find((line) => line.message === 'event rejected: it can never apply');
    const { bytes } = pointer.claimCheck;
    expect(String(rejected?.detail)).toContain(`the object has ${bytesRead(bytes)} bytes, the pointer says ${bytes}`);
  });

  test.each([
    ['the event itself, not a pointer', (body: string) => body],
    [
      'a key that is not the hash',
      (body: string) => JSON.stringify({ claimCheck: { ...pointerTo(body).claimCheck, key: 'events/other.json' } }),
    ],
    ['not JSON', () => 'claim check'],
  ])('an invalid pointer (%s): invalid_claim_check, nothing fetched', async (_, pointerBody) => {
    const { event, body } = hugeJoin();
    const record = claimCheckedRecord(event, pointerBody(body));
    const fetched: unknown[] = [];

    const { processor: p } = processor({ claimChecks: { fetch: async (check) => (fetched.push(check), body) } });
    const [result] = await p.processRecords([record]);

    expect(result).toMatchObject({ eventId: event.id, outcome: 'rejected', reason: CLAIM_CHECK_REASON.invalid });
    expect(fetched).toEqual([]);
    expect((await getEventRecord(target(), event.id)).record).toMatchObject({
      reason: 'invalid_claim_check',
      body: record.body.slice(0, 350_000),
    });
  });
});

test("a pointer to another bucket than the pipeline's (claimCheckBucket): invalid_claim_check, nothing fetched", async () => {
  const { event, body } = hugeJoin();
  const record = claimCheckedRecord(event, pointerTo(body));
  const fetched: unknown[] = [];

  const { processor: p } = processor({
    claimChecks: { fetch: async (check) => (fetched.push(check), body) },
    claimCheckBucket: 'the-pipelines-own-bucket',
  });
  const [result] = await p.processRecords([record]);

  expect(result).toMatchObject({ eventId: event.id, outcome: 'rejected', reason: CLAIM_CHECK_REASON.invalid });
  expect(fetched).toEqual([]);
});

describe('what a retry can mend is retried, never recorded', () => {
  test('an S3 outage (nothing listening): the record is reported for retry; once S3 is back it applies', async () => {
    const { event, body, participantSid } = hugeJoin();
    const pointer = pointerTo(body);
    await store(pointer.claimCheck.key, body);
    const record = claimCheckedRecord(event, pointer);
    const down = new S3Client({ ...localS3ClientConfig(`http://127.0.0.1:${await freePort()}`), maxAttempts: 1 });
    try {
      const { processor: p, lines } = processor({ claimChecks: s3ClaimCheckStore(down) });
      const response = await p.processBatch([record]);

      expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
      expect(lines).toContainEqual(
        expect.objectContaining({ message: 'event not processed, SQS will redeliver it', permanent: false, eventId: event.id }),
      );
      expect((await getEventRecord(target(), event.id)).record).toBeUndefined();
      expect(await getItem(keys.participant(participantSid))).toBeUndefined();
    } finally {
      down.destroy();
    }

    // The redelivery, with S3 answering again.
    const [retried] = await processor().processor.processRecords([record]);
    expect(retried).toMatchObject({ outcome: 'applied' });
    expect(await getItem(keys.participant(participantSid))).toMatchObject({ status: 'ACTIVE' });
  });

  test('a bucket that does not exist (a misconfiguration, not a missing object): retried', async () => {
    const { event, body } = hugeJoin();
    const pointer = pointerTo(body);
    const record = claimCheckedRecord(event, { claimCheck: { ...pointer.claimCheck, bucket: 'no-such-bucket' } });

    const response = await processor().processor.processBatch([record]);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect((await getEventRecord(target(), event.id)).record).toBeUndefined();
  });

  test('a processor built without a claim-check store retries (to the DLQ) and logs an error, rather than dropping', async () => {
    const { event, body } = hugeJoin();
    const pointer = pointerTo(body);
    await store(pointer.claimCheck.key, body);
    const record = claimCheckedRecord(event, pointer);

    const { processor: p, lines } = processor({ claimChecks: undefined });
    const response = await p.processBatch([record]);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'error',
        message: 'claim-checked event but no claim-check store is configured; retried until the DLQ',
      }),
    );
    expect((await getEventRecord(target(), event.id)).record).toBeUndefined();
  });
});

describe("the local runtime's process worker", () => {
  test("reads claim-checked bodies from fauxqs's S3: one applied, one whose object is missing recorded as such", async () => {
    const pipeline = await startLocalPipeline({
      config: parseConfig({ processing: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 2 } }),
      keys: {},
      engines: { dynamodb: local.engine, sqs },
      logSink: () => undefined,
    });
    try {
      const stored = hugeJoin();
      const missing = hugeJoin();
      // The pipeline's own bucket: its processor accepts pointers to no other.
      const storedPointer = pointerTo(stored.body, pipeline.claimCheckBucket);
      await store(storedPointer.claimCheck.key, stored.body, pipeline.claimCheckBucket);
      const string = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });
      for (const [event, pointer] of [
        [stored.event, storedPointer],
        [missing.event, pointerTo(missing.body, pipeline.claimCheckBucket)],
      ] as const) {
        await sqs.client.send(
          new SendMessageCommand({
            QueueUrl: pipeline.queueUrl,
            MessageBody: JSON.stringify(pointer),
            MessageAttributes: {
              [MESSAGE_ATTRIBUTE.eventId]: string(event.id),
              [MESSAGE_ATTRIBUTE.eventType]: string(event.event),
              [MESSAGE_ATTRIBUTE.source]: string('webhook'),
              [MESSAGE_ATTRIBUTE.receivedAt]: { DataType: 'Number', StringValue: String(Date.now()) },
              [MESSAGE_ATTRIBUTE.bodyLocation]: string(BODY_LOCATION_S3),
            },
          }),
        );
      }

      await pipeline.waitUntilProcessed([stored.event.id, missing.event.id]);

      expect(pipeline.processed.get(stored.event.id)?.outcome).toBe('applied');
      expect(pipeline.processed.get(missing.event.id)?.outcome).toBe('rejected');
      const read = { ddb: local.engine.documentClient, tableName: pipeline.tableName };
      expect((await getEventRecord(read, missing.event.id)).record).toMatchObject({ reason: 'claim_check_missing' });
      expect(pipeline.changes.filter((change) => change.eventId === stored.event.id).map((change) => change.detailType)).toEqual([
        'participant.joined',
      ]);
    } finally {
      await pipeline.stop();
    }
  });
});
