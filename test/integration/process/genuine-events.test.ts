/**
 * Events a real LiveKit can send that the processor must apply (or, if they can never apply,
 * record once with their reason) rather than retry into the DLQ: keys and values that broke the
 * DynamoDB conversion, impossible timestamps, auto-egress start failures, several terminal events
 * for one entity in either order, and entities at LiveKit's size limits. Through the process
 * Lambda's handler module (its environment, its clients) against DynamoDB Local, with the changes
 * read from the table's stream by the real publisher.
 */
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { StateChange } from '../../../lambda/process/publisher';
import { getEventRecord, listOpenEgresses, listRoomParticipants } from '../../../lambda/process/queries';
import { EntityItem, entityInfo } from '../../../lambda/process/state-model';
import { keys } from '../../../contracts/table-schema';
import type { WebhookEvent } from '../../../lambda/process/webhook-event';
import { egressEvent, eventId, participantJoined, participantLeft, sqsRecord } from '../../../simulator/events';
import { ChangeFeed, startChangeFeed } from '../../support/change-feed';
import { processHandlerEnv, useDynamoDbLocal } from '../../support/dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';

const local = useDynamoDbLocal({ feedsPerTest: false });
let tableName: string;
let feed: ChangeFeed;
let handler: (event: SQSEvent) => Promise<SQSBatchResponse>;
const saved = { ...process.env };

beforeAll(async () => {
  tableName = await local.engine.createStateTable();
  Object.assign(process.env, processHandlerEnv(local.engine, tableName));
  // The handler reads its environment at module scope, as in Lambda. Its EMF lines go to stdout.
  jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  handler = (require('../../../lambda/process/handler') as { handler: typeof handler }).handler;
  feed = startChangeFeed(local.engine, tableName);
});
afterAll(() => {
  process.env = saved;
  jest.restoreAllMocks();
});

const T0 = 1_771_351_800;
let n = 0;
/** A room of its own per test: every test's entities are distinct in the shared table. */
const newRoom = () => ({ sid: `RM_g${++n}`, name: `genuine ${n}` });

async function deliver(...records: SQSRecord[]): Promise<SQSBatchResponse> {
  const response = await handler({ Records: records });
  await feed.drain();
  return response;
}
const changesOf = (prefix: string): StateChange[] => feed.published.filter((change) => change.changeId.startsWith(prefix));
const getItem = async (key: { pk: string; sk: string }) =>
  (await local.engine.documentClient.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item as
    EntityItem | undefined;

describe('keys and values no LiveKit field can break (issue 11, case 3)', () => {
  test('a participant whose attributes are named constructor, __proto__, toString is applied with them intact', async () => {
    // Failed on the old code: the document conversion threw on `constructor`; retried as transient, then DLQ.
    const room = newRoom();
    const attributes = JSON.parse('{"__proto__":{"admin":"yes"},"constructor":"c","toString":"t","\\uFFFE":"😀"}') as Record<
      string,
      string
    >;
    const joined = participantJoined(room, { sid: `PA_${n}`, identity: 'constructor' }, T0);
    const event = { ...joined, participant: { ...joined.participant, name: 'Zoë 😀\uFFFF', metadata: '{"__proto__":1}', attributes } };

    const response = await deliver(sqsRecord(event));

    expect(response.batchItemFailures).toEqual([]);
    expect((await listRoomParticipants({ ddb: local.engine.documentClient, tableName }, room.sid)).map((p) => p.identity)).toEqual([
      'constructor',
    ]);
    const item = await getItem(keys.participant(`PA_${n}`));
    expect(item?.info).toBe(JSON.stringify(event.participant));
    const info = entityInfo(item!);
    expect(Object.keys(info.attributes as object)).toEqual(['__proto__', 'constructor', 'toString', '\uFFFE']);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    const [started] = changesOf(`participant:PA_${n}:`);
    expect(JSON.stringify((started.new.info as Record<string, unknown>).attributes)).toBe(JSON.stringify(attributes));
  });

  test("numbers beyond DynamoDB's range and values nested deeper than its 32 levels are stored, not retried", async () => {
    // Failed on the old code: marshalling threw (number) or DynamoDB refused the item (nesting); both retried as transient.
    const room = newRoom();
    let nested: unknown = 'bottom';
    for (let depth = 0; depth < 100; depth++) nested = { nested };
    const joined = participantJoined(room, { sid: `PA_${n}`, identity: 'deep' }, T0);
    const body = JSON.stringify({ ...joined, participant: { ...joined.participant, permission: { nested } } }).replace(
      '"state":"ACTIVE"',
      '"state":"ACTIVE","huge":1e400,"big":123456789012345678901234567890',
    );

    const response = await deliver(sqsRecord(body));

    expect(response.batchItemFailures).toEqual([]);
    const item = await getItem(keys.participant(`PA_${n}`));
    expect(item?.status).toBe('ACTIVE');
    // eslint-disable-next-line no-loss-of-precision -- the point: a number JSON cannot hold exactly is stored as JSON.parse reads it
    expect(entityInfo(item!).big).toBe(123456789012345678901234567890);
  });
});

describe('events that can never apply (issue 11, case 4)', () => {
  test('createdAt in microseconds is rejected once with its reason, not retried; its redelivery writes nothing more', async () => {
    // Failed on the old code: `RangeError: Invalid time value`, reported as transient on every delivery until the DLQ.
    const room = newRoom();
    const event = { ...participantJoined(room, { sid: `PA_${n}`, identity: 'micro' }, T0), createdAt: String(T0 * 1_000_000) };
    const record = sqsRecord(event);

    const first = await deliver(record);
    const again = await deliver(record);

    expect(first.batchItemFailures).toEqual([]);
    expect(again.batchItemFailures).toEqual([]);
    expect((await getEventRecord({ ddb: local.engine.documentClient, tableName }, event.id)).record).toMatchObject({
      outcome: 'rejected',
      reason: `createdAt ${T0 * 1_000_000} is not a time in seconds`,
      body: record.body,
    });
    expect(await getItem(keys.participant(`PA_${n}`))).toBeUndefined();
    // Counted: the handler's EMF line carries EventsRejected.
    const emf = (process.stdout.write as jest.Mock).mock.calls
      .map(([line]) => String(line))
      .filter((line) => line.includes('"EventsRejected"'));
    expect(emf.length).toBeGreaterThanOrEqual(2);
  });
});

describe('auto-egress start failures (issue 11, case 5)', () => {
  test('egress_ended with EGRESS_FAILED and no egress id becomes a record under its room and an egress.start_failed change', async () => {
    // Failed on the old code: "egress_ended without egressInfo.egressId", a poison message; nothing on the feed.
    const room = newRoom();
    const event: WebhookEvent = {
      id: eventId(),
      event: 'egress_ended',
      createdAt: String(T0),
      egressInfo: {
        roomId: room.sid,
        roomName: room.name,
        status: 'EGRESS_FAILED',
        error: 'no egress instance available',
        participant: { identity: 'alice' },
      },
    };

    const response = await deliver(sqsRecord(event), sqsRecord(event));

    expect(response.batchItemFailures).toEqual([]);
    const item = await getItem(keys.egressStartFailure(room.sid, event.id));
    expect(item).toMatchObject({
      entityType: 'egress_start_failure',
      status: 'EGRESS_FAILED',
      error: 'no egress instance available',
      roomSid: room.sid,
      roomName: room.name,
    });
    expect(await listOpenEgresses({ ddb: local.engine.documentClient, tableName })).toEqual([]);
    const changes = changesOf(`room:${room.sid}:egress_start_failed:`);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      changeId: `room:${room.sid}:egress_start_failed:${event.id}`,
      detailType: 'egress.start_failed',
      entity: { type: 'room', id: room.sid, roomSid: room.sid, roomName: room.name },
      new: { status: 'EGRESS_FAILED', error: 'no egress instance available', info: { participant: { identity: 'alice' } } },
    });
  });
});

