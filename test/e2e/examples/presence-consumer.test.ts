/**
 * The example consumer (examples/presence-consumer/) on `npm run local`'s engines: a webhook signed
 * as LiveKit signs it is posted over real HTTP to the local front door; ingest, the SQS emulator,
 * the processor, DynamoDB Local and its stream, and the publisher run as in `npm run local`; the
 * handler module, loaded by path as `CHANGE_HANDLER` loads it, gets each change as the EventBridge
 * event its rule's target would, and keeps the presence cache. A change delivered twice (the same
 * event again, and the same change under a new envelope, as a republished change arrives) updates
 * the cache once.
 */
import { REPO_ROOT } from '../../support/paths';
import { parseConfig } from '../../../lib/config';
import { changeEventOf, ChangeEvent } from '../../../consumer';
import { presence } from '../../../examples/presence-consumer/handler';
import { loadChangeHandler } from '../../../local/local-consumers';
import { LocalPipeline, startLocalPipeline } from '../../../local/local-pipeline';
import { Engines, eventually, KEY, SECRET, startEngines } from '../../support/e2e';
import { participantJoined, participantLeft, roomStarted } from '../../../simulator/events';
import { signWebhook } from '../../../simulator/signing';

const root = REPO_ROOT;

describe('example: the presence consumer on the local pipeline', () => {
  let engines: Engines;
  let pipeline: LocalPipeline;
  const handler = loadChangeHandler('./examples/presence-consumer/handler.ts', root).handler;
  /** Every event the local bus delivered to the handler. */
  const delivered: ChangeEvent[] = [];
  const skipped: string[] = [];

  beforeAll(async () => {
    // The handler logs each repeat it skipped; count them.
    jest.spyOn(console, 'info').mockImplementation((line: string) => void skipped.push(line));
    engines = await startEngines();
    pipeline = await startLocalPipeline({
      config: parseConfig({}),
      keys: { [KEY]: SECRET },
      engines,
      logLevel: 'error',
      logSink: () => undefined,
      consumers: [
        {
          name: 'presence',
          handler: async (event) => {
            delivered.push(event);
            await handler(event);
          },
        },
      ],
    });
  }, 120_000);
  afterAll(async () => {
    await pipeline?.stop();
    await engines?.stop();
    jest.restoreAllMocks();
  });

  async function post(event: { id: string }): Promise<void> {
    const body = JSON.stringify(event);
    const response = await fetch(pipeline.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization: await signWebhook(body, KEY, SECRET) },
      body,
    });
    expect(response.status).toBe(200);
    await pipeline.waitUntilProcessed([event.id]);
  }
  const deliveredOf = async (changeId: string): Promise<ChangeEvent> =>
    (await eventually(
      () => delivered.find((event) => event.detail.changeId === changeId),
      (event) => event !== undefined,
      30_000,
      `${changeId} delivered`,
    ))!;

  test('a signed webhook in, the cache updated once, even when the change is delivered twice', async () => {
    const room = { sid: 'RM_presence', name: 'presence demo' };
    const alice = { sid: 'PA_alice', identity: 'alice' };
    const bob = { sid: 'PA_bob', identity: 'bob' };
    const now = Math.floor(Date.now() / 1000);

    await post(roomStarted(room, now));
    const aliceJoined = participantJoined(room, alice, now + 1);
    await post(aliceJoined);
    await post(participantJoined(room, bob, now + 2));
    await eventually(
      () => presence.participants(room.name).map((p) => p.identity),
      (ids) => ids.length === 2,
      30_000,
      'both present',
    );
    expect(presence.participants(room.name)).toEqual([
      { participantSid: 'PA_alice', identity: 'alice', roomSid: 'RM_presence', joinedAtMs: (now + 1) * 1000 },
      { participantSid: 'PA_bob', identity: 'bob', roomSid: 'RM_presence', joinedAtMs: (now + 2) * 1000 },
    ]);
    expect(presence.updates).toBe(2);

    // LiveKit retries the webhook (its answer was lost): the pipeline makes no second change.
    await post(aliceJoined);
    expect(pipeline.changes.filter((change) => change.changeId === 'participant:PA_alice:started')).toHaveLength(1);

    // The bus delivers the same change again: the same event (a target retry), and a new
    // envelope around the same detail (a change republished after a retried stream batch).
    const joinedEvent = await deliveredOf('participant:PA_alice:started');
    await handler(joinedEvent);
    await handler(changeEventOf(joinedEvent.detail));
    expect(presence.updates).toBe(2);
    expect(presence.participants(room.name).map((p) => p.identity)).toEqual(['alice', 'bob']);
    expect(skipped.filter((line) => line.includes('"changeId":"participant:PA_alice:started"'))).toHaveLength(2);

    // Alice leaves: removed once; a repeat of the leave, or the old join arriving late, changes nothing.
    await post(participantLeft(room, alice, now + 10));
    await eventually(
      () => presence.participants(room.name).map((p) => p.identity),
      (ids) => ids.length === 1,
      30_000,
      'alice gone',
    );
    expect(presence.updates).toBe(3);
    const leftEvent = await deliveredOf('participant:PA_alice:ended');
    await handler(leftEvent);
    await handler(changeEventOf(leftEvent.detail));
    await handler(changeEventOf(joinedEvent.detail, { id: 'late-redelivery-after-a-day' }));
    expect(presence.participants(room.name).map((p) => p.identity)).toEqual(['bob']);
    expect(presence.updates).toBe(3);
    // Every change the pipeline published reached the handler (once each from the local bus).
    expect(delivered.map((event) => event.detail.changeId).sort()).toEqual(pipeline.changes.map((change) => change.changeId).sort());
  });
});
