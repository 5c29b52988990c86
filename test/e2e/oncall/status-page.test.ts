import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { alarmRules } from '../../../lib/alarm-rules';
import { parseConfig } from '../../../lib/config';
import { METRIC } from '../../../lambda/shared/metrics';
import { LocalPipeline, startLocalPipeline } from '../../../local/local-pipeline';
import { MemoryMetricsSink } from '../../../lambda/shared/metrics';
import { createStatusRoute, LocalStatus, readStatus, STATUS_PATH, statusSummaryLine } from '../../../local/status-page';
import { LiveKitSimulator } from '../../../simulator';
import { eventually, WebhookProxy } from '../../support/reconcile-harness';
import { signWebhook } from '../../../simulator/signing';
import { synthPipeline } from '../../support/synth';
import { Engines, startEngines } from '../../support/e2e';

/*
 * The local status page over a running pipeline with the reconciler against the LiveKit
 * simulator: a webhook LiveKit drops (our endpoint down while it retries) is found by the
 * reconciler, and the missed-events alarm condition turns on, evaluated locally with the same rule
 * object the CloudWatch alarm is built from. The DLQ depth shows, with its alarm.
 */
const KEYS = { APIstatus: 'status-secret-of-at-least-32-characters!!' };
const [API_KEY, API_SECRET] = Object.entries(KEYS)[0];
const input = {
  // One missed event alarms here: this is about the local evaluation, not the default's tuning.
  alarms: { missedEventsThreshold: 1, missedEventsEvaluationPeriods: 1 },
  reconcile: { graceSeconds: 1 },
  processing: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 2 },
};
const config = parseConfig(input);

let engines: Engines;
let pipeline: LocalPipeline;
let sim: LiveKitSimulator;
let proxy: WebhookProxy;

beforeAll(async () => {
  engines = await startEngines();
  proxy = new WebhookProxy(() => pipeline.webhookUrl);
  const proxyUrl = await proxy.start();
  // LiveKit's retries at 1/100 (an outage drops an event in ~0.2 s), MaxAge at LiveKit's 30 s
  // (livekit/protocol webhook/resource_url_notifier.go): scaled to 300 ms, it was shorter than a
  // loaded machine's scheduling delays, and an event queued behind another aged out.
  sim = new LiveKitSimulator({ keys: KEYS, webhook: { urls: [proxyUrl], profile: 'open-source', timeScale: 0.01, maxAgeMs: 30_000 } });
  const apiUrl = await sim.start();
  pipeline = await startLocalPipeline({
    config,
    keys: KEYS,
    engines,
    logLevel: 'error',
    logSink: () => undefined,
    visibilityTimeoutSeconds: 2,
    livekit: { url: apiUrl, apiKey: API_KEY, apiSecret: API_SECRET, requestTimeoutSeconds: 1 },
    reconcileIntervalMs: 1000,
    // Runs are serialized, so a budget longer than the interval only skips ticks. With 700 ms, a
    // loaded machine's local read (up to ~1 s) used it all: the run failed before ListRooms, with no
    // heartbeat, and this test reads the heartbeat of the last run.
    reconcileTimeBudgetMs: 5_000,
    // Mounted before the queues exist, so the route reads the pipeline on each request.
    getRoutes: {
      [STATUS_PATH]: createStatusRoute(() => ({
        sqs: pipeline.sqs,
        queueUrl: pipeline.queueUrl,
        dlqUrl: pipeline.dlqUrl,
        config,
        metrics: pipeline.metrics,
      })),
    },
  });
}, 90_000);

afterAll(async () => {
  await pipeline?.stop();
  await sim?.stop();
  await proxy?.stop();
  await engines?.stop();
});

