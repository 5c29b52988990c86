/**
 * The alarm rules of the pipeline: threshold, comparison, period, M of N and missing-data treatment
 * of every alarm, as plain data. The CDK `Monitoring` construct builds its CloudWatch alarms from
 * these objects and the local runtime evaluates the same objects with `evaluateAlarm`, so "the
 * alarm would fire" means the same thing on a laptop as in CloudWatch. No CDK import here: the
 * local runtime and the on-call tooling load this module too.
 *
 * Each rule names its runbook section (`anchor`), an explicit HTML anchor in README.md
 * (merged into README.md), and its description says what the alarm means and where to read on.
 */
import type { PipelineConfig } from './config';
import { queueVisibilityTimeoutSeconds } from './config';

export type ComparisonOperator =
  | 'GreaterThanOrEqualToThreshold'
  | 'GreaterThanThreshold'
  | 'LessThanThreshold'
  | 'LessThanOrEqualToThreshold';

/** CloudWatch's four treatments, spelled as CloudFormation spells them. */
export type MissingDataTreatment = 'breaching' | 'notBreaching' | 'ignore' | 'missing';

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export type AlarmStatistic = 'Sum' | 'Maximum' | 'Average' | 'p99';

export const ALARM_IDS = [
  'missed-events',
  'dlq-not-empty',
  'queue-oldest-message-age',
  'ingest-5xx',
  'ingest-signature-failures',
  'ingest-latency-p99',
  'processor-errors',
  'processor-throttles',
  'reconciler-errors',
  'reconciler-heartbeat-missing',
  'api-5xx',
  'api-throttling',
] as const;
export type AlarmId = (typeof ALARM_IDS)[number];

export interface AlarmRule {
  readonly id: AlarmId;
  /** Short human title; also the dashboard label. */
  readonly title: string;
  /** The runbook section's anchor (`<a id="...">` in README.md). */
  readonly anchor: string;
  /** What the alarm means, for the description (the runbook link is appended). */
  readonly cause: string;
  readonly statistic: AlarmStatistic;
  readonly periodSeconds: number;
  readonly threshold: number;
  readonly comparison: ComparisonOperator;
  /** N: how many most recent periods are evaluated. */
  readonly evaluationPeriods: number;
  /** M: how many of those must breach. */
  readonly datapointsToAlarm: number;
  readonly treatMissingData: MissingDataTreatment;
}

/** Where the runbooks live once merged; the anchors are explicit, so they survive the merge. */
export const RUNBOOK_DOCUMENT = 'README.md';

/** The alarm's description: cause, then the runbook link. CloudWatch allows 1024 characters. */
export function alarmDescription(rule: AlarmRule): string {
  return `${rule.cause} Runbook: ${RUNBOOK_DOCUMENT}#${rule.anchor}`;
}

/** LiveKit Cloud gives up on a webhook after about 3 s; page well before. */
export const INGEST_LATENCY_P99_THRESHOLD_MS = 1000;

type RuleConfig = Pick<PipelineConfig, 'alarms' | 'reconcile' | 'queue' | 'processing'>;

/**
 * Every rule, from config. Rules on metrics that report only when something happens (errors,
 * rejections, missed events) treat missing data as not breaching; the reconciler heartbeat, which
 * reports on every healthy run, treats missing data as breaching, because silence is the failure.
 */
