/**
 * The reconcile Lambda's entry point around the run: a keys secret not filled in yet (`{}`) is a
 * healthy wait (one log line, NotConfigured = 1, a heartbeat, no throw). And a run against a
 * LiveKit server that cannot be reached fails with one line naming its URL. Unit tests: Secrets
 * Manager and the state table are stubbed; the unreachable server is a real closed port.
 */
import * as net from 'node:net';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseConfig } from '../../../lib/config';
import { createLiveKitApi } from '../../../lambda/reconcile/livekit-api';
import { createReconciler } from '../../../lambda/reconcile/reconciler';
import { Logger } from '../../../lambda/shared/logger';
import { METRIC, MemoryMetricsSink } from '../../../lambda/shared/metrics';
import { LiveKitSimulator } from '../../../simulator/livekit-simulator';

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('reconcile handler', () => {
  let lines: string[];
  let secret: string;
  const env = { ...process.env };

  beforeEach(() => {
    jest.resetModules();
    lines = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(
        ...String(chunk)
          .split('\n')
          .filter((line) => line !== ''),
      );
      return true;
    });
    Object.assign(process.env, {
      TABLE_NAME: 'state',
      QUEUE_URL: 'http://127.0.0.1:1/queue/events',
      LIVEKIT_KEYS_SECRET_ID: 'livekit-keys',
      RECONCILE_INTERVAL_MINUTES: '1',
      RECONCILE_GRACE_SECONDS: '55',
      RECONCILE_REQUEST_BUDGET: '20',
      RECONCILE_CONCURRENCY: '2',
      RECONCILE_FULL_CHECK_MINUTES: '30',
      RECONCILE_TIME_BUDGET_MS: '2000',
      PIPELINE_NAME: 'lkw-prod',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
  });

  afterEach(() => {
    jest.restoreAllMocks();
    process.env = { ...env };
  });

  /** The handler module, fresh (it reads its environment on import), with Secrets Manager answering `secret`. */
  async function loadHandler() {
    const { SecretsManagerClient } = await import('@aws-sdk/client-secrets-manager');
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- send's last overload (callback style) returns void; the handler calls the promise one
    jest.spyOn(SecretsManagerClient.prototype, 'send').mockImplementation(async () => ({ SecretString: secret }) as never);
    return import('../../../lambda/reconcile/handler');
  }

  const json = () => lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);

  test('an empty keys secret: one "not configured" line, NotConfigured = 1 and a heartbeat, and no throw', async () => {
    process.env.LIVEKIT_URL = 'http://127.0.0.1:1';
    secret = '{}';
    const { handler } = await loadHandler();
    await expect(handler({})).resolves.toBeUndefined();
    const records = json();
    const waiting = records.filter((r) => r.message === 'LiveKit API keys not configured; reconciler waiting');
    expect(waiting).toHaveLength(1);
    expect(waiting[0].pipeline).toBe('lkw-prod');
    const emf = records.filter((r) => r._aws !== undefined);
    expect(emf.some((r) => r.NotConfigured === 1)).toBe(true);
    expect(emf.some((r) => r.ReconcileHeartbeat === 1)).toBe(true);
    // The pipeline's totals: under its `Pipeline` dimension only, so another pipeline's heartbeat
    // cannot stand in for this one's, nor its NotConfigured hide this one's API 5xx.
    const notConfigured = emf.find((r) => r.NotConfigured === 1) as {
      Pipeline: string;
      _aws: { CloudWatchMetrics: { Dimensions: string[][] }[] };
    };
    expect(notConfigured._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Pipeline']]);
    expect(notConfigured.Pipeline).toBe('lkw-prod');
  });

  test('a broken secret still fails the run', async () => {
    process.env.LIVEKIT_URL = 'http://127.0.0.1:1';
    secret = 'not json';
    const { handler } = await loadHandler();
    await expect(handler({})).rejects.toThrow('not a JSON object');
  });

  test('a secret with a malformed pair fails the run, as it fails the ingest (one parser for both)', async () => {
    process.env.LIVEKIT_URL = 'http://127.0.0.1:1';
    secret = '{"APIkey":1}';
    const { handler } = await loadHandler();
    await expect(handler({})).rejects.toThrow('empty or non-string entry for "APIkey"');
  });
});