const status = async (): Promise<LocalStatus> => {
  const response = await fetch(`${pipeline.baseUrl}${STATUS_PATH}`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('application/json');
  return (await response.json()) as LocalStatus;
};

test('the missed-events alarm condition turns on after LiveKit drops an event, as the CloudWatch rule would', async () => {
  sim.join('alpha', 'a1');
  await sim.idle();
  expect(sim.stats().dropped).toBe(0);
  // A healthy run after the delivered events: heartbeat present, nothing missed.
  const healthy = await eventually(status, (s) => s.reconcile.runs >= 2 && s.alarms['reconciler-heartbeat-missing']?.state === 'OK');
  expect(healthy.alarms['missed-events']?.state).toBe('OK');
  expect(healthy.reconcile.missedEventsTotal).toBe(0);

  // Our endpoint is down while LiveKit retries: it gives up, the join is never delivered.
  proxy.decide = () => ({ kind: 'fail' });
  sim.join('alpha', 'a2');
  await sim.idle();
  proxy.decide = () => ({ kind: 'forward' });
  expect(sim.stats().dropped).toBe(1);

  const firing = await eventually(status, (s) => s.alarms['missed-events']?.state === 'ALARM');
  expect(firing.reconcile.missedEventsTotal).toBe(1);
  expect(firing.reconcile.missedEventsByType).toEqual({ participant_joined: 1 });
  expect(firing.reconcile.lastRun).toMatchObject({ [METRIC.heartbeat]: 1 });
  expect(pipeline.metrics.sum(METRIC.missedEvents, 0, {})).toBe(1);
  expect(statusSummaryLine(firing)).toMatch(/missed events 1 .*alarms: missed-events \(page\)/);
  expect(firing.liveKitKeys).toBe('configured');

  // The rule evaluated is the CloudWatch alarm's rule: same object in code, same numbers in the template.
  const rule = alarmRules(config)['missed-events'];
  expect(firing.alarms['missed-events']).toMatchObject({
    severity: 'page',
    runbook: `docs/runbooks.md#${rule.anchor}`,
    rule: {
      threshold: rule.threshold,
      comparison: rule.comparison,
      periodSeconds: rule.periodSeconds,
      evaluationPeriods: rule.evaluationPeriods,
      treatMissingData: rule.treatMissingData,
    },
  });
  const { template } = synthPipeline(input);
  const deployed = Object.values(template.findResources('AWS::CloudWatch::Alarm')).find(
    (a: any) => a.Properties.MetricName === METRIC.missedEvents,
  ) as any;
  expect(deployed.Properties).toMatchObject({
    Threshold: rule.threshold,
    ComparisonOperator: rule.comparison,
    Period: rule.periodSeconds,
    EvaluationPeriods: rule.evaluationPeriods,
    DatapointsToAlarm: rule.datapointsToAlarm,
    TreatMissingData: rule.treatMissingData,
  });
}, 60_000);

test("evaluates the heartbeat over periods no shorter than the local runs' interval (RECONCILE_INTERVAL_SECONDS above the rule's period)", async () => {
  // Runs every 190 s, a healthy heartbeat each; the rule's period is reconcile.intervalMinutes (1 min).
  const now = 10_000_000;
  // The last run 185 s ago: three minutes without a run, though it runs as often as it should.
  let clock = now - 185_000 - 2 * 190_000;
  const metrics = new MemoryMetricsSink(() => clock);
  for (; clock <= now; clock += 190_000) metrics.put([{ name: METRIC.heartbeat, value: 1 }]);
  const source = { sqs: pipeline.sqs, queueUrl: pipeline.queueUrl, dlqUrl: pipeline.dlqUrl, config, metrics, now: () => now };
  const atRuleInterval = await readStatus(source);
  // What it said before: minute periods with no run between two runs read as "missing".
  expect(atRuleInterval.alarms['reconciler-heartbeat-missing']?.state).toBe('ALARM');
  const atRunInterval = await readStatus({ ...source, reconcileIntervalMs: 190_000 });
  expect(atRunInterval.alarms['reconciler-heartbeat-missing']).toMatchObject({ state: 'OK', rule: { periodSeconds: 190 } });
});

test('calls the heartbeat missing only once its whole window lies after the start: before, no run yet is INSUFFICIENT_DATA, not ALARM', async () => {
  const now = 10_000_000;
  const metrics = new MemoryMetricsSink(() => now);
  const source = { sqs: pipeline.sqs, queueUrl: pipeline.queueUrl, dlqUrl: pipeline.dlqUrl, config, metrics, now: () => now };
  // Started half a second ago, the first run not finished yet (the ready line comes before it).
  const justStarted = await readStatus({ ...source, startedAt: now - 500 });
  expect(justStarted.alarms['reconciler-heartbeat-missing']).toMatchObject({ state: 'INSUFFICIENT_DATA', datapoints: [null, null, null] });
  // Two minutes in, still no successful run (LiveKit unreachable): not yet three intervals.
  expect((await readStatus({ ...source, startedAt: now - 120_000 })).alarms['reconciler-heartbeat-missing']?.state).toBe(
    'INSUFFICIENT_DATA',
  );
  // Three intervals without one: the ticket.
  expect((await readStatus({ ...source, startedAt: now - 180_000 })).alarms['reconciler-heartbeat-missing']?.state).toBe('ALARM');
  // A run that reported within the first intervals: OK.
  metrics.put([{ name: METRIC.heartbeat, value: 1 }]);
  expect((await readStatus({ ...source, startedAt: now - 500 })).alarms['reconciler-heartbeat-missing']?.state).toBe('OK');
});

test('shows the DLQ depth, and the DLQ alarm condition when it is not empty', async () => {
  const before = await status();
  expect(before.dlq.visible).toBe(0);
  expect(before.alarms['dlq-not-empty']?.state).toBe('OK');
  await pipeline.sqs.send(new SendMessageCommand({ QueueUrl: pipeline.dlqUrl, MessageBody: '{"id":"EV_dead","event":"room_started"}' }));
  const after = await eventually(status, (s) => s.dlq.visible === 1);
  expect(after.alarms['dlq-not-empty']).toMatchObject({ state: 'ALARM', datapoints: [1] });
  expect(statusSummaryLine(after)).toMatch(/DLQ 1/);
  // A redrive receives the message before it moves or deletes it: still there, still paging (no
  // OK and a second page for the same message if the redrive keeps it).
  const { Messages = [] } = await pipeline.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: pipeline.dlqUrl, MaxNumberOfMessages: 1, VisibilityTimeout: 120 }),
  );
  expect(Messages).toHaveLength(1);
  const held = await eventually(status, (s) => s.dlq.visible === 0 && s.dlq.inFlight === 1);
  expect(held.alarms['dlq-not-empty']).toMatchObject({ state: 'ALARM', datapoints: [1] });
  await pipeline.sqs.send(new DeleteMessageCommand({ QueueUrl: pipeline.dlqUrl, ReceiptHandle: Messages[0].ReceiptHandle }));
  const gone = await eventually(status, (s) => s.dlq.visible === 0 && s.dlq.inFlight === 0);
  expect(gone.alarms['dlq-not-empty']?.state).toBe('OK');
});

