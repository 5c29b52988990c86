/**
 * `GET /status` on the local front door: what the deployed dashboard and alarms show, for
 * `npm run local`. Queue and DLQ depth come from the SQS emulator; the reconciler's metrics from
 * the in-memory sink it writes to; alarm states from `evaluateAlarm` over the very rule objects the
 * CloudWatch alarms are built from (lib/alarm-rules.ts), so "would page" means the same here.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  AlarmId,
  alarmRules,
  AlarmRule,
  AlarmSeverity,
  AlarmState,
  evaluateAlarm,
  periodDatapoints,
  runbookLink,
  Sample,
} from '../lib/alarm-rules';
import type { PipelineConfig } from '../lib/config';
import { METRIC, MetricName } from '../contracts/metrics';
import { MemoryMetricsSink } from '../lambda/shared/metrics';
import { QueueDepth, queueDepth } from '../scripts/oncall/queue-depth';
import type { LocalRoute } from './front-door';

export { queueDepth };
export type { QueueDepth };

export const STATUS_PATH = '/status';

export interface StatusSource {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  /** The publisher's DLQ (its on-failure destination), when the runtime has a publisher. */
  readonly publisherDlqUrl?: string;
  readonly config: PipelineConfig;
  /** Where the local stages put their metrics (the reconciler's run metrics). */
  readonly metrics: MemoryMetricsSink;
  /**
   * Whether a reconciler runs. Without one the heartbeat alarm is not evaluated, as the deployed
   * stack creates it only with a reconcile function. Default true.
   */
  readonly reconcilerEnabled?: boolean;
  /**
   * Whether the ingest has a key pair to verify webhooks with (false: the keys hold `{}`, every
   * webhook is answered 503). Optional: without it only the reconciler's `NotConfigured` metric
   * tells.
   */
  readonly liveKitKeysConfigured?: () => boolean;
  /** The LiveKit server the reconciler calls, named when its last run could reach none of it. */
  readonly liveKitUrl?: string;
  /**
   * How often the local reconciler runs (`RECONCILE_INTERVAL_SECONDS`), when not every
   * `reconcile.intervalMinutes`. A heartbeat period shorter than the runs' interval would find
   * periods with no run and call the heartbeat missing: the rule's period is stretched to it.
   */
  readonly reconcileIntervalMs?: number;
  /**
   * When the runtime started (ms). Periods before it are not "missing": nothing existed to report
   * in them. An alarm that treats missing data as breaching (the heartbeat) judges only the
   * datapoints it has until its whole window lies after the start: until then, no datapoint is
   * INSUFFICIENT_DATA (a new CloudWatch alarm's state), not ALARM. Without it, every period counts.
   */
  readonly startedAt?: number;
  readonly now?: () => number;
}

/**
 * `not configured`: the LiveKit keys hold no key pair (the ingest's keys, or the reconciler's last
 * run reported `NotConfigured`); `configured`: the last run, or the ingest, has keys; `unknown`:
 * no reconcile run yet and no word from the ingest.
 */
export type KeysState = 'configured' | 'not configured' | 'unknown';

export interface AlarmStatus {
  readonly state: AlarmState;
  readonly title: string;
  /** page or ticket: which topic it would notify when deployed. */
  readonly severity: AlarmSeverity;
  /** The statistic per evaluated period, oldest first (null: no datapoint). */
  readonly datapoints: ReadonlyArray<number | null>;
  readonly rule: Pick<
    AlarmRule,
    'statistic' | 'periodSeconds' | 'threshold' | 'comparison' | 'evaluationPeriods' | 'datapointsToAlarm' | 'treatMissingData'
  >;
  readonly runbook: string;
}

export interface LocalStatus {
  readonly time: string;
  /** Whether the pipeline has LiveKit keys; `not configured` is the quiet waiting state of a fresh deploy. */
  readonly liveKitKeys: KeysState;
  readonly queue: QueueDepth;
  readonly dlq: QueueDepth;
  /** The publisher DLQ: stream batches the publisher gave up on (`npm run publisher:redrive`). */
  readonly publisherDlq?: QueueDepth;
  readonly reconcile: {
    /** All missed events found since start, and by event type. */
    readonly missedEventsTotal: number;
    readonly missedEventsByType: Readonly<Record<string, number>>;
    readonly repairsSent: number;
    readonly runs: number;
    /** The last run's metrics, by name (dimensionless ones), with its time. */
    readonly lastRun?: { readonly at: string } & Readonly<Record<string, number | string>>;
    /** Set when every LiveKit API call of the last run failed: the URL it could not reach. */
    readonly liveKitUnreachable?: string;
  };
  /** The alarms that can be evaluated locally (those on metrics the local runtime has). */
  readonly alarms: Partial<Record<AlarmId, AlarmStatus>>;
}

/** Samples of a metric without dimensions (the totals the alarms read). */
function totals(metrics: MemoryMetricsSink, name: MetricName): Sample[] {
  return metrics.data
    .filter((d) => d.name === name && Object.keys(d.dimensions ?? {}).length === 0)
    .map(({ value, timestamp }) => ({ value, timestamp }));
}

