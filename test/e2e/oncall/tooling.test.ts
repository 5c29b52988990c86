import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { parseConfig } from '../../../lib/config';
import { MESSAGE_ATTRIBUTE } from '../../../contracts/queue-message';
import { LocalPipeline, startLocalPipeline } from '../../../local/local-pipeline';
import { dlqDepth, redriveDlq } from '../../../scripts/oncall/redrive-dlq';
import { startReplay } from '../../../scripts/oncall/replay';
import { queryState, summarize } from '../../../scripts/oncall/state';
import { localTarget, OncallTarget, parseLocalReady } from '../../../scripts/oncall/target';
import { egressEvent, participantJoined, roomStarted } from '../../../simulator/events';
import { signWebhook } from '../../../simulator/signing';
import { scanAll } from '../../support/state';
import { Engines, startEngines } from '../../support/e2e';
import { REPO_ROOT } from '../../support/paths';

/*
 * The on-call commands against the local runtime (real engines, real handlers): the DLQ redrive
 * moves an event back and it is processed; state shows rooms, participants and open egresses;
 * replay says plainly that it is not available locally. The CLIs run as users run them.
 */
const root = REPO_ROOT;
const run = promisify(execFile);
const THREE_HOURS_MS = 3 * 3_600_000;
const KEYS = { APIoncall: 'oncall-secret-of-at-least-32-characters!' };
const config = parseConfig({
  queue: { maxReceiveCount: 2 },
  processing: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 2 },
});

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

let engines: Engines;
let pipeline: LocalPipeline;
let target: OncallTarget;
let ready: string;

beforeAll(async () => {
  engines = await startEngines();
  pipeline = await startLocalPipeline({
    config,
    keys: KEYS,
    engines,
    logLevel: 'error',
    logSink: () => undefined,
    visibilityTimeoutSeconds: 2,
  });
  ready = pipeline.readyLine();
  target = localTarget(parseLocalReady(ready));
}, 90_000);

afterAll(async () => {
  target?.close();
  await pipeline?.stop();
  await engines?.stop();
});

const post = async (event: object) => {
  const body = JSON.stringify(event);
  const [apiKey, apiSecret] = Object.entries(KEYS)[0];
  const response = await fetch(pipeline.webhookUrl, {
    method: 'POST',
    body,
    headers: { authorization: await signWebhook(body, apiKey, apiSecret), 'content-type': 'application/webhook+json' },
  });
  expect(response.status).toBe(200);
};

