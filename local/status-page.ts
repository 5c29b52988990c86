/**
 * `GET /status` on the local front door: what the deployed dashboard and alarms show, for
 * `npm run local`. Queue and DLQ depth come from the SQS emulator; the reconciler's metrics from
 * the in-memory sink it writes to; alarm states from `evaluateAlarm` over the very rule objects the
 * CloudWatch alarms are built from (lib/alarm-rules.ts), so "would page" means the same here.
 */
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AlarmId, alarmRules, AlarmRule, AlarmState, evaluateAlarm, periodDatapoints, RUNBOOK_DOCUMENT, Sample } from '../lib/alarm-rules';
import type { PipelineConfig } from '../lib/config';
import { METRIC, MemoryMetricsSink, MetricName } from '../lambda/shared/metrics';
import type { LocalRoute } from './front-door';

export const STATUS_PATH = '/status';

export interface StatusSource {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly config: PipelineConfig;
  /** Where the local stages put their metrics (the reconciler's run metrics). */
  readonly metrics: MemoryMetricsSink;
  /**
   * Whether a reconciler runs. Without one the heartbeat alarm is not evaluated, as the deployed
   * stack creates it only with a reconcile function. Default true.
   */
  readonly reconcilerEnabled?: boolean;
  readonly now?: () => number;
}

export interface QueueDepth {
  /** ApproximateNumberOfMessages: waiting to be received. */
  readonly visible: number;
  /** ApproximateNumberOfMessagesNotVisible: received, being processed (or about to come back). */
  readonly inFlight: number;
}

export interface AlarmStatus {
  readonly state: AlarmState;
  readonly title: string;
  /** The statistic per evaluated period, oldest first (null: no datapoint). */
  readonly datapoints: ReadonlyArray<number | null>;
  readonly rule: Pick<AlarmRule, 'statistic' | 'periodSeconds' | 'threshold' | 'comparison' | 'evaluationPeriods' | 'datapointsToAlarm' | 'treatMissingData'>;
  readonly runbook: string;
}

export interface LocalStatus {
  readonly time: string;
  readonly queue: QueueDepth;
  readonly dlq: QueueDepth;
  readonly reconcile: {
    /** All missed events found since start, and by event type. */
    readonly missedEventsTotal: number;
    readonly missedEventsByType: Readonly<Record<string, number>>;
    readonly repairsSent: number;
    readonly runs: number;
    /** The last run's metrics, by name (dimensionless ones), with its time. */
    readonly lastRun?: { readonly at: string } & Readonly<Record<string, number | string>>;
  };
  /** The alarms that can be evaluated locally (those on metrics the local runtime has). */
  readonly alarms: Partial<Record<AlarmId, AlarmStatus>>;
}

async function depth(sqs: SQSClient, queueUrl: string): Promise<QueueDepth> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(Attributes.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

/** Samples of a metric without dimensions (the totals the alarms read). */
function totals(metrics: MemoryMetricsSink, name: MetricName): Sample[] {
  return metrics.data.filter((d) => d.name === name && Object.keys(d.dimensions ?? {}).length === 0).map(({ value, timestamp }) => ({ value, timestamp }));
}

export async function readStatus(source: StatusSource): Promise<LocalStatus> {
  const now = (source.now ?? Date.now)();
  const rules = alarmRules(source.config);
  const [queue, dlq] = await Promise.all([depth(source.sqs, source.queueUrl), depth(source.sqs, source.dlqUrl)]);

  const alarms: Partial<Record<AlarmId, AlarmStatus>> = {};
  const evaluate = (id: AlarmId, samples: Sample[]) => {
    const rule = rules[id];
    const datapoints = periodDatapoints(rule, samples, now);
    const { statistic, periodSeconds, threshold, comparison, evaluationPeriods, datapointsToAlarm, treatMissingData } = rule;
    alarms[id] = {
      state: evaluateAlarm(rule, datapoints),
      title: rule.title,
      datapoints: datapoints.map((value) => value ?? null),
      rule: { statistic, periodSeconds, threshold, comparison, evaluationPeriods, datapointsToAlarm, treatMissingData },
      runbook: `${RUNBOOK_DOCUMENT}#${rule.anchor}`,
    };
  };
  evaluate('missed-events', totals(source.metrics, METRIC.missedEvents));
  // SQS reports the DLQ depth every minute; locally it is read now, one datapoint in the current period.
  evaluate('dlq-not-empty', [{ value: dlq.visible, timestamp: now }]);
  if (source.reconcilerEnabled !== false) evaluate('reconciler-heartbeat-missing', totals(source.metrics, METRIC.heartbeat));

  const missedByType: Record<string, number> = {};
  for (const datum of source.metrics.data) {
    const type = datum.name === METRIC.missedEvents ? datum.dimensions?.EventType : undefined;
    if (type !== undefined) missedByType[type] = (missedByType[type] ?? 0) + datum.value;
  }
  const runDurations = totals(source.metrics, METRIC.runDuration);
  const lastAt = runDurations.length > 0 ? runDurations[runDurations.length - 1].timestamp : undefined;
  const lastRun =
    lastAt === undefined
      ? undefined
      : {
          at: new Date(lastAt).toISOString(),
          ...Object.fromEntries(
            // One run's metrics are put together; the sink stamps each datum, so allow for the clock ticking meanwhile.
            source.metrics.data.filter((d) => Math.abs(d.timestamp - lastAt) <= 1000 && Object.keys(d.dimensions ?? {}).length === 0).map((d) => [d.name, d.value]),
          ),
        };

  return {
    time: new Date(now).toISOString(),
    queue,
    dlq,
    reconcile: {
      missedEventsTotal: source.metrics.sum(METRIC.missedEvents, 0, {}),
      missedEventsByType: missedByType,
      repairsSent: source.metrics.sum(METRIC.repairsSent, 0, {}),
      runs: runDurations.length,
      ...(lastRun ? { lastRun } : {}),
    },
    alarms,
  };
}

/** One line for a terminal: depths, missed events, and any alarm not OK. */
export function statusSummaryLine(status: LocalStatus): string {
  const firing = Object.entries(status.alarms)
    .filter(([, alarm]) => alarm!.state === 'ALARM')
    .map(([id]) => id);
  return (
    `queue ${status.queue.visible}+${status.queue.inFlight} in flight, DLQ ${status.dlq.visible}, ` +
    `missed events ${status.reconcile.missedEventsTotal} (repaired ${status.reconcile.repairsSent}), ` +
    `alarms: ${firing.length === 0 ? 'none firing' : firing.join(', ')}`
  );
}

/**
 * The front door route. `source` may be a function, for callers that mount the route before the
 * queues exist (it is read on each request).
 */
export function createStatusRoute(source: StatusSource | (() => StatusSource)): LocalRoute {
  return async () => {
    const status = await readStatus(typeof source === 'function' ? source() : source);
    return { statusCode: 200, contentType: 'application/json', body: JSON.stringify(status, null, 2) };
  };
}
