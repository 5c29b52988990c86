/**
 * The alarm rules of the pipeline: threshold, comparison, period, M of N and missing-data treatment
 * of every alarm, as plain data. The CDK `Monitoring` construct builds its CloudWatch alarms from
 * these objects and the local runtime evaluates the same objects with `evaluateAlarm`, so "the
 * alarm would fire" means the same thing on a laptop as in CloudWatch. No CDK import here: the
 * local runtime and the on-call tooling load this module too.
 *
 * Each rule has a severity (`page`: events are being lost or delayed now, wake someone; `ticket`:
 * look during working hours) and names its runbook section (`anchor`), an explicit HTML anchor in
 * docs/runbooks.md; its description says what the alarm means and links the section.
 */
import type { AlarmSeverity, PipelineConfig } from './config';
import { queueVisibilityTimeoutSeconds } from './config';

export type ComparisonOperator =
  'GreaterThanOrEqualToThreshold' | 'GreaterThanThreshold' | 'LessThanThreshold' | 'LessThanOrEqualToThreshold';

/** CloudWatch's four treatments, spelled as CloudFormation spells them. */
export type MissingDataTreatment = 'breaching' | 'notBreaching' | 'ignore' | 'missing';

export type AlarmState = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';

export type AlarmStatistic = 'Sum' | 'Maximum' | 'Average' | 'p99';

export type { AlarmSeverity } from './config';

export const ALARM_IDS = [
  'missed-events',
  'dlq-not-empty',
  'queue-oldest-message-age',
  'apply-lag',
  'ingest-5xx',
  'api-5xx',
  'publisher-dlq-not-empty',
  'not-configured',
  'ingest-signature-failures',
  'ingest-latency-p99',
  'ingest-throttles',
  'processor-errors',
  'processor-throttles',
  'publisher-errors',
  'reconciler-errors',
  'reconciler-heartbeat-missing',
  'api-throttling',
] as const;
export type AlarmId = (typeof ALARM_IDS)[number];