describe('dlq:redrive against the local runtime', () => {
  test('events redriven from the DLQ are processed: a genuine one applied, one that can never apply rejected for good', async () => {
    // A message that can never apply is rejected on its first delivery (recorded, not retried), so
    // it reaches the DLQ only from an older processor: put it there as such a processor left it...
    await target.sqs.send(new SendMessageCommand({ QueueUrl: pipeline.dlqUrl, MessageBody: 'not an event' }));
    await eventually(
      () => dlqDepth(target),
      (d) => d.visible === 1,
    );

    // ...and a genuine event that sits there (as after a processor bug, now fixed) is redriven and applied.
    const room = { sid: 'RM_redrive', name: 'redrive-room' };
    const event = roomStarted(room, Math.floor(Date.now() / 1000));
    await target.sqs.send(
      new SendMessageCommand({
        QueueUrl: pipeline.dlqUrl,
        MessageBody: JSON.stringify(event),
        MessageAttributes: {
          [MESSAGE_ATTRIBUTE.eventId]: { DataType: 'String', StringValue: event.id },
          [MESSAGE_ATTRIBUTE.eventType]: { DataType: 'String', StringValue: event.event },
          [MESSAGE_ATTRIBUTE.source]: { DataType: 'String', StringValue: 'webhook' },
          // Ingest accepted it three hours ago.
          [MESSAGE_ATTRIBUTE.receivedAt]: { DataType: 'Number', StringValue: String(Date.now() - THREE_HOURS_MS) },
        },
      }),
    );
    await eventually(
      () => dlqDepth(target),
      (d) => d.visible === 2,
    );
    expect(pipeline.processed.get(event.id)).toBeUndefined();

    const lines: string[] = [];
    const result = await redriveDlq(target, { log: (line) => lines.push(line) });
    expect(result).toEqual({ mode: 'copy', moved: 2 });
    expect(lines.some((line) => line.includes(`event ${event.id}`))).toBe(true);

    const redrivenAt = Date.now();
    await pipeline.waitUntilProcessed([event.id]);
    expect(pipeline.processed.get(event.id)?.outcome).toBe('applied');
    // Its apply lag counts from the redrive (a new message to SQS), not from ingest three hours
    // ago: a long redrive must not page apply-lag. Nothing else is applied in this test.
    const lags = pipeline.metrics.data.filter((d) => d.name === 'ApplyLag' && d.timestamp >= redrivenAt).map((d) => d.value);
    expect(lags).toHaveLength(1);
    expect(lags[0]).toBeLessThan(THREE_HOURS_MS / 3);
    // The one that can never apply is now rejected for good (recorded with its reason), not back in the DLQ.
    const rejected = await eventually(
      () => scanAll(target.ddb, target.tableName),
      (items) => items.some((item) => item.outcome === 'rejected' && item.body === 'not an event'),
    );
    expect(rejected.find((item) => item.body === 'not an event')).toMatchObject({ reason: 'body is not JSON' });
    await eventually(
      () => dlqDepth(target),
      (d) => d.visible === 0 && d.inFlight === 0,
    );
  }, 60_000);

  test('keeps the body and message attributes, and sends before it deletes', async () => {
    const queues = await engines.sqs.createEventQueues(config);
    const bare = localTarget({ ...parseLocalReady(ready), queueUrl: queues.queueUrl, dlqUrl: queues.dlqUrl });
    try {
      await bare.sqs.send(
        new SendMessageCommand({
          QueueUrl: queues.dlqUrl,
          MessageBody: '{"id":"EV_keep","event":"room_started"}',
          MessageAttributes: {
            eventId: { DataType: 'String', StringValue: 'EV_keep' },
            receivedAt: { DataType: 'String', StringValue: '1700000000000' },
          },
        }),
      );
      await eventually(
        () => dlqDepth(bare),
        (d) => d.visible === 1,
      );
      const sent: string[] = [];
      const original = bare.sqs.send.bind(bare.sqs);
      bare.sqs.send = ((command: any, ...rest: any[]) => {
        sent.push(command.constructor.name);
        return original(command, ...rest);
      }) as typeof bare.sqs.send;
      expect(await redriveDlq(bare)).toEqual({ mode: 'copy', moved: 1 });
      expect(sent.filter((name) => name !== 'GetQueueAttributesCommand' && name !== 'ReceiveMessageCommand')).toEqual([
        'SendMessageCommand',
        'DeleteMessageCommand',
      ]);
      const { Messages = [] } = await bare.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MessageAttributeNames: ['All'], WaitTimeSeconds: 2 }),
      );
      expect(Messages).toHaveLength(1);
      expect(Messages[0].Body).toBe('{"id":"EV_keep","event":"room_started"}');
      expect(Messages[0].MessageAttributes?.eventId?.StringValue).toBe('EV_keep');
      expect(Messages[0].MessageAttributes?.receivedAt?.StringValue).toBe('1700000000000');
      expect((await dlqDepth(bare)).visible).toBe(0);
    } finally {
      bare.close();
    }
  });

  test('npm run dlq:redrive -- --local <ready line> moves what is there, and says when there is nothing', async () => {
    const room = { sid: 'RM_cli', name: 'cli-room' };
    const event = roomStarted(room, Math.floor(Date.now() / 1000));
    await target.sqs.send(new SendMessageCommand({ QueueUrl: pipeline.dlqUrl, MessageBody: 'still not an event' }));
    await target.sqs.send(new SendMessageCommand({ QueueUrl: pipeline.dlqUrl, MessageBody: JSON.stringify(event) }));
    await eventually(
      () => dlqDepth(target),
      (d) => d.visible === 2,
    );
    const { stdout } = await run('npm', ['run', '--silent', 'dlq:redrive', '--', '--local', ready], { cwd: root });
    expect(stdout).toMatch(/2 message\(s\) moved from the DLQ back to the queue/);
    await pipeline.waitUntilProcessed([event.id]);
    await eventually(
      () => dlqDepth(target),
      (d) => d.visible === 0 && d.inFlight === 0,
    );
    const empty = await run('npm', ['run', '--silent', 'dlq:redrive', '--', '--local', ready], { cwd: root });
    expect(empty.stdout).toMatch(/nothing to redrive/);
  }, 60_000);

  test('npm run dlq:redrive right after a peek: says the messages are in flight (exit 1), then moves them once the peek has passed', async () => {
    await target.sqs.send(new SendMessageCommand({ QueueUrl: pipeline.dlqUrl, MessageBody: 'peeked, not an event' }));
    await eventually(
      () => dlqDepth(target),
      (d) => d.visible === 1,
    );
    // The runbook's peek, with a short visibility timeout.
    const peeked = await target.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: pipeline.dlqUrl, VisibilityTimeout: 3, WaitTimeSeconds: 1 }),
    );
    expect(peeked.Messages).toHaveLength(1);
    const early = await run('npm', ['run', '--silent', 'dlq:redrive', '--', '--local', ready], { cwd: root }).then(
      () => ({ code: 0, stdout: '' }),
      (error: { code: number; stdout: string }) => error,
    );
    expect(early.code).toBe(1);
    expect(early.stdout).toMatch(/nothing visible to redrive yet: 1 message\(s\) in flight/);
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    const later = await run('npm', ['run', '--silent', 'dlq:redrive', '--', '--local', ready], { cwd: root });
    expect(later.stdout).toMatch(/1 message\(s\) moved from the DLQ back to the queue/);
  }, 60_000);
});