const SECRET_32 = 'secret-of-at-least-32-characters-long';

/**
 * One reconciler run against the LiveKit server API at `url` (key `APIkey`), with an empty state
 * table and bookkeeping (every Scan and Query answers no items): its report, log lines and metrics.
 */
async function runWithEmptyState(url: string) {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger({ service: 'reconcile', sink: (line) => lines.push(JSON.parse(line)) });
  const metrics = new MemoryMetricsSink();
  const ddb = { send: async () => ({ Items: [] }) } as unknown as DynamoDBDocumentClient;
  const reconciler = createReconciler({
    livekit: createLiveKitApi({ url, apiKey: 'APIkey', apiSecret: SECRET_32 }),
    ddb,
    tableName: 'state',
    enqueue: async () => undefined,
    metrics,
    logger,
    config: parseConfig({}).reconcile,
    timeBudgetMs: 5000,
    backoffBaseMs: 1,
  });
  return { report: await reconciler.run(), lines, metrics };
}

describe('a run against a LiveKit server that cannot be reached', () => {
  test('logs one "LiveKit server unreachable" line naming the URL, counts API errors, and fails the run', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const { report, lines, metrics } = await runWithEmptyState(url);
    expect(report.ok).toBe(false);
    const unreachable = lines.filter((line) => line.message === 'LiveKit server unreachable');
    expect(unreachable).toHaveLength(1);
    expect(unreachable[0].url).toBe(url);
    expect(report.apiErrors.ListRooms).toBe(3);
    expect(metrics.sum(METRIC.liveKitApiErrors)).toBeGreaterThan(0);
    expect(metrics.sum(METRIC.heartbeat)).toBe(0);
  }, 30_000);
});

describe('a run against a LiveKit without Redis (livekit-server --dev)', () => {
  /** A run against the simulator's server API (real HTTP), with an empty state table. */
  async function runAgainst(sim: LiveKitSimulator) {
    return runWithEmptyState(await sim.start());
  }
  const SIM_SECRET = SECRET_32;

  test('ListEgress and ListIngress answering "not connected (redis required)": asked once each, that part skipped, one warning, the run ok with a heartbeat', async () => {
    const sim = new LiveKitSimulator({ keys: { APIkey: SIM_SECRET }, redis: false });
    try {
      sim.join('room-a', 'alice');
      const { report, lines, metrics } = await runAgainst(sim);
      expect(report.ok).toBe(true);
      expect(report.errors).toEqual([]);
      expect(report.servicesNotConnected).toEqual(['egress', 'ingress']);
      expect(report.apiCalls).toEqual({ ListRooms: 1, ListEgress: 1, ListIngress: 1, ListParticipants: 1 });
      expect(report.ingressSessionsChecked).toBeUndefined();
      expect(metrics.sum(METRIC.heartbeat)).toBe(1);
      const warnings = lines.filter((line) => line.level === 'warn');
      expect(warnings).toEqual([
        expect.objectContaining({
          message: expect.stringMatching(/^LiveKit has no egress or ingress service: .*LiveKit needs Redis for egress and ingress/),
          services: ['egress', 'ingress'],
        }),
      ]);
      expect(lines.filter((line) => line.level === 'error')).toEqual([]);
    } finally {
      await sim.stop();
    }
  }, 30_000);

  test('any other 500 on ListEgress still fails the run, after its retries', async () => {
    const sim = new LiveKitSimulator({ keys: { APIkey: SIM_SECRET } });
    try {
      sim.injectFault('ListEgress', { kind: 'error', status: 500, code: 'internal', msg: 'egress store failed' });
      const { report, metrics } = await runAgainst(sim);
      expect(report.ok).toBe(false);
      expect(report.servicesNotConnected).toBeUndefined();
      expect(report.apiCalls.ListEgress).toBe(3);
      expect(metrics.sum(METRIC.heartbeat)).toBe(0);
    } finally {
      await sim.stop();
    }
  }, 30_000);
});