export interface AlarmRule {
  readonly id: AlarmId;
  /** Short human title; also the dashboard label. */
  readonly title: string;
  /** page: loss or delay now, notify the pager topic; ticket: the ticket topic. */
  readonly severity: AlarmSeverity;
  /** The runbook section's anchor (`<a id="...">` in docs/runbooks.md). */
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

/** Where the runbooks live in the repository; the anchors are explicit HTML anchors. */
export const RUNBOOK_DOCUMENT = 'docs/runbooks.md';

/**
 * The runbook link of a rule: `<alarms.runbookBaseUrl>#<anchor>` when the base is configured (a
 * full URL that opens from a pager), else the path in the repository.
 */
export function runbookLink(rule: Pick<AlarmRule, 'anchor'>, runbookBaseUrl?: string): string {
  return `${runbookBaseUrl ?? RUNBOOK_DOCUMENT}#${rule.anchor}`;
}

/** The alarm's description: cause, severity, then the runbook link. CloudWatch allows 1024 characters. */
export function alarmDescription(rule: AlarmRule, runbookBaseUrl?: string): string {
  return `${rule.cause} Severity: ${rule.severity}. Runbook: ${runbookLink(rule, runbookBaseUrl)}`;
}

/** The alarm's name: `<prefix>-<id>`, readable in a pager and in the CloudWatch console. */
export function alarmName(prefix: string, rule: Pick<AlarmRule, 'id'>): string {
  return `${prefix}-${rule.id}`;
}

/**
 * p99 of `ApplyLag` (ms from the ingest's enqueue to the change applied) above which state is
 * called stale. Healthy lag is the batching window plus one batch (about 1-2 s); one failed batch
 * returns after a visibility timeout (180 s by default), so single retries push a quiet minute's
 * p99 over any threshold below that: three consecutive minutes are required. A minute is 20x the
 * healthy lag and longer than LiveKit's own worst delivery delay (~49 s), so an app that waits
 * that long for state has lost more than any webhook retry could cost.
 */
export const APPLY_LAG_P99_THRESHOLD_MS = 60_000;

/** LiveKit Cloud gives up on a webhook after about 3 s; page well before. */
export const INGEST_LATENCY_P99_THRESHOLD_MS = 1000;

type RuleConfig = Pick<PipelineConfig, 'alarms' | 'reconcile' | 'queue' | 'processing'>;

/** A rule before its id becomes its anchor. */
type RuleSpec = Omit<AlarmRule, 'anchor'>;

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
  const specs: RuleSpec[] = [
    // ---- page: events are being lost or delayed now ----
    {
      id: 'missed-events',
      title: 'Missed events beyond the normal trickle',
      severity: 'page',
      cause:
        `The reconciler found at least ${config.alarms.missedEventsThreshold} event(s) LiveKit never delivered in ${config.alarms.missedEventsDatapointsToAlarm} of the last ` +
        `${config.alarms.missedEventsEvaluationPeriods} runs, more than the trickle LiveKit always drops, and repaired them through the queue. ` +
        'State was wrong until each repair: list them with npm run missed, or the dashboard widget "Missed events (repaired)".',
      statistic: 'Sum',
      periodSeconds: reconcilePeriod,
      threshold: config.alarms.missedEventsThreshold,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: config.alarms.missedEventsEvaluationPeriods,
      datapointsToAlarm: config.alarms.missedEventsDatapointsToAlarm,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'dlq-not-empty',
      title: 'DLQ not empty',
      severity: 'page',
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
      severity: 'page',
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
      id: 'apply-lag',
      title: 'State lags behind LiveKit',
      severity: 'page',
      cause:
        `p99 of the time from enqueue to state change (ApplyLag) is above ${APPLY_LAG_P99_THRESHOLD_MS / 1000} s for 3 minutes: the processor retries, ` +
        'is throttled or slow, so apps read stale rooms and participants. Nothing is lost yet.',
      statistic: 'p99',
      periodSeconds: 60,
      threshold: APPLY_LAG_P99_THRESHOLD_MS,
      comparison: 'GreaterThanThreshold',
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'ingest-5xx',
      title: 'Ingest could not store events (503)',
      severity: 'page',
      cause:
        'The ingest function answered 503 to LiveKit because SQS did not take the event in time or the LiveKit keys secret could not be read. ' +
        'LiveKit retries a few times, then abandons the event. An empty secret is "not configured" and not counted here.',
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 3,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'api-5xx',
      title: 'API Gateway 5xx',
      severity: 'page',
      cause:
        'The webhook API answered 5xx: the ingest function crashed, timed out, was throttled, or could not store events. The 503s of a ' +
        'not-configured stack (empty keys secret) are subtracted. LiveKit retries a few times, then abandons the event.',
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 5,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'publisher-dlq-not-empty',
      title: 'Publisher DLQ not empty',
      severity: 'page',
      cause:
        'A batch of state changes could not be published to the event bus after every retry: the publisher dead-letter queue holds where it is ' +
        "in the table's stream, which keeps it 24 hours. Consumers of the bus have not seen those changes; state itself is correct. " +
        'Fix the cause, then npm run publisher:redrive.',
      statistic: 'Maximum',
      periodSeconds: 60,
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: 'notBreaching',
    },
    // ---- ticket: look during working hours ----
    {
      id: 'not-configured',
      title: 'LiveKit keys not configured',
      severity: 'ticket',
      cause:
        'The LiveKit API keys secret holds no key pair: the ingest answers 503 (LiveKit retries) and the reconciler waits. Expected right after ' +
        'the first deploy; put {"<apiKey>": "<apiSecret>"} into the secret (stack output LiveKitKeysSecretArn).',
      statistic: 'Sum',
      periodSeconds: reconcilePeriod,
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'ingest-signature-failures',
      title: 'Signature failures that lose events (401)',
      severity: 'ticket',
      cause:
        'Ingest refused signed requests (401) for an unknown API key, a body hash mismatch or an invalid/expired token. LiveKit does not retry a ' +
        "401: if these are LiveKit's events (a key missing from the secret, a proxy rewriting bodies, clock skew) they are lost. Probing (no or malformed token) is not counted.",
      statistic: 'Sum',
      periodSeconds: 300,
      threshold: 3,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'ingest-latency-p99',
      title: 'Ingest p99 latency',
      severity: 'ticket',
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
      id: 'ingest-throttles',
      title: 'Ingest throttled',
      severity: 'ticket',
      cause:
        "Lambda throttled the ingest function: its reserved concurrency (ingest.reservedConcurrency) or the account's limit is exhausted. " +
        'Throttled requests get a 5xx and LiveKit retries them; sustained, the API 5xx alarm pages. Raise the limit.',
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 5,
      datapointsToAlarm: 2,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'processor-errors',
      title: 'Processor errors',
      severity: 'ticket',
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
      severity: 'ticket',
      cause:
        "Lambda throttled the process function: the account's (or a reserved) concurrency limit is exhausted. Events wait in the queue; " +
        'state lags and, if it lasts, the lag and queue age alarms follow.',
      statistic: 'Sum',
      periodSeconds: 60,
      threshold: 1,
      comparison: 'GreaterThanOrEqualToThreshold',
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: 'notBreaching',
    },
    {
      id: 'publisher-errors',
      title: 'Publisher errors',
      severity: 'ticket',
      cause:
        'The publisher function failed invocations, or the event bus refused changes (PublishFailures: a failed PutEvents, access denied, ' +
        'throttling): state changes reach the event bus late (they are retried) and, if they keep failing, land in the publisher DLQ. ' +
        'State itself is correct.',
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
      severity: 'ticket',
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
      severity: 'ticket',
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
      id: 'api-throttling',
      title: 'API Gateway throttling (429)',
      severity: 'ticket',
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
  const rules: AlarmRule[] = specs.map((spec) => ({ ...spec, anchor: `runbook-${spec.id}` }));
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
  if (!Number.isInteger(rule.evaluationPeriods) || rule.evaluationPeriods < 1)
    problems.push('evaluationPeriods must be a positive integer');
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
export function periodDatapoints(
  rule: Pick<AlarmRule, 'statistic' | 'periodSeconds' | 'evaluationPeriods'>,
  samples: readonly Sample[],
  now: number,
): Array<number | undefined> {
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
