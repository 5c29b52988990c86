/**
 * The consumer kit against what the pipeline really produces: the real processor writes DynamoDB
 * Local, the table's stream feeds the real publisher (test/support/change-feed.ts), and
 * - every change published validates against consumer/change-event.schema.json (all 18 detail
 *   types, implied starts, corrections, reconciler repairs, a change trimmed to fit the bus),
 * - LiveKitStateClient answers each access pattern from that state,
 * - DynamoDbDedupeStore dedupes across two "containers" sharing a table.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import Ajv from 'ajv';
import type { SQSRecord } from 'aws-lambda';
import {
  CHANGE_DETAIL_SCHEMA,
  CHANGE_DETAIL_TYPES,
  ChangeDeduper,
  changeEventOf,
  ChangeInFlightError,
  DynamoDbDedupeStore,
  isChangeDetail,
  isChangeEvent,
  LiveKitStateClient,
} from '../../../consumer';
import schemaFile from '../../../consumer/change-event.schema.json';
import { createProcessor } from '../../../lambda/process/processor';
import type { WebhookEvent } from '../../../lambda/process/webhook-event';
import { DynamoDbLocal, LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../../../local/engines/dynamodb-local';
import {
  egressEvent,
  ingressEvent,
  participantJoined,
  participantLeft,
  roomFinished,
  roomStarted,
  sqsRecord,
  trackPublished,
  trackUnpublished,
} from '../../../simulator/events';
import { memoryLogger } from '../../support/state';
import { startChangeFeed, stopChangeFeeds, withFeed } from '../../support/change-feed';

let engine: DynamoDbLocal;
beforeAll(async () => {
  engine = await startDynamoDbLocal();
}, 120_000);
afterEach(stopChangeFeeds);
afterAll(async () => {
  await engine?.stop();
});

const T0 = 1_771_351_800;
const clientConfig = () => ({ endpoint: engine.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });

/** A fresh state table, the real processor on it, and its change feed. */
async function pipeline() {
  const tableName = await engine.createStateTable();
  const feed = startChangeFeed(engine, tableName);
  const processor = withFeed(
    createProcessor({ ddb: engine.documentClient, tableName, logger: memoryLogger('error').logger, eventRecordTtlDays: 30 }),
    feed,
  );
  const apply = async (...records: SQSRecord[]) => {
    const results = await processor.processRecords(records);
    for (const result of results) if (result.error) throw new Error(`not applied: ${String(result.error)}`);
  };
  return {
    tableName,
    published: feed.published,
    apply,
    send: (...events: WebhookEvent[]) => apply(...events.map((event) => sqsRecord(event))),
  };
}