describe('state against the local runtime', () => {
  const now = Math.floor(Date.now() / 1000);
  const room = { sid: 'RM_state', name: 'state-room' };

  beforeAll(async () => {
    await post(roomStarted(room, now - 10));
    await post(participantJoined(room, { sid: 'PA_alice', identity: 'alice' }, now - 9));
    await post(participantJoined(room, { sid: 'PA_bob', identity: 'bob' }, now - 8));
    await post(egressEvent('egress_started', room, 'EG_state', 'EGRESS_STARTING', now - 7));
    await eventually(
      () => queryState(target, { kind: 'egresses' }),
      (items) => items.some((item) => item.entityId === 'EG_state'),
    );
  });

  test("lists active rooms, a room's participants by sid or by name, and open egresses", async () => {
    expect((await queryState(target, { kind: 'rooms' })).map((item) => item.entityId)).toContain('RM_state');
    await eventually(
      () => queryState(target, { kind: 'participants', room: 'RM_state' }),
      (items) => items.length === 2,
    );
    const byName = await queryState(target, { kind: 'participants', room: 'state-room' });
    expect(byName.map((item) => item.entityId).sort()).toEqual(['PA_alice', 'PA_bob']);
    expect(summarize(byName.find((item) => item.entityId === 'PA_alice')!)).toMatchObject({
      id: 'PA_alice',
      lastEvent: 'participant_joined',
    });
  });

  test('npm run state -- --local <ready line> participants <name> prints them; a bad command exits 2 with usage', async () => {
    const { stdout } = await run('npm', ['run', '--silent', 'state', '--', '--local', ready, 'participants', 'state-room'], { cwd: root });
    expect(stdout).toMatch(/2 participants/);
    expect(stdout).toContain('PA_alice');
    // A name with no room item (its room_started missing) is not an empty room: it says so.
    const unknown = await run('npm', ['run', '--silent', 'state', '--', '--local', ready, 'participants', 'no-such-room'], { cwd: root });
    expect(unknown.stdout).toMatch(/0 participants\nno active room named "no-such-room" in the state .*ask by room sid/);
    const json = await run('npm', ['run', '--silent', 'state', '--', '--local', ready, '--json', 'egresses'], { cwd: root });
    expect(
      json.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).entityId),
    ).toContain('EG_state');
    await expect(run('npm', ['run', '--silent', 'state', '--', '--local', ready, 'everything'], { cwd: root })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('usage: npm run state'),
    });
  });
});

describe('replay against the local runtime', () => {
  test('is refused with a clear message and a non-zero exit', async () => {
    await expect(startReplay(target, { from: new Date(Date.now() - 60_000), to: new Date() })).rejects.toThrow(/not available locally/);
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() - 60_000).toISOString();
    await expect(
      run('npm', ['run', '--silent', 'replay', '--', '--local', ready, '--from', from, '--to', to], { cwd: root }),
    ).rejects.toMatchObject({
      code: 3,
      stderr: expect.stringContaining('replay is not available locally'),
    });
  });
});