export async function readStatus(source: StatusSource): Promise<LocalStatus> {
  const now = (source.now ?? Date.now)();
  const rules = { ...alarmRules(source.config) };
  const heartbeat = rules['reconciler-heartbeat-missing'];
  const runEverySeconds = source.reconcileIntervalMs === undefined ? 0 : Math.ceil(source.reconcileIntervalMs / 1000);
  if (runEverySeconds > heartbeat.periodSeconds) rules['reconciler-heartbeat-missing'] = { ...heartbeat, periodSeconds: runEverySeconds };
  const [queue, dlq, publisherDlq] = await Promise.all([
    queueDepth(source.sqs, source.queueUrl),
    queueDepth(source.sqs, source.dlqUrl),
    source.publisherDlqUrl === undefined ? undefined : queueDepth(source.sqs, source.publisherDlqUrl),
  ]);

  const alarms: Partial<Record<AlarmId, AlarmStatus>> = {};
  const evaluate = (id: AlarmId, samples: Sample[]) => {
    const rule = rules[id];
    const datapoints = periodDatapoints(rule, samples, now);
    const { statistic, periodSeconds, threshold, comparison, evaluationPeriods, datapointsToAlarm, treatMissingData } = rule;
    const windowBeforeStart = source.startedAt !== undefined && now - evaluationPeriods * periodSeconds * 1000 < source.startedAt;
    const judged = windowBeforeStart && treatMissingData === 'breaching' ? { ...rule, treatMissingData: 'missing' as const } : rule;
    alarms[id] = {
      state: evaluateAlarm(judged, datapoints),
      title: rule.title,
      severity: rule.severity,
      datapoints: datapoints.map((value) => value ?? null),
      rule: { statistic, periodSeconds, threshold, comparison, evaluationPeriods, datapointsToAlarm, treatMissingData },
      runbook: runbookLink(rule, source.config.alarms.runbookBaseUrl),
    };
  };
  evaluate('missed-events', totals(source.metrics, METRIC.missedEvents));
  // SQS reports the DLQ depth every minute; locally it is read now, one datapoint in the current period.
  // Visible and in flight, as the deployed alarm counts them (lib/monitoring.ts): a message a redrive
  // holds is still there until it is deleted.
  evaluate('dlq-not-empty', [{ value: dlq.visible + dlq.inFlight, timestamp: now }]);
  if (publisherDlq) evaluate('publisher-dlq-not-empty', [{ value: publisherDlq.visible + publisherDlq.inFlight, timestamp: now }]);
  if (source.reconcilerEnabled !== false) evaluate('reconciler-heartbeat-missing', totals(source.metrics, METRIC.heartbeat));
  const notConfigured = totals(source.metrics, METRIC.notConfigured);
  evaluate('not-configured', notConfigured);
  const liveKitKeys = keysState(source, notConfigured, totals(source.metrics, METRIC.heartbeat));

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
            source.metrics.data
              .filter((d) => Math.abs(d.timestamp - lastAt) <= 1000 && Object.keys(d.dimensions ?? {}).length === 0)
              .map((d) => [d.name, d.value]),
          ),
        };

  return {
    time: new Date(now).toISOString(),
    liveKitKeys,
    queue,
    dlq,
    ...(publisherDlq ? { publisherDlq } : {}),
    reconcile: {
      missedEventsTotal: source.metrics.sum(METRIC.missedEvents, 0, {}),
      missedEventsByType: missedByType,
      repairsSent: source.metrics.sum(METRIC.repairsSent, 0, {}),
      runs: runDurations.length,
      ...(lastRun ? { lastRun } : {}),
      ...(unreachable(lastRun) ? { liveKitUnreachable: source.liveKitUrl ?? source.config.livekit.url } : {}),
    },
    alarms,
  };
}

/** Every LiveKit API call of the run failed (refused connection, timeout, 5xx): LiveKit is not reachable. */
function unreachable(lastRun: Readonly<Record<string, number | string>> | undefined): boolean {
  const calls = Number(lastRun?.[METRIC.liveKitApiCalls] ?? 0);
  return calls > 0 && Number(lastRun?.[METRIC.liveKitApiErrors] ?? 0) >= calls;
}

/** Tolerance between the metrics of one reconcile run (the sink stamps each datum as it is put). */
const SAME_RUN_MS = 1000;

function keysState(source: StatusSource, notConfigured: readonly Sample[], heartbeats: readonly Sample[]): KeysState {
  if (source.liveKitKeysConfigured && !source.liveKitKeysConfigured()) return 'not configured';
  const lastNotConfigured = notConfigured.length > 0 ? notConfigured[notConfigured.length - 1].timestamp : undefined;
  const lastHeartbeat = heartbeats.length > 0 ? heartbeats[heartbeats.length - 1].timestamp : undefined;
  // A waiting run emits NotConfigured with its heartbeat; a configured run emits the heartbeat alone.
  if (lastNotConfigured !== undefined && (lastHeartbeat === undefined || lastNotConfigured >= lastHeartbeat - SAME_RUN_MS))
    return 'not configured';
  if (lastHeartbeat !== undefined || source.liveKitKeysConfigured) return 'configured';
  return 'unknown';
}

/** One line for a terminal: keys, depths, missed events, and any alarm not OK. */
export function statusSummaryLine(status: LocalStatus): string {
  const firing = Object.entries(status.alarms)
    .filter(([, alarm]) => alarm.state === 'ALARM')
    .map(([id, alarm]) => `${id} (${alarm.severity})`);
  return (
    (status.liveKitKeys === 'not configured' ? 'LiveKit keys not configured (waiting), ' : '') +
    (status.reconcile.liveKitUnreachable
      ? `LiveKit unreachable at ${status.reconcile.liveKitUnreachable} (every API call of the last run failed), `
      : '') +
    `queue ${status.queue.visible}+${status.queue.inFlight} in flight, DLQ ${status.dlq.visible}, ` +
    (status.publisherDlq ? `publisher DLQ ${status.publisherDlq.visible}, ` : '') +
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
