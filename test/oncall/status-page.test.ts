import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { alarmRules } from '../../lib/alarm-rules';
import { parseConfig } from '../../lib/config';
import { METRIC } from '../../lambda/shared/metrics';
import { LocalPipeline, startLocalPipeline } from '../../local/local-pipeline';
import { createStatusRoute, LocalStatus, STATUS_PATH, statusSummaryLine } from '../../local/status-page';
import { LiveKitSimulator } from '../../simulator';
import { eventually, WebhookProxy } from '../reconcile/support';
import { synthPipeline } from '../support/synth';
import { Engines, startEngines } from '../support/e2e';

/*
 * The local status page over a running pipeline with the reconciler against the LiveKit
 * simulator: a webhook LiveKit drops (our endpoint down while it retries) is found by the
 * reconciler, and the missed-events alarm condition turns on, evaluated locally with the same rule
 * object the CloudWatch alarm is built from. The DLQ depth shows, with its alarm.
 */
const KEYS = { APIstatus: 'status-secret-of-at-least-32-characters!!' };
const [API_KEY, API_SECRET] = Object.entries(KEYS)[0];
const input = {
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
  sim = new LiveKitSimulator({ keys: KEYS, webhook: { urls: [proxyUrl], profile: 'open-source', timeScale: 0.01 } });
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
    reconcileTimeBudgetMs: 700,
    // Mounted before the queues exist, so the route reads the pipeline on each request.
    getRoutes: { [STATUS_PATH]: createStatusRoute(() => ({ sqs: pipeline.sqs, queueUrl: pipeline.queueUrl, dlqUrl: pipeline.dlqUrl, config, metrics: pipeline.metrics })) },
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
  expect(statusSummaryLine(firing)).toMatch(/missed events 1 .*alarms: missed-events/);

  // The rule evaluated is the CloudWatch alarm's rule: same object in code, same numbers in the template.
  const rule = alarmRules(config)['missed-events'];
  expect(firing.alarms['missed-events']).toMatchObject({
    runbook: `README.md#${rule.anchor}`,
    rule: { threshold: rule.threshold, comparison: rule.comparison, periodSeconds: rule.periodSeconds, evaluationPeriods: rule.evaluationPeriods, treatMissingData: rule.treatMissingData },
  });
  const { template } = synthPipeline(input);
  const deployed = Object.values(template.findResources('AWS::CloudWatch::Alarm')).find((a: any) => a.Properties.MetricName === METRIC.missedEvents) as any;
  expect(deployed.Properties).toMatchObject({
    Threshold: rule.threshold,
    ComparisonOperator: rule.comparison,
    Period: rule.periodSeconds,
    EvaluationPeriods: rule.evaluationPeriods,
    DatapointsToAlarm: rule.datapointsToAlarm,
    TreatMissingData: rule.treatMissingData,
  });
}, 60_000);

test('shows the DLQ depth, and the DLQ alarm condition when it is not empty', async () => {
  const before = await status();
  expect(before.dlq.visible).toBe(0);
  expect(before.alarms['dlq-not-empty']?.state).toBe('OK');
  await pipeline.sqs.send(new SendMessageCommand({ QueueUrl: pipeline.dlqUrl, MessageBody: '{"id":"EV_dead","event":"room_started"}' }));
  const after = await eventually(status, (s) => s.dlq.visible === 1);
  expect(after.alarms['dlq-not-empty']).toMatchObject({ state: 'ALARM', datapoints: [1] });
  expect(statusSummaryLine(after)).toMatch(/DLQ 1/);
});
