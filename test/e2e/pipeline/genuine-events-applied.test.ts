import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { parseConfig } from '../../../lib/config';
import type { StateChange } from '../../../lambda/process/publisher';
import { listRoomParticipants } from '../../../lambda/process/queries';
import { entityInfo } from '../../../lambda/process/state-model';
import { keys } from '../../../contracts/table-schema';
import type { WebhookEvent } from '../../../lambda/process/webhook-event';
import { sqsEnqueue } from '../../../lambda/reconcile/enqueue';
import { participantLeftRepair, roomFromStored } from '../../../lambda/reconcile/repairs';
import { METRIC } from '../../../lambda/shared/metrics';
import { LocalPipeline, startLocalPipeline } from '../../../local/local-pipeline';
import { queueDepth } from '../../../local/status-page';
import { egressEvent, participantJoined, participantLeft } from '../../../simulator/events';
import { signWebhook } from '../../../simulator/signing';
import { Engines, eventually, KEY, SECRET, startEngines, target } from '../../support/e2e';

/*
 * Issue 11 cases 3–6 end to end, on `npm run local`'s engines: each event is signed exactly as
 * LiveKit signs it (simulator/signing.ts) and posted over real HTTP to the local front
 * door; the real ingest handler puts it on the SQS emulator (fauxqs, with the queue's redrive
 * policy as deployed), the event source invokes the real processor, which writes DynamoDB Local,
 * whose stream feeds the real publisher (`pipeline.changes`). The queue's visibility timeout is
 * 2 s, so an event the processor reported as failed would come back within seconds and, after
 * `maxReceiveCount` deliveries, land in the DLQ: each test waits until the queue is drained and
 * then asserts the DLQ is empty and the processor saw the event exactly once.
 */
const config = parseConfig({ processing: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 2 } });

/** The processor's one line per attempt at an event (lambda/process/processor.ts). */
const ATTEMPT_MESSAGES = new Set([
  'event applied',
  'stale or duplicate event ignored',
  'unknown event type recorded',
  'event recorded: it describes no room state',
  'event rejected: it can never apply',
  'event not processed, SQS will redeliver it',
]);

