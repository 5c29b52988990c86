/**
 * Local consumers (local/local-consumers.ts): each published change reaches the handler modules
 * the user names, as the EventBridge event a rule's target gets, asynchronously, retried as
 * Lambda retries an async invocation. Unit tests with changes built in memory, then `npm run local`
 * as a user starts it with `CHANGE_HANDLER`, driven by a signed webhook over real HTTP.
 */
import { REPO_ROOT } from '../../support/paths';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { changeEventOf, ChangeEvent } from '../../../consumer';
import type { StateChange } from '../../../lambda/process/publisher';
import { LOCAL_ACCOUNT, LocalConsumers, loadChangeHandler } from '../../../local/local-consumers';
import { LOCAL_REGION } from '../../../local/engines/dynamodb-local';
import { eventually } from '../../support/e2e';
import { participantJoined, roomStarted } from '../../../simulator/events';
import { signWebhook } from '../../../simulator/signing';
import { memoryLogger } from '../../support/state';
import * as recording from './fixtures/recording-handler';

const root = REPO_ROOT;
const FIXTURE = './test/e2e/local/fixtures/recording-handler.ts';

const change = (n: number, detailType = 'participant.joined'): StateChange => ({
  changeId: `participant:PA_${n}:started`,
  detailType,
  entity: { type: 'participant', id: `PA_${n}`, participantSid: `PA_${n}`, identity: `user${n}`, roomSid: 'RM_x', roomName: 'x' },
  old: null,
  new: {
    entityType: 'participant',
    entityId: `PA_${n}`,
    status: 'ACTIVE',
    participantSid: `PA_${n}`,
    identity: `user${n}`,
    roomSid: 'RM_x',
    roomName: 'x',
  },
  eventId: `EV_${n}`,
  eventType: 'participant_joined',
  source: 'webhook',
  occurredAt: '2026-02-17T18:11:47.000Z',
});

