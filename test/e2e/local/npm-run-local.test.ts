import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../../contracts/table-schema';
import { eventually } from '../../support/e2e';
import { fixture, signWebhook } from '../../../simulator/signing';
import { REPO_ROOT } from '../../support/paths';

/*
 * `npm run local` exactly as a user starts it (no AWS account, default dev keys), driven over real
 * HTTP with a real LiveKit signature: it answers 200 and the event's state lands in DynamoDB Local.
 */
const root = REPO_ROOT;

interface Ready {
  ready: true;
  webhookUrl: string;
  dynamodbEndpoint: string;
  tableName: string;
  queueUrl: string;
  dlqUrl: string;
  statusUrl: string;
}

/** Whether any process of the group led by `pid` is still running. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts the local pipeline (`command args`) in a process group of its own, collecting its stderr
 * lines, and resolves once it printed its ready line (rejects if it exits first).
 */
async function startDetached(command: string, args: readonly string[], env: Record<string, string> = {}) {
  const child = spawn(command, args, {
    cwd: root,
    env: { ...process.env, PORT: '0', LIVEKIT_API_KEY: '', LIVEKIT_API_SECRET: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => stderr.push(line));
  // 'close' comes after 'exit' and the end of both streams: stderr is read to the end by then.
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{"ready":true')) resolve();
    });
    void closed.then(() => reject(new Error(`exited before its ready line; stderr:\n${stderr.slice(-20).join('\n')}`)));
  });
  return { child, stderr, closed, ready };
}

describe('npm run local', () => {
  let child: ChildProcess;
  let ready: Ready;
  const lines: string[] = [];
  const waiters: Array<() => boolean> = [];

  /** Resolves when a line matching `predicate` has been printed. */
  const printed = (predicate: (line: string) => boolean, timeoutMs = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`not printed within ${timeoutMs} ms; output:\n${lines.slice(-20).join('\n')}`)),
        timeoutMs,
      );
      const check = () => {
        const line = lines.find(predicate);
        if (line === undefined) return false;
        clearTimeout(timer);
        resolve(line);
        return true;
      };
      if (!check()) waiters.push(check);
    });

  beforeAll(async () => {
    child = spawn('npm', ['run', '--silent', 'local'], {
      cwd: root,
      env: { ...process.env, PORT: '0', LIVEKIT_API_KEY: '', LIVEKIT_API_SECRET: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, like a terminal's foreground job: Ctrl-C signals the whole group.
      detached: true,
    });
    const collect = (line: string) => {
      lines.push(line);
      for (const waiter of [...waiters]) if (waiter()) waiters.splice(waiters.indexOf(waiter), 1);
    };
    createInterface({ input: child.stdout! }).on('line', collect);
    createInterface({ input: child.stderr! }).on('line', collect);
    ready = JSON.parse(await printed((line) => line.startsWith('{"ready":true'), 60_000));
  }, 90_000);

  afterAll(async () => {
    if (groupAlive(child.pid!)) process.kill(-child.pid!, 'SIGKILL');
  });

  it('prints one ready line with the URLs and names a user needs', () => {
    expect(ready).toEqual({
      ready: true,
      webhookUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/webhook$/),
      dynamodbEndpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      tableName: 'livekit-state',
      queueUrl: expect.stringContaining('livekit-events'),
      dlqUrl: expect.stringContaining('livekit-events-dlq'),
      sqsEndpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      statusUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/status$/),
      publisherDlqUrl: expect.stringContaining('livekit-events-publisher-dlq'),
      publisherFunctionName: 'livekit-publish',
      lambdaEndpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
    });
  });

  it('warns of nothing with the default LIVEKIT_URL (LiveKit on this machine)', () => {
    expect(lines.filter((line) => line.startsWith('warning ['))).toEqual([]);
  });

  it('runs the reconciler once at start, not one interval (a minute) later: its status line follows the ready line', async () => {
    await printed((line) => line.includes('"service":"status"'), 20_000);
  });

  it('serves a status page with the queue and DLQ depth, the missed-event count and the alarm states', async () => {
    const status = await (await fetch(ready.statusUrl)).json();
    expect(status).toMatchObject({
      queue: { visible: expect.any(Number) },
      dlq: { visible: 0 },
      reconcile: { missedEventsTotal: 0 },
      alarms: expect.objectContaining({ 'missed-events': expect.objectContaining({ state: expect.any(String) }) }),
    });
  });

  it('answers a webhook signed with the dev key (devkey/secret) with 200 and the event is applied in DynamoDB Local', async () => {
    const body = fixture('livekit-track-unpublished.json');
    const response = await fetch(ready.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization: await signWebhook(body, 'devkey', 'secret') },
      body,
    });
    expect(response.status).toBe(200);

    // "Query the state ... with --endpoint-url <dynamodbEndpoint> and any credentials" (README): not
    // the ones the local runtime uses itself, nor its region.
    const ddb = DynamoDBDocumentClient.from(
      new DynamoDBClient({
        endpoint: ready.dynamodbEndpoint,
        region: 'eu-west-1',
        credentials: { accessKeyId: 'AKIAANYKEYAUSERHAS', secretAccessKey: 'whatever' },
      }),
    );
    // Applied: the track's item names the event; its change came through the table's stream to the bus.
    const item = await eventually(
      async () =>
        (await ddb.send(new GetCommand({ TableName: ready.tableName, Key: keys.track('TR_AMNTtQxevMRbsr'), ConsistentRead: true }))).Item,
      (value) => value !== undefined,
    );
    expect(item).toEqual(
      expect.objectContaining({ lastEventId: 'EV_jT6Y4xyzXsjM', lastEventType: 'track_unpublished', status: 'UNPUBLISHED' }),
    );
    await eventually(
      () => lines.some((line) => line.includes('"state change published"') && line.includes('"changeId":"track:TR_AMNTtQxevMRbsr:ended"')),
      (published) => published,
    );
    ddb.destroy();
  });

  it('refuses a webhook signed with another secret, with 401', async () => {
    const body = fixture('livekit-track-unpublished.json');
    const response = await fetch(ready.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization: await signWebhook(body, 'devkey', 'not-the-secret') },
      body,
    });
    expect(response.status).toBe(401);
  });

  it('stops cleanly on Ctrl-C (SIGINT): the pipeline says so and no process is left behind (DynamoDB Local, fauxqs)', async () => {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // What Ctrl-C does: SIGINT to every process of the foreground group (npm, tsx, node, engines).
    process.kill(-child.pid!, 'SIGINT');
    await exited;
    await printed((line) => line.includes('SIGINT: stopping the local pipeline'));
    await eventually(
      async () => groupAlive(child.pid!),
      (alive) => !alive,
      20_000,
    );
    expect(lines.filter((line) => line.includes('MaxListenersExceededWarning'))).toEqual([]);
  }, 30_000);
});