describe('end to end: events LiveKit can send are applied or rejected once, never retried into the DLQ', () => {
  let engines: Engines;
  let pipeline: LocalPipeline;
  const logs: Array<Record<string, unknown>> = [];
  let room = 0;
  const now = () => Math.floor(Date.now() / 1000);
  /** A room of its own per test. */
  const newRoom = () => ({ sid: `RM_e2e${++room}`, name: `genuine e2e ${room}` });

  beforeAll(async () => {
    engines = await startEngines();
    pipeline = await startLocalPipeline({
      config,
      keys: { [KEY]: SECRET },
      engines,
      visibilityTimeoutSeconds: 2,
      logLevel: 'info',
      logSink: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
    });
  }, 120_000);
  afterAll(async () => {
    await pipeline?.stop();
    await engines?.stop();
  });

  /** Posts the exact text, signed as LiveKit signs a webhook; returns status and body. */
  async function post(text: string): Promise<[number, string]> {
    const response = await fetch(pipeline.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization: await signWebhook(text, KEY, SECRET) },
      body: text,
    });
    return [response.status, await response.text()];
  }

  /**
   * Posts an event (as `text` when given: the exact body, for fields our types do not model),
   * expects LiveKit's delivery to succeed (200), and waits until it is processed and its changes published.
   */
  async function deliver(event: { readonly id: string }, text: string = JSON.stringify(event)): Promise<void> {
    expect(await post(text)).toEqual([200, JSON.stringify({ ok: true, id: event.id })]);
    await pipeline.waitUntilProcessed([event.id]);
  }

  /** How many times the processor attempted the event (one log line per attempt). */
  const attempts = (eventId: string) =>
    logs.filter((line) => line.service === 'process' && line.eventId === eventId && ATTEMPT_MESSAGES.has(String(line.message))).length;

  const depth = (queueUrl: string) => queueDepth(pipeline.sqs, queueUrl);

  /**
   * Every message has left the queue (acknowledged, or moved to the DLQ after its last delivery),
   * and none went to the DLQ. A message the processor failed stays in flight and comes back, so
   * the queue drains only once it is acknowledged or dead-lettered.
   */
  async function expectAcknowledged(): Promise<void> {
    await eventually(
      () => depth(pipeline.queueUrl),
      (d) => d.visible === 0 && d.inFlight === 0,
      60_000,
      'the queue drained',
    );
    expect(await depth(pipeline.dlqUrl)).toEqual({ visible: 0, inFlight: 0 });
  }

  const getItem = async (key: { pk: string; sk: string }) =>
    (await pipeline.documentClient.send(new GetCommand({ TableName: pipeline.tableName, Key: key, ConsistentRead: true }))).Item;
  const changesOf = (prefix: string): StateChange[] => pipeline.changes.filter((change) => change.changeId.startsWith(prefix));

  describe('case 3: keys no LiveKit field can break', () => {
    test('a participant with attributes constructor, __proto__, toString, hasOwnProperty: 200, ACTIVE with the exact attributes', async () => {
      const r = newRoom();
      // protojson writes a map<string,string> as a JSON object: these are plain keys to LiveKit.
      const attributesText =
        '{"constructor":"c","__proto__":"p","toString":"t","hasOwnProperty":"h","valueOf":"{\\"__proto__\\":{\\"admin\\":true}}"}';
      const expected = Object.entries(JSON.parse(attributesText) as Record<string, string>);
      const joined = participantJoined(r, { sid: `PA_${r.sid}`, identity: 'constructor' }, now());
      const text = JSON.stringify(joined).replace(
        '"state":"ACTIVE"',
        `"state":"ACTIVE","attributes":${attributesText},"metadata":"{\\"__proto__\\":1}"`,
      );

      await deliver(joined, text);

      const participants = await eventually(
        () => listRoomParticipants(target(pipeline), r.sid),
        (items) => items.length === 1,
        10_000,
        'participant listed',
      );
      expect(participants.map((p) => [p.identity, p.status])).toEqual([['constructor', 'ACTIVE']]);
      const item = await getItem(keys.participant(`PA_${r.sid}`));
      expect(item?.status).toBe('ACTIVE');
      const info = entityInfo(item as { info?: unknown });
      expect(Object.entries(info.attributes as object)).toEqual(expected);
      expect(info.metadata).toBe('{"__proto__":1}');
      expect(({} as Record<string, unknown>).admin).toBeUndefined();
      const started = changesOf(`participant:PA_${r.sid}:`);
      expect(started.map((c) => c.detailType)).toEqual(['participant.joined']);
      expect(Object.entries((started[0].new.info as Record<string, unknown>).attributes as object)).toEqual(expected);
      expect(attempts(joined.id)).toBe(1);
      await expectAcknowledged();
    });
  });

  describe('case 4: signed events the processor can never apply, and values it must take', () => {
    test.each([
      [
        'createdAt in microseconds',
        () => {
          const e = participantJoined(newRoom(), { sid: `PA_micro${room}`, identity: 'micro' }, now());
          return { ...e, createdAt: String(now() * 1_000_000) };
        },
        /^createdAt \d+ is not a time in seconds$/,
      ],
      [
        'participant_joined without its room',
        () => {
          const { room: _room, ...rest } = participantJoined(newRoom(), { sid: `PA_noroom${room}`, identity: 'orphan' }, now());
          return rest;
        },
        /^participant_joined without room/,
      ],
      [
        'egress_updated without an egress id',
        () => {
          const e = egressEvent('egress_updated', newRoom(), 'unused', 'EGRESS_ACTIVE', now());
          const { egressId: _egressId, ...egressInfo } = e.egressInfo!;
          return { ...e, egressInfo };
        },
        /^egress_updated without egressInfo\.egressId$/,
      ],
    ])(
      '%s: 200, recorded once as rejected with its reason, counted, acknowledged, not redelivered, DLQ empty',
      async (_name, make, reason) => {
        const event = make();
        const rejectedBefore = pipeline.metrics.sum(METRIC.eventsRejected);

        await deliver(event);

        const record = await getItem(keys.eventRecord(event.id));
        expect(record).toMatchObject({ outcome: 'rejected', eventId: event.id, eventType: event.event, body: JSON.stringify(event) });
        expect(String(record?.reason)).toMatch(reason);
        expect(pipeline.processed.get(event.id)?.outcome).toBe('rejected');
        expect(pipeline.metrics.sum(METRIC.eventsRejected) - rejectedBefore).toBe(1);
        await expectAcknowledged();
        expect(attempts(event.id)).toBe(1);
        const errors = logs.filter((line) => line.eventId === event.id && line.level === 'error');
        expect(errors.map((line) => [line.message, line.permanent])).toEqual([['event rejected: it can never apply', true]]);
      },
    );

    test("numbers that overflow and values nested deeper than DynamoDB's 32 levels are applied", async () => {
      const r = newRoom();
      const joined = participantJoined(r, { sid: `PA_${r.sid}`, identity: 'deep' }, now());
      // Fields a newer LiveKit could add (protojson passes them through): beyond float64, beyond int64, 100 levels deep.
      const nested = '{"nested":'.repeat(100) + '"bottom"' + '}'.repeat(100);
      const text = JSON.stringify(joined).replace(
        '"state":"ACTIVE"',
        `"state":"ACTIVE","huge":1e400,"big":123456789012345678901234567890,"tiny":-1e-400,"future":${nested}`,
      );

      await deliver(joined, text);

      const item = await getItem(keys.participant(`PA_${r.sid}`));
      expect(item).toMatchObject({ status: 'ACTIVE', identity: 'deep', lastEventId: joined.id });
      const info = entityInfo(item as { info?: unknown });
      // eslint-disable-next-line no-loss-of-precision -- the point: a number JSON cannot hold exactly is stored as JSON.parse reads it
      expect(info.big).toBe(123456789012345678901234567890);
      let depthOf = 0;
      for (
        let value = info.future as Record<string, unknown> | string;
        typeof value === 'object';
        value = value.nested as Record<string, unknown> | string
      )
        depthOf++;
      expect(depthOf).toBe(100);
      expect(changesOf(`participant:PA_${r.sid}:`).map((c) => c.detailType)).toEqual(['participant.joined']);
      expect(attempts(joined.id)).toBe(1);
      await expectAcknowledged();
    });
  });

  describe('case 5: an auto-egress that failed to start', () => {
    test.each([
      ['without an egressId (protojson leaves the empty string out)', {}],
      ['with an empty egressId', { egressId: '' }],
    ])(
      'egress_ended EGRESS_FAILED %s: applied, egress.start_failed published with the room and the error, DLQ empty',
      async (_name, extra) => {
        const r = newRoom();
        // livekit/livekit pkg/rtc/egress.go: EgressInfo{RoomId, RoomName, Status: EGRESS_FAILED, Error, Request}, no egress id.
        const event: WebhookEvent = {
          id: `EV_startfail${room}`,
          event: 'egress_ended',
          createdAt: String(now()),
          egressInfo: {
            ...extra,
            roomId: r.sid,
            roomName: r.name,
            status: 'EGRESS_FAILED',
            error: 'no egress instance available',
            participant: { identity: 'alice' },
          },
        };

        await deliver(event);

        expect(await getItem(keys.egressStartFailure(r.sid, event.id))).toMatchObject({
          entityType: 'egress_start_failure',
          status: 'EGRESS_FAILED',
          error: 'no egress instance available',
          roomSid: r.sid,
          roomName: r.name,
        });
        const changes = changesOf(`room:${r.sid}:egress_start_failed:`);
        expect(changes).toHaveLength(1);
        expect(changes[0]).toMatchObject({
          changeId: `room:${r.sid}:egress_start_failed:${event.id}`,
          detailType: 'egress.start_failed',
          entity: { type: 'room', id: r.sid, roomSid: r.sid, roomName: r.name },
          new: { status: 'EGRESS_FAILED', error: 'no egress instance available' },
          eventId: event.id,
          source: 'webhook',
        });
        expect(attempts(event.id)).toBe(1);
        await expectAcknowledged();
      },
    );
  });

  describe('case 6: the last change for an entity carries its final terminal state, in every order', () => {
    test.each([
      ['FAILED (T+10) then COMPLETE (T+20)', false],
      ['COMPLETE (T+20) then FAILED (T+10)', true],
    ])('two egress_ended for one egress delivered %s: final state COMPLETE, last change COMPLETE', async (_name, reversed) => {
      const r = newRoom();
      const egressId = `EG_${r.sid}`;
      const t = now() - 25; // every event within LATE_ARRIVAL_MS of now: no late-arrival evidence
      const failed = egressEvent('egress_ended', r, egressId, 'EGRESS_FAILED', t + 10);
      const complete = egressEvent('egress_ended', r, egressId, 'EGRESS_COMPLETE', t + 20);

      for (const event of reversed ? [complete, failed] : [failed, complete]) await deliver(event);

      expect(await getItem(keys.egress(egressId))).toMatchObject({ status: 'EGRESS_COMPLETE', lastEventId: complete.id });
      const changes = changesOf(`egress:${egressId}:`);
      expect(changes.at(-1)).toMatchObject({ new: { status: 'EGRESS_COMPLETE' }, eventId: complete.id });
      expect(changes.filter((c) => c.changeId === `egress:${egressId}:ended`)).toHaveLength(1);
      expect([attempts(failed.id), attempts(complete.id)]).toEqual([1, 1]);
      await expectAcknowledged();
    });

    test.each([
      ["the reconciler's participant_left, then LiveKit's participant_connection_aborted with a higher version", false],
      ["LiveKit's participant_connection_aborted, then the reconciler's (older) participant_left", true],
    ])('%s: final state ABORTED, last change ABORTED', async (_name, reversed) => {
      const r = newRoom();
      const p = { sid: `PA_${r.sid}`, identity: 'flaky' };
      const t = now() - 25; // every event within LATE_ARRIVAL_MS of now: no late-arrival evidence
      // What the reconciler enqueues when LiveKit no longer lists a participant we hold (lambda/reconcile/repairs.ts),
      // built from the stored participant (version 3), on the same queue with source=reconciler (lambda/reconcile/enqueue.ts).
      const stored = participantJoined(r, p, t, 3).participant as Record<string, unknown>;
      const repair = participantLeftRepair(
        roomFromStored(undefined, r.sid, r.name),
        { sid: p.sid, identity: p.identity, info: stored },
        t + 5,
      );
      const aborted: WebhookEvent = { ...participantLeft(r, p, t + 4, 4), event: 'participant_connection_aborted' };
      const sendRepair = async () => {
        await sqsEnqueue(pipeline.sqs, pipeline.queueUrl)(repair);
        await pipeline.waitUntilProcessed([repair.id]);
      };

      if (reversed) {
        await deliver(aborted);
        await sendRepair();
      } else {
        await sendRepair();
        await deliver(aborted);
      }

      expect(await getItem(keys.participant(p.sid))).toMatchObject({
        status: 'ABORTED',
        lastEventId: aborted.id,
        lastEventSource: 'webhook',
      });
      const changes = changesOf(`participant:${p.sid}:`);
      expect(changes.at(-1)).toMatchObject({ new: { status: 'ABORTED' }, eventId: aborted.id, source: 'webhook' });
      if (!reversed) {
        expect(changes.map((c) => [c.detailType, c.new.status, c.source])).toEqual([
          ['participant.joined', 'ACTIVE', 'reconciler'],
          ['participant.left', 'LEFT', 'reconciler'],
          ['participant.corrected', 'ABORTED', 'webhook'],
        ]);
      }
      expect([attempts(repair.id), attempts(aborted.id)]).toEqual([1, 1]);
      await expectAcknowledged();
    });
  });

  test('nothing ever reached the DLQ, and no transient failure was logged', async () => {
    expect(await depth(pipeline.dlqUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect(logs.filter((line) => line.message === 'event not processed, SQS will redeliver it')).toEqual([]);
  });

  test('every line of the functions names the pipeline, as on AWS, where the metric filters take their Pipeline dimension from', () => {
    expect(pipeline.pipelineName).toBe('LiveKitWebhooks');
    const functions = logs.filter((line) => line.service === 'ingest' || line.service === 'process' || line.service === 'publish');
    expect(new Set(functions.map((line) => line.service))).toEqual(new Set(['ingest', 'process', 'publish']));
    expect(functions.filter((line) => line.pipeline !== pipeline.pipelineName)).toEqual([]);
    // The lines the filters count, among them.
    expect(functions.some((line) => line.message === 'event enqueued')).toBe(true);
    expect(functions.some((line) => line.message === 'event applied')).toBe(true);
  });
});