describe('"not configured": the LiveKit keys hold no key pair', () => {
  // A pipeline of its own, started with keys {} (empty queues: nothing else pages).
  let waiting: LocalPipeline;
  beforeAll(async () => {
    waiting = await startLocalPipeline({ config: parseConfig({}), keys: {}, engines, logLevel: 'error', logSink: () => undefined });
  }, 60_000);
  afterAll(() => waiting?.stop());

  const source = (metrics: MemoryMetricsSink, now: number, keysConfigured?: boolean) => ({
    sqs: waiting.sqs,
    queueUrl: waiting.queueUrl,
    dlqUrl: waiting.dlqUrl,
    config: parseConfig({}),
    metrics,
    now: () => now,
    ...(keysConfigured === undefined ? {} : { liveKitKeysConfigured: () => keysConfigured }),
  });

  test('reconcile runs that wait for keys (NotConfigured with the heartbeat) show "not configured", its ticket alarm, and no page-severity alarm', async () => {
    let clock = 1_000_000_000_000;
    const metrics = new MemoryMetricsSink(() => clock);
    // Five runs a minute apart, as the reconciler emits them while the secret holds {}.
    for (let run = 0; run < 5; run++) {
      clock += 60_000;
      metrics.put([
        { name: METRIC.notConfigured, value: 1 },
        { name: METRIC.heartbeat, value: 1 },
      ]);
    }
    const waiting = await readStatus(source(metrics, clock + 1000));
    expect(waiting.liveKitKeys).toBe('not configured');
    expect(waiting.alarms['not-configured']).toMatchObject({ state: 'ALARM', severity: 'ticket' });
    const paging = Object.entries(waiting.alarms).filter(([, alarm]) => alarm.severity === 'page' && alarm.state === 'ALARM');
    expect(paging).toEqual([]);
    expect(waiting.alarms['reconciler-heartbeat-missing']?.state).toBe('OK');
    expect(statusSummaryLine(waiting)).toMatch(/^LiveKit keys not configured \(waiting\), .*alarms: not-configured \(ticket\)$/);

    // Keys put in: the next run emits its heartbeat alone; a period later the alarm is OK.
    clock += 60_000;
    metrics.put([{ name: METRIC.heartbeat, value: 1 }]);
    const configured = await readStatus(source(metrics, clock + 1000));
    expect(configured.liveKitKeys).toBe('configured');
    clock += 60_000;
    metrics.put([{ name: METRIC.heartbeat, value: 1 }]);
    expect((await readStatus(source(metrics, clock + 1000))).alarms['not-configured']?.state).toBe('OK');
  });

  test('the ingest without keys says "not configured" before any reconcile run; "unknown" with neither', async () => {
    const metrics = new MemoryMetricsSink();
    expect((await readStatus(source(metrics, Date.now(), false))).liveKitKeys).toBe('not configured');
    expect((await readStatus(source(metrics, Date.now(), true))).liveKitKeys).toBe('configured');
    expect((await readStatus(source(metrics, Date.now()))).liveKitKeys).toBe('unknown');
  });

  test('npm run local with keys {} answers a signed webhook 503 (LiveKit retries), and /status says "not configured" with nothing paging', async () => {
    const body = '{"id":"EV_1","event":"room_started","room":{"sid":"RM_1","name":"r"}}';
    const response = await fetch(waiting.webhookUrl, {
      method: 'POST',
      body,
      headers: { authorization: await signWebhook(body, API_KEY, API_SECRET), 'content-type': 'application/webhook+json' },
    });
    expect(response.status).toBe(503);
    const local = (await (await fetch(`${waiting.baseUrl}${STATUS_PATH}`)).json()) as LocalStatus;
    expect(local.liveKitKeys).toBe('not configured');
    expect(Object.values(local.alarms).filter((alarm) => alarm.severity === 'page' && alarm.state === 'ALARM')).toEqual([]);
  });
});