export function alarmRules(config: RuleConfig): Readonly<Record<AlarmId, AlarmRule>> {
  const reconcilePeriod = config.reconcile.intervalMinutes * 60;
  // A message that keeps failing reaches the DLQ after maxReceiveCount visibility timeouts; a
  // message older than that is not failing, it is waiting: nobody is consuming the queue.
  const stuckAfterSeconds = queueVisibilityTimeoutSeconds(config.processing) * config.queue.maxReceiveCount;
  const rules: AlarmRule[] = [
    {
      id: 'missed-events',
      title: 'Missed events detected',
      anchor: 'runbook-missed-events',
      cause:
        `The reconciler found at least ${config.alarms.missedEventsThreshold} event(s) per run LiveKit never delivered (LiveKit dropped, timed out or abandoned them) ` +
        'and sent repairs through the queue. State was wrong until the repair; find out which event types and why.',
      statistic: 'Sum',
      periodSeconds: reconcilePeriod,
      threshold: config.alarms.missedEventsThreshold,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: config.alarms.missedEventsEvaluationPeriods,
      datapointsToAlarm: config.alarms.missedEventsEvaluationPeriods,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'dlq-not-empty',
      title: 'DLQ not empty',
      anchor: 'runbook-dlq-not-empty',
      cause:
        `At least one event failed processing ${config.queue.maxReceiveCount} times and sits in the dead-letter queue: it is not applied to state. ` +
        `It is kept ${config.queue.dlqRetentionDays} days; fix the cause, then redrive it.`,
      statistic: 'Maximum',
      periodSeconds: 60,
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'queue-oldest-message-age',
      title: 'Queue not drained',
      anchor: 'runbook-queue-oldest-message-age',
      cause:
        `The oldest event in the queue is older than ${stuckAfterSeconds} s (maxReceiveCount x visibility timeout): the processor is not consuming ` +
        'the queue (disabled event source, throttled, failing every batch) or cannot keep up. State is stale; nothing is lost yet.',
      statistic: 'Maximum',
      periodSeconds: 60,
      threshold: stuckAfterSeconds,
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'ingest-5xx',
      title: 'Ingest could not store events (503)',
      anchor: 'runbook-ingest-5xx',
      cause:
        'The ingest function answered 503 to LiveKit: SQS did not take the event in time, or the LiveKit keys secret could not be read or is empty. ' +
        'LiveKit retries a few times, then abandons the event.',
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 3,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'ingest-signature-failures',
      title: 'Signature failures (401)',
      anchor: 'runbook-ingest-signature-failures',
      cause:
        'Ingest refused requests with a bad, missing, expired or unknown-key signature (401). LiveKit does not retry a 401: if these are genuine ' +
        'events (a key missing from the secret, clock skew) they are lost; otherwise someone is posting forged requests to the URL.',
      statistic: 'Sum',
      periodSeconds: 300,
      threshold: 5,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'ingest-latency-p99',
      title: 'Ingest p99 latency',
      anchor: 'runbook-ingest-latency-p99',
      cause:
        `p99 latency of the webhook API is above ${INGEST_LATENCY_P99_THRESHOLD_MS} ms. LiveKit gives up after about 3 s and a slow answer holds up ` +
        "every later event of the same room; past 3 s events time out, are retried, and age out of LiveKit's 30 s queue.",
      statistic: 'p99',
      periodSeconds: 60,
      threshold: INGEST_LATENCY_P99_THRESHOLD_MS,
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'processor-errors',
      title: 'Processor errors',
      anchor: 'runbook-processor-errors',
      cause:
        'The process function failed whole invocations (crash, timeout, out of memory): every event of those batches goes back to the queue ' +
        'and, if it keeps failing, to the DLQ. Per-event failures are reported as partial batch failures and do not count here.',
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'processor-throttles',
      title: 'Processor throttled',
      anchor: 'runbook-processor-throttles',
      cause:
        "Lambda throttled the process function: the account's (or a reserved) concurrency limit is exhausted. Events wait in the queue; " +
        'state lags and, if it lasts, the queue age alarm follows.',
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'reconciler-errors',
      title: 'Reconciler errors',
      anchor: 'runbook-reconciler-errors',
      cause:
        'The reconcile function failed runs (crash, timeout, LiveKit API unreachable or refusing the key). Missed events are not being found ' +
        'while this lasts.',
      statistic: 'Sum',
      periodSeconds: reconcilePeriod,
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'reconciler-heartbeat-missing',
      title: 'Reconciler heartbeat missing',
      anchor: 'runbook-reconciler-heartbeat-missing',
      cause:
        `No successful reconcile run for ${3 * config.reconcile.intervalMinutes} minute(s): the schedule is disabled, the function fails or times out, ` +
        'or it stopped emitting metrics. Nothing detects events LiveKit drops while this lasts. Missing data counts as breaching.',
      statistic: 'Sum',
      periodSeconds: reconcilePeriod,
      threshold: 1,
      comparison: 'LessThanThreshold',
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: 'breaching',
    },
    {
      id: 'api-5xx',
      title: 'API Gateway 5xx',
      anchor: 'runbook-api-5xx',
      cause:
        'The webhook API answered 5xx: the ingest function crashed, timed out, was throttled, or answered 503 (see also the ingest 5xx alarm). ' +
        'LiveKit retries a few times, then abandons the event.',
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 5,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'api-throttling',
      title: 'API Gateway throttling (429)',
      anchor: 'runbook-api-throttling',
      cause:
        'The webhook API stage refused requests with 429 (its throttling limits, ingest.throttleRateLimit/throttleBurstLimit, or the account limit). ' +
        'LiveKit retries 429 with backoff, but a sustained excess ages events out of its 30 s queue.',
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 10,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: 'notBreaching',
    },
  ];
  const byId = Object.fromEntries(rules.map((rule) => [rule.id, rule])) as Record<AlarmId, AlarmRule>;
  for (const rule of rules) validateRule(rule);
  return byId;
}