describe('LocalConsumers', () => {
  afterEach(() => {
    recording.received.length = 0;
    recording.settings.failFirst = 0;
  });

  test('each change reaches each consumer as the event the bus delivers; types filter as onChange does', async () => {
    const { logger } = memoryLogger();
    const all: ChangeEvent[] = [];
    const left: ChangeEvent[] = [];
    const consumers = new LocalConsumers({
      logger,
      consumers: [
        { name: 'all', handler: (event) => void all.push(event) },
        { name: 'left only', handler: (event) => void left.push(event), types: ['participant.left'] },
      ],
    });
    consumers.deliver(change(1));
    consumers.deliver(change(2, 'participant.left'));
    await consumers.idle();
    expect(all.map((event) => event.detail.changeId)).toEqual(['participant:PA_1:started', 'participant:PA_2:started']);
    expect(left.map((event) => event['detail-type'])).toEqual(['participant.left']);
    const [first] = all;
    expect(first).toEqual({
      ...changeEventOf(change(1) as never, { account: LOCAL_ACCOUNT, region: LOCAL_REGION }),
      id: expect.any(String),
    });
    expect(first).toMatchObject({
      version: '0',
      source: 'livekit.webhooks',
      'detail-type': 'participant.joined',
      time: '2026-02-17T18:11:47Z',
      resources: [],
      account: '000000000000',
      region: 'us-east-1',
    });
    // Each delivery has its own id, as each event on the bus does.
    expect(new Set([...all, ...left].map((event) => event.id)).size).toBe(3);
  });

  test('delivery never waits for the handler', async () => {
    const { logger } = memoryLogger();
    let finish!: () => void;
    const consumers = new LocalConsumers({
      logger,
      consumers: [{ name: 'slow', handler: () => new Promise<void>((resolve) => (finish = resolve)) }],
    });
    consumers.deliver(change(1));
    let idle = false;
    const waiting = consumers.idle().then(() => (idle = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(idle).toBe(false);
    finish();
    await waiting;
  });

  test('a handler that throws is retried: 3 attempts in all, then the change is logged and dropped for it', async () => {
    const { logger, lines } = memoryLogger();
    const consumer = loadChangeHandler(FIXTURE, root);
    const consumers = new LocalConsumers({ logger, consumers: [consumer], retryDelaysMs: [10, 20] });

    recording.settings.failFirst = 2;
    consumers.deliver(change(1));
    await consumers.idle();
    expect(recording.received).toHaveLength(1);
    expect(
      lines.filter((line) => line.message === 'change handler failed; retrying').map((line) => [line.attempt, line.retryInMs]),
    ).toEqual([
      [1, 10],
      [2, 20],
    ]);

    recording.settings.failFirst = 3;
    consumers.deliver(change(2));
    await consumers.idle();
    expect(recording.received).toHaveLength(1);
    expect(lines.filter((line) => line.message === 'change handler gave up')).toEqual([
      expect.objectContaining({
        level: 'error',
        consumer: FIXTURE,
        changeId: 'participant:PA_2:started',
        attempts: 3,
        error: expect.objectContaining({ message: 'attempt 3 of participant:PA_2:started fails on purpose' }),
      }),
    ]);
  });

  test('stop drops pending retries at once', async () => {
    const { logger } = memoryLogger();
    const consumers = new LocalConsumers({
      logger,
      consumers: [{ name: 'failing', handler: () => Promise.reject(new Error('down')) }],
      retryDelaysMs: [3_600_000],
    });
    consumers.deliver(change(1));
    await new Promise((resolve) => setImmediate(resolve));
    await consumers.stop();
    consumers.deliver(change(2));
    await consumers.idle();
  });
});

describe('loadChangeHandler', () => {
  test('loads a TypeScript module by path (relative to the directory given), `handler` or `#name`', async () => {
    const consumer = loadChangeHandler(FIXTURE, root);
    expect(consumer.name).toBe(FIXTURE);
    await consumer.handler(changeEventOf(change(1) as never));
    const other = loadChangeHandler(`${FIXTURE}#other`, root);
    expect(other.name).toBe(`${FIXTURE}#other`);
    await other.handler(changeEventOf(change(2) as never));
    expect(recording.received).toEqual([
      expect.objectContaining({ detail: expect.objectContaining({ changeId: 'participant:PA_1:started' }) }),
      { other: expect.anything() },
    ]);
    recording.received.length = 0;
  });

  test('says what to fix when the module or the function is missing', () => {
    expect(() => loadChangeHandler('./no/such/handler.ts', root)).toThrow(/^CHANGE_HANDLER: cannot load .*no\/such\/handler\.ts/);
    expect(() => loadChangeHandler(`${FIXTURE}#nope`, root)).toThrow(/exports no function named "nope" \(exports: .*\bhandler\b.*\)/);
    expect(() => loadChangeHandler('', root)).toThrow('CHANGE_HANDLER names no module');
  });
});

describe('npm run local with CHANGE_HANDLER', () => {
  let child: ChildProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'change-handler-'));
  afterAll(() => {
    // Whatever of its process group is left (a failed test never sent SIGINT).
    try {
      if (child?.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group is gone.
    }
    rmSync(dir, { recursive: true, force: true });
  });

  function start(env: Record<string, string>) {
    const lines: string[] = [];
    const proc = spawn('npm', ['run', '--silent', 'local'], {
      cwd: root,
      env: { ...process.env, PORT: '0', LIVEKIT_API_KEY: '', LIVEKIT_API_SECRET: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    createInterface({ input: proc.stdout }).on('line', (line) => lines.push(line));
    createInterface({ input: proc.stderr }).on('line', (line) => lines.push(line));
    return { proc, lines };
  }

  /** The webhook URL of the ready line, once it is printed. */
  async function readyWebhookUrl(lines: readonly string[]): Promise<string> {
    const readyLine = await eventually(
      () => lines.find((line) => line.startsWith('{"ready"')),
      (line) => line !== undefined,
      90_000,
      'the ready line',
    );
    return (JSON.parse(readyLine!) as { webhookUrl: string }).webhookUrl;
  }

  /** POSTs `event` signed as LiveKit signs it; the answer's status. */
  async function post(webhookUrl: string, event: object): Promise<number> {
    const body = JSON.stringify(event);
    const response = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization: await signWebhook(body, 'devkey', 'secret') },
      body,
    });
    return response.status;
  }

  test('a handler module that cannot be loaded stops it at once, saying which module and why', async () => {
    const { proc, lines } = start({ CHANGE_HANDLER: './no/such/handler.ts' });
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    expect(code).toBe(1);
    expect(lines.join('\n')).toMatch(/CHANGE_HANDLER: cannot load .*no\/such\/handler\.ts/);
    expect(lines.some((line) => line.startsWith('{"ready"'))).toBe(false);
  }, 60_000);

  test("a handler's promise that rejects unawaited is logged as an error; ingest keeps answering (on AWS it fails that invocation only)", async () => {
    const leaky = join(dir, 'leaky-handler.mjs');
    writeFileSync(leaky, "export const handler = async () => { void Promise.reject(new Error('fire and forget failed')); };\n");
    const started = start({ CHANGE_HANDLER: leaky });
    child = started.proc;
    const webhookUrl = await readyWebhookUrl(started.lines);
    const room = { sid: 'RM_leaky', name: 'leaky' };
    const now = Math.floor(Date.now() / 1000);
    expect(await post(webhookUrl, roomStarted(room, now))).toBe(200);
    await eventually(
      () => started.lines.filter((line) => line.includes('unhandled promise rejection, ignored')),
      (found) => found.length > 0,
      60_000,
      'the rejection logged',
    );
    expect(await post(webhookUrl, participantJoined(room, { sid: 'PA_leaky', identity: 'alice' }, now + 1))).toBe(200);
    expect(started.lines.join('\n')).not.toMatch(/stopping the local pipeline/);
    process.kill(-child.pid!, 'SIGINT');
    await new Promise((resolve) => child!.once('exit', resolve));
  }, 150_000);

  test('the module it names receives each published change, as the EventBridge event', async () => {
    const file = join(dir, 'changes.jsonl');
    const started = start({ CHANGE_HANDLER: FIXTURE, RECORD_CHANGES_TO: file });
    child = started.proc;
    const webhookUrl = await readyWebhookUrl(started.lines);
    const room = { sid: 'RM_local_consumer', name: 'local consumer' };
    const now = Math.floor(Date.now() / 1000);
    for (const event of [roomStarted(room, now), participantJoined(room, { sid: 'PA_lc', identity: 'alice' }, now + 1)])
      expect(await post(webhookUrl, event)).toBe(200);
    const events = await eventually(
      () =>
        existsSync(file)
          ? readFileSync(file, 'utf8')
              .trim()
              .split('\n')
              .map((line) => JSON.parse(line) as ChangeEvent)
          : [],
      (list) => list.length >= 2,
      60_000,
      'two changes delivered',
    );
    expect(events.map((event) => [event['detail-type'], event.detail.changeId]).sort()).toEqual([
      ['participant.joined', 'participant:PA_lc:started'],
      ['room.started', 'room:RM_local_consumer:started'],
    ]);
    for (const event of events)
      expect(event).toMatchObject({
        version: '0',
        source: 'livekit.webhooks',
        account: '000000000000',
        region: 'us-east-1',
        resources: [],
      });
    process.kill(-child.pid!, 'SIGINT');
    await new Promise((resolve) => child!.once('exit', resolve));
  }, 150_000);
});