/*
 * SIGTERM, as a supervisor stops a process group (`kill -TERM -- -<pgid>`, systemd's control-group
 * kill, a container runtime): every process gets it at once, so the SQS emulator may go away while the
 * processor's pollers still wait on it. The local pipeline must still stop cleanly: no warning, exit 0.
 * Started as `npm run local` starts it (tsx) but without npm in between, whose own exit status after a
 * signal is the signal's, not the pipeline's.
 */
describe('the local pipeline on SIGTERM', () => {
  it('stops cleanly: says so, prints no MaxListenersExceededWarning, exits 0 and leaves no process behind', async () => {
    const { child, stderr, closed, ready } = await startDetached(process.execPath, ['--import', 'tsx', 'bin/local.ts']);
    try {
      await ready;
      process.kill(-child.pid!, 'SIGTERM');
      expect(await closed).toEqual({ code: 0, signal: null });
      expect(stderr).toContain('SIGTERM: stopping the local pipeline');
      expect(stderr.filter((line) => line.includes('MaxListenersExceededWarning'))).toEqual([]);
      await eventually(
        async () => groupAlive(child.pid!),
        (alive) => !alive,
        20_000,
      );
    } finally {
      if (groupAlive(child.pid!)) process.kill(-child.pid!, 'SIGKILL');
    }
  }, 90_000);
});

/*
 * A supervisor that signals only the process it started (npm), not its group: npm passes SIGTERM
 * to the shell it runs the script in, which exits without passing it on. The pipeline, reparented,
 * must notice and stop its engines, not run on as an orphan.
 */
describe('npm run local when only npm is stopped', () => {
  it('stops the pipeline and both engines: no process of the group is left', async () => {
    const { child, stderr, ready } = await startDetached('npm', ['run', '--silent', 'local']);
    try {
      await ready;
      process.kill(child.pid!, 'SIGTERM');
      await eventually(
        async () => groupAlive(child.pid!),
        (alive) => !alive,
        30_000,
        'every process of the group gone',
      );
      expect(stderr.some((line) => line.endsWith(': stopping the local pipeline'))).toBe(true);
    } finally {
      if (groupAlive(child.pid!)) process.kill(-child.pid!, 'SIGKILL');
    }
  }, 90_000);
});

/*
 * `npm run local | head -1`: the reader of its output goes away, and its next write fails with
 * EPIPE. It must stop, engines included, not crash and leave DynamoDB Local and fauxqs running.
 */
describe('npm run local when the reader of its output goes away', () => {
  it('stops the pipeline and both engines: no process of the group is left', async () => {
    const { child, ready } = await startDetached('npm', ['run', '--silent', 'local']);
    try {
      await ready;
      child.stdout.destroy();
      await eventually(
        async () => groupAlive(child.pid!),
        (alive) => !alive,
        30_000,
        'every process of the group gone',
      );
    } finally {
      if (groupAlive(child.pid!)) process.kill(-child.pid!, 'SIGKILL');
    }
  }, 90_000);
});

/*
 * `cdk synth` warns when the reconciler would send its admin-grant tokens to LiveKit in cleartext
 * (an http:// or ws:// URL to another machine); `npm run local` with such a LIVEKIT_URL says so too,
 * on stderr, so that the ready line stays stdout's first line.
 */
describe('npm run local with a cleartext LIVEKIT_URL to another machine', () => {
  it('warns on stderr with the same id as cdk synth, and its ready line is still the first line of stdout', async () => {
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never routed, so the reconciler's calls just fail.
    const { child, stderr, ready } = await startDetached('npm', ['run', '--silent', 'local'], { LIVEKIT_URL: 'http://192.0.2.10:7880' });
    const stdout: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => stdout.push(line));
    try {
      await ready;
      expect(stdout[0]).toMatch(/^\{"ready":true/);
      expect(stderr).toContainEqual(
        expect.stringMatching(
          /^warning \[livekit-webhook-pipeline:cleartextLiveKitUrl\]: The LiveKit URL http:\/\/192\.0\.2\.10:7880 is not TLS/,
        ),
      );
    } finally {
      if (groupAlive(child.pid!)) process.kill(-child.pid!, 'SIGKILL');
    }
  }, 90_000);
});