/** CloudWatch's own constraints, checked before CloudFormation would refuse the alarm. */
export function validateRule(rule: AlarmRule): void {
  const problems: string[] = [];
  if (!(rule.periodSeconds === 10 || rule.periodSeconds === 30 || (rule.periodSeconds > 0 && rule.periodSeconds % 60 === 0))) {
    problems.push(`period ${rule.periodSeconds} s must be 10, 30 or a multiple of 60`);
  }
  if (!Number.isInteger(rule.evaluationPeriods) || rule.evaluationPeriods < 1) problems.push('evaluationPeriods must be a positive integer');
  if (!Number.isInteger(rule.datapointsToAlarm) || rule.datapointsToAlarm < 1 || rule.datapointsToAlarm > rule.evaluationPeriods) {
    problems.push(`datapointsToAlarm (${rule.datapointsToAlarm}) must be from 1 to evaluationPeriods (${rule.evaluationPeriods})`);
  }
  if (rule.periodSeconds * rule.evaluationPeriods > 86_400) problems.push('period x evaluationPeriods must not exceed one day');
  if (problems.length > 0) throw new Error(`Invalid alarm rule "${rule.id}": ${problems.join('; ')}`);
}

/** Whether one datapoint breaches the rule's threshold. */
export function breaches(rule: Pick<AlarmRule, 'comparison' | 'threshold'>, value: number): boolean {
  switch (rule.comparison) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= rule.threshold;
    case 'GreaterThanThreshold':
      return value > rule.threshold;
    case 'LessThanThreshold':
      return value < rule.threshold;
    case 'LessThanOrEqualToThreshold':
      return value <= rule.threshold;
  }
}

/**
 * The state CloudWatch would put the alarm in, given the statistic's value in each of the last
 * `evaluationPeriods` periods, oldest first (`undefined` = no datapoint in that period):
 * - `breaching` / `notBreaching`: a missing datapoint counts as breaching / not breaching;
 * - `missing`: missing datapoints are left out; all missing → INSUFFICIENT_DATA;
 * - `ignore`: like `missing`, but all missing keeps `previous`.
 * ALARM when at least `datapointsToAlarm` of them breach, else OK. Only the last N values are used
 * (extra older values are dropped, fewer are padded as missing).
 */
export function evaluateAlarm(
  rule: Pick<AlarmRule, 'comparison' | 'threshold' | 'evaluationPeriods' | 'datapointsToAlarm' | 'treatMissingData'>,
  datapoints: ReadonlyArray<number | undefined>,
  previous: AlarmState = 'INSUFFICIENT_DATA',
): AlarmState {
  const window = datapoints.slice(-rule.evaluationPeriods);
  while (window.length < rule.evaluationPeriods) window.unshift(undefined);
  const present = window.filter((value): value is number => value !== undefined && !Number.isNaN(value));
  let breaching = present.filter((value) => breaches(rule, value)).length;
  const missing = window.length - present.length;
  switch (rule.treatMissingData) {
    case 'breaching':
      breaching += missing;
      break;
    case 'notBreaching':
      break;
    case 'missing':
      if (present.length === 0) return 'INSUFFICIENT_DATA';
      break;
    case 'ignore':
      if (present.length === 0) return previous;
      break;
  }
  return breaching >= rule.datapointsToAlarm ? 'ALARM' : 'OK';
}

/** One timestamped sample of a metric, as the local runtime keeps them. */
export interface Sample {
  readonly value: number;
  readonly timestamp: number;
}

/**
 * The rule's statistic over each of the last `evaluationPeriods` periods ending at `now`, oldest
 * first, `undefined` for a period with no sample: what CloudWatch would feed the alarm.
 */
export function periodDatapoints(rule: Pick<AlarmRule, 'statistic' | 'periodSeconds' | 'evaluationPeriods'>, samples: readonly Sample[], now: number): Array<number | undefined> {
  const periodMs = rule.periodSeconds * 1000;
  const result: Array<number | undefined> = [];
  for (let i = rule.evaluationPeriods; i >= 1; i--) {
    const start = now - i * periodMs;
    const end = start + periodMs;
    const values = samples.filter((sample) => sample.timestamp > start && sample.timestamp <= end).map((sample) => sample.value);
    result.push(values.length === 0 ? undefined : statistic(rule.statistic, values));
  }
  return result;
}

function statistic(name: AlarmStatistic, values: readonly number[]): number {
  switch (name) {
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Maximum':
      return Math.max(...values);
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'p99': {
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)];
    }
  }
}