describe('the JSON Schema of the change detail', () => {
  // Strict: a keyword ajv would silently ignore is an error. `format` is informative; the pattern enforces it.
  const ajv = new Ajv({ allErrors: true, strict: true, validateFormats: false });
  const validate = ajv.compile(CHANGE_DETAIL_SCHEMA);
  const errors = (value: unknown) => (validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`));

  test('the shipped file is the exported schema, and a valid draft-07 schema', () => {
    expect(CHANGE_DETAIL_SCHEMA).toEqual(schemaFile);
    expect(ajv.validateSchema(schemaFile)).toBe(true);
  });

  test('every change the pipeline publishes, of every detail type, validates', async () => {
    const { published, send, apply } = await pipeline();
    const room = { sid: 'RM_schema', name: 'schema "room" #1' };
    const alice = { sid: 'PA_alice', identity: 'alice' };
    const bob = { sid: 'PA_bob', identity: 'bob' };
    const carol = { sid: 'PA_carol', identity: 'carol' };
    const big = { sid: 'PA_big', identity: 'big' };
    const aborted = (p: typeof bob, at: number, version: number): WebhookEvent => ({
      ...participantLeft(room, p, at, version),
      event: 'participant_connection_aborted',
    });
    const hugeJoin = participantJoined(room, big, T0 + 2);
    // 130 KB of attributes: the ended change carries them twice (old and new) and must drop one.
    hugeJoin.participant = { ...hugeJoin.participant, attributes: { blob: 'x'.repeat(130_000) } };
    const hugeLeft = participantLeft(room, big, T0 + 3);
    hugeLeft.participant = { ...hugeLeft.participant, attributes: { blob: 'y'.repeat(130_000) } };

    await send(roomStarted(room, T0), participantJoined(room, alice, T0 + 1), participantJoined(room, bob, T0 + 1), hugeJoin);
    await send(trackPublished(room, alice, 'TR_a', T0 + 2), egressEvent('egress_started', room, 'EG_1', 'EGRESS_STARTING', T0 + 2));
    await send(
      egressEvent('egress_updated', room, 'EG_1', 'EGRESS_ACTIVE', T0 + 3),
      ingressEvent('ingress_started', room.name, 'IN_1', 'RES_1', T0 + 3),
    );
    await send(participantLeft(room, alice, T0 + 10), hugeLeft, trackUnpublished(room, alice, 'TR_a', T0 + 9));
    // Corrections: a later terminal event that says something else.
    await send(aborted(bob, T0 + 11, 5));
    await send(participantLeft(room, bob, T0 + 12, 9));
    await send(trackUnpublished(room, alice, 'TR_a', T0 + 15));
    await send(egressEvent('egress_ended', room, 'EG_1', 'EGRESS_FAILED', T0 + 20));
    await send(egressEvent('egress_ended', room, 'EG_1', 'EGRESS_COMPLETE', T0 + 30));
    await send(ingressEvent('ingress_ended', room.name, 'IN_1', 'RES_1', T0 + 20));
    await send(ingressEvent('ingress_ended', room.name, 'IN_1', 'RES_1', T0 + 25));
    // An auto-egress that failed to start (no egress id).
    await send({
      id: 'EV_autofail',
      event: 'egress_ended',
      createdAt: String(T0 + 21),
      room: { sid: room.sid, name: room.name },
      egressInfo: { roomId: room.sid, roomName: room.name, status: 'EGRESS_FAILED', error: 'no encoder' },
    });
    // An implied start, from the reconciler: carol's leave is the first we hear of her.
    await apply(sqsRecord(participantLeft(room, carol, T0 + 40), { source: 'reconciler' }));
    await send(roomFinished(room, T0 + 50));
    await send(roomFinished(room, T0 + 60));

    expect(new Set(published.map((change) => change.detailType))).toEqual(new Set(CHANGE_DETAIL_TYPES));
    expect(published.some((change) => change.new.implied === true && change.source === 'reconciler')).toBe(true);
    expect(published.some((change) => change.omitted?.includes('old.info'))).toBe(true);
    for (const change of published) {
      expect({ changeId: change.changeId, errors: errors(change) }).toEqual({ changeId: change.changeId, errors: [] });
      expect(isChangeDetail(change)).toBe(true);
      expect(isChangeEvent(JSON.parse(JSON.stringify(changeEventOf(change as never))))).toBe(true);
    }
  });

  test('it refuses details that break the contract', async () => {
    const { published, send } = await pipeline();
    await send(participantJoined({ sid: 'RM_r', name: 'r' }, { sid: 'PA_r', identity: 'r' }, T0));
    const change = published.find((c) => c.detailType === 'participant.joined')!;
    expect(errors(change)).toEqual([]);
    const broken: Array<[string, unknown]> = [
      ['no changeId', { ...change, changeId: undefined }],
      ['unknown detail type', { ...change, detailType: 'participant.renamed' }],
      ['a room entity on a participant change', { ...change, entity: { type: 'room', id: 'RM_r', roomSid: 'RM_r' } }],
      ['an old state on a start', { ...change, old: change.new }],
      ['a table key leaked', { ...change, new: { ...change.new, pk: 'PARTICIPANT#PA_r' } }],
      ['an unknown participant status', { ...change, new: { ...change.new, status: 'DANCING' } }],
      ['an unknown source', { ...change, source: 'carrier-pigeon' }],
      ['a field the contract does not name', { ...change, extra: 1 }],
      ['occurredAt not a UTC timestamp', { ...change, occurredAt: 'yesterday' }],
    ];
    for (const [what, detail] of broken)
      expect({ what, valid: validate(JSON.parse(JSON.stringify(detail))) }).toEqual({ what, valid: false });
  });
});

describe('LiveKitStateClient', () => {
  test('answers every access pattern from the state the processor wrote', async () => {
    const { tableName, send } = await pipeline();
    const old = { sid: 'RM_old', name: 'standup' };
    const live = { sid: 'RM_live', name: 'standup' };
    const other = { sid: 'RM_other', name: 'standup-2' };
    const alice1 = { sid: 'PA_alice1', identity: 'alice' };
    const alice2 = { sid: 'PA_alice2', identity: 'alice' };
    const bob = { sid: 'PA_bob', identity: 'bob' };
    const dave = { sid: 'PA_dave', identity: 'dave' };
    await send(
      roomStarted(old, T0),
      participantJoined(old, alice1, T0 + 1),
      roomStarted(other, T0 + 1),
      participantJoined(other, dave, T0 + 2),
    );
    await send(participantLeft(old, alice1, T0 + 5), roomFinished(old, T0 + 6));
    await send(roomStarted(live, T0 + 100), participantJoined(live, alice2, T0 + 101), participantJoined(live, bob, T0 + 102));
    await send(trackPublished(live, bob, 'TR_bob', T0 + 103), egressEvent('egress_started', live, 'EG_live', 'EGRESS_ACTIVE', T0 + 104));

    // Built from a client configuration, as an app with its own endpoint or region would.
    const state = new LiveKitStateClient({ tableName, client: clientConfig() });
    expect((await state.activeRooms()).map((room) => room.roomSid).sort()).toEqual(['RM_live', 'RM_other']);
    const [standup, ...more] = await state.activeRooms('standup');
    expect(more).toEqual([]);
    expect(standup).toMatchObject({
      entityType: 'room',
      status: 'ACTIVE',
      roomSid: 'RM_live',
      roomName: 'standup',
      info: { sid: 'RM_live', name: 'standup' },
    });
    // The table's keys and revision stay inside the table.
    for (const key of ['pk', 'sk', 'gsi1pk', 'gsi1sk', 'rev']) expect(standup).not.toHaveProperty(key);

    const byName = await state.participantsIn({ name: 'standup' });
    expect(byName.map((p) => [p.identity, p.participantSid]).sort()).toEqual([
      ['alice', 'PA_alice2'],
      ['bob', 'PA_bob'],
    ]);
    expect(await state.participantsIn({ sid: 'RM_live' })).toEqual(byName);
    expect(byName[0].info).toEqual(expect.objectContaining({ identity: byName[0].identity }));
    expect(await state.participantsIn({ name: 'nobody-here' })).toEqual([]);

    const sessions = await state.sessionsOf('standup', 'alice');
    expect(sessions.map((s) => [s.participantSid, s.status])).toEqual([
      ['PA_alice1', 'LEFT'],
      ['PA_alice2', 'ACTIVE'],
    ]);
    expect((await state.openEgresses()).map((e) => e.egressId)).toEqual(['EG_live']);
    expect((await state.openEgresses('standup')).map((e) => e.status)).toEqual(['EGRESS_ACTIVE']);
    expect(await state.openEgresses('standup-2')).toEqual([]);
    expect((await state.publishedTracks('PA_bob')).map((t) => t.trackSid)).toEqual(['TR_bob']);

    // Built from a DynamoDBClient the app already has.
    const shared = new LiveKitStateClient({ tableName, client: new DynamoDBClient(clientConfig()) });
    expect((await shared.activeRooms('standup-2')).map((room) => room.roomSid)).toEqual(['RM_other']);
    expect(() => new LiveKitStateClient({ tableName: '' })).toThrow('tableName');
  });
});

describe('DynamoDbDedupeStore', () => {
  test('two containers sharing the table handle a change once; a failure lets the retry in', async () => {
    const tableName = `dedupe-${Date.now()}`;
    const ddb = new DynamoDBClient(clientConfig());
    await ddb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    let now = Date.now();
    const container = () =>
      new ChangeDeduper({ store: new DynamoDbDedupeStore({ tableName, client: ddb }), clock: () => now, leaseMs: 60_000 });
    const [a, b] = [container(), container()];
    const handled: string[] = [];

    expect(await a.once('participant:PA_x:started', () => void handled.push('a'))).toBe(true);
    expect(await b.once('participant:PA_x:started', () => void handled.push('b'))).toBe(false);

    // In flight in one container: the other is told to retry later. Asked once a's handler runs
    // (its claim is stored by then), not after a fixed pause, which a loaded DynamoDB Local outlasts.
    let finish!: () => void;
    let running!: () => void;
    const aRunning = new Promise<void>((resolve) => (running = resolve));
    const slow = a.once('participant:PA_x:ended', () => {
      running();
      return new Promise<void>((resolve) => (finish = resolve));
    });
    await aRunning;
    await expect(b.once('participant:PA_x:ended', () => void handled.push('b2'))).rejects.toBeInstanceOf(ChangeInFlightError);
    finish();
    expect(await slow).toBe(true);

    // A failed handler releases its claim.
    await expect(a.once('room:RM_x:started', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await b.once('room:RM_x:started', () => void handled.push('b3'))).toBe(true);

    // A claim whose container died is taken over after its lease.
    let died!: () => void;
    const aDied = new Promise<void>((resolve) => (died = resolve));
    void a.once('room:RM_x:ended', () => {
      died();
      return new Promise(() => undefined);
    });
    await aDied;
    await expect(b.once('room:RM_x:ended', () => undefined)).rejects.toBeInstanceOf(ChangeInFlightError);
    now += 60_001;
    expect(await b.once('room:RM_x:ended', () => void handled.push('b4'))).toBe(true);
    expect(handled).toEqual(['a', 'b3', 'b4']);
  });
});