test('npm run local with no LiveKit reachable names the URL it cannot reach, in one line per run', async () => {
  const lines: string[] = [];
  const unreachableUrl = 'http://127.0.0.1:9';
  const local = await startLocalPipeline({
    config: parseConfig({}),
    keys: KEYS,
    engines,
    logLevel: 'info',
    logSink: (line) => lines.push(line),
    livekit: { url: unreachableUrl, apiKey: API_KEY, apiSecret: API_SECRET, requestTimeoutSeconds: 1 },
    reconcileIntervalMs: 24 * 3600 * 1000,
  });
  try {
    const runs = 3;
    for (let run = 0; run < runs; run++) await local.reconcileNow();
    const naming = lines.filter((line) => line.includes(`LiveKit unreachable at ${unreachableUrl}`));
    expect(naming).toHaveLength(runs);
    expect(JSON.parse(naming[0])).toMatchObject({ service: 'status', level: 'info' });
    const local0 = (await (await fetch(`${local.baseUrl}${STATUS_PATH}`)).json()) as LocalStatus;
    expect(local0.reconcile.liveKitUnreachable).toBe(unreachableUrl);
  } finally {
    await local.stop();
  }
}, 60_000);

test('a reachable LiveKit is not called unreachable', async () => {
  const healthy = await status();
  expect(healthy.reconcile.runs).toBeGreaterThan(0);
  expect(healthy.reconcile.liveKitUnreachable).toBeUndefined();
  expect(statusSummaryLine(healthy)).not.toContain('unreachable');
});