describe('the feed ends on the final terminal state in every order (issue 11, case 6)', () => {
  test.each([
    ['FAILED then COMPLETE', false],
    ['COMPLETE then FAILED', true],
  ])('two egress_ended (FAILED at T+10, COMPLETE at T+20) delivered %s: the last change says COMPLETE', async (_, reversed) => {
    // Failed on the old code in the first order: the feed said egress.ended FAILED and nothing after.
    const room = newRoom();
    const egressId = `EG_${n}`;
    const failed = egressEvent('egress_ended', room, egressId, 'EGRESS_FAILED', T0 + 10);
    const complete = egressEvent('egress_ended', room, egressId, 'EGRESS_COMPLETE', T0 + 20);
    for (const event of reversed ? [complete, failed] : [failed, complete]) await deliver(sqsRecord(event));

    expect((await getItem(keys.egress(egressId)))?.status).toBe('EGRESS_COMPLETE');
    const changes = changesOf(`egress:${egressId}:`);
    expect(changes.at(-1)).toMatchObject({ new: { status: 'EGRESS_COMPLETE' }, eventId: complete.id });
    expect(changes.map((c) => c.changeId)).toEqual(
      reversed
        ? [`egress:${egressId}:started`, `egress:${egressId}:ended`]
        : [`egress:${egressId}:started`, `egress:${egressId}:ended`, `egress:${egressId}:corrected:${complete.id}`],
    );
  });

  test("a repair participant_left followed by LiveKit's participant_connection_aborted with a higher version: the feed ends on ABORTED", async () => {
    const room = newRoom();
    const p = { sid: `PA_${n}`, identity: 'flaky' };
    await deliver(sqsRecord(participantLeft(room, p, T0 + 5, 3), { source: 'reconciler' }));
    await deliver(sqsRecord({ ...participantLeft(room, p, T0 + 4, 4), event: 'participant_connection_aborted' }));

    const changes = changesOf(`participant:${p.sid}:`);
    expect(changes.map((c) => [c.detailType, c.new.status, c.source])).toEqual([
      ['participant.joined', 'ACTIVE', 'reconciler'],
      ['participant.left', 'LEFT', 'reconciler'],
      ['participant.corrected', 'ABORTED', 'webhook'],
    ]);
  });
});

describe("entities at LiveKit's size limits", () => {
  test('a participant with 64,000 bytes each of metadata and attributes, escaped sixfold in JSON, is applied and published', async () => {
    const room = newRoom();
    const joined = participantJoined(room, { sid: `PA_${n}`, identity: 'big' }, T0);
    // Control characters: 1 byte each in LiveKit, 6 (`\u0001`) in JSON.
    const participant = { ...joined.participant, metadata: '"'.repeat(64_000), attributes: { blob: '\u0001'.repeat(63_990) } };
    const event = { ...joined, room: { ...joined.room, metadata: 'm'.repeat(64_000) }, participant };

    const response = await deliver(sqsRecord(event));

    expect(response.batchItemFailures).toEqual([]);
    const item = await getItem(keys.participant(`PA_${n}`));
    expect(item).toMatchObject({ status: 'ACTIVE', infoOmitted: ['attributes'] });
    expect(entityInfo(item!).metadata).toBe(participant.metadata);
    const [started] = changesOf(`participant:PA_${n}:`);
    expect(started).toMatchObject({ changeId: `participant:PA_${n}:started`, new: { status: 'ACTIVE', infoOmitted: ['attributes'] } });
  });
});
