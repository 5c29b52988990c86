/**
 * The pipeline's custom CloudWatch metrics: one namespace, one name per concept, shared by the
 * functions that emit them, the alarms and dashboard that read them, and the local runtime that
 * shows them. Emitted as CloudWatch Embedded Metric Format (EMF) log lines: no API call on the
 * hot path, and the metric arrives with the log line that explains it.
 */
import { METRIC_NAMESPACE, MetricName, PIPELINE_DIMENSION } from '../../contracts/metrics';

// The names are a contract of their own (contracts/metrics.ts); re-exported for the emitters.
export { METRIC, METRIC_NAMESPACE, PIPELINE_DIMENSION } from '../../contracts/metrics';
export type { MetricName } from '../../contracts/metrics';

export type MetricUnit = 'Count' | 'Milliseconds' | 'Percent' | 'None';

export interface MetricDatum {
  readonly name: MetricName;
  readonly value: number;
  readonly unit?: MetricUnit;
  /**
   * At most one dimension per datum keeps the alarm and dashboard math simple. Not `Pipeline`:
   * the EMF sink adds it to every datum.
   */
  readonly dimensions?: Readonly<Record<string, string>>;
}

/**
 * One EMF document per dimension set. CloudWatch turns each into metrics; the fields also stay
 * searchable in Logs Insights. Every set starts with `Pipeline` (the pipeline's name): a datum
 * without dimensions is the pipeline's total (`[["Pipeline"]]`), one with `EventType` is
 * `[["Pipeline", "EventType"]]`. `extra` adds context fields (never secrets).
 */
export function emfLines(
  pipeline: string,
  data: readonly MetricDatum[],
  extra: Record<string, unknown> = {},
  timestamp = Date.now(),
): string[] {
  const groups = new Map<string, MetricDatum[]>();
  for (const datum of data) {
    const key = JSON.stringify(Object.entries(datum.dimensions ?? {}).sort());
    groups.set(key, [...(groups.get(key) ?? []), datum]);
  }
  return [...groups.values()].map((group) => {
    const dimensions = { ...group[0].dimensions, [PIPELINE_DIMENSION]: pipeline };
    const document: Record<string, unknown> = {
      ...extra,
      ...dimensions,
      _aws: {
        Timestamp: timestamp,
        CloudWatchMetrics: [
          {
            Namespace: METRIC_NAMESPACE,
            Dimensions: [[PIPELINE_DIMENSION, ...Object.keys(group[0].dimensions ?? {})]],
            Metrics: group.map((datum) => ({ Name: datum.name, Unit: datum.unit ?? 'Count' })),
          },
        ],
      },
    };
    for (const datum of group) document[datum.name] = datum.value;
    return JSON.stringify(document);
  });
}

/** Where metrics go: stdout as EMF in Lambda; the local runtime keeps them in memory too. */
export interface MetricsSink {
  put(data: readonly MetricDatum[], extra?: Record<string, unknown>): void;
}

/** EMF lines on stdout, each metric under the `Pipeline` dimension of `pipeline` (the function's PIPELINE_NAME). */
export class EmfMetricsSink implements MetricsSink {
  constructor(
    private readonly pipeline: string,
    private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {}
  put(data: readonly MetricDatum[], extra: Record<string, unknown> = {}): void {
    for (const line of emfLines(this.pipeline, data, extra)) this.write(line);
  }
}

/**
 * Keeps every datum, with its time; for the local runtime's status page and tests. One pipeline
 * per sink, so no `Pipeline` dimension here.
 */
export class MemoryMetricsSink implements MetricsSink {
  readonly data: Array<MetricDatum & { readonly timestamp: number }> = [];
  constructor(private readonly now: () => number = Date.now) {}
  put(data: readonly MetricDatum[]): void {
    for (const datum of data) this.data.push({ ...datum, timestamp: this.now() });
  }
  /** Sum of `name` (optionally with exactly these dimensions) since `since`. */
  sum(name: MetricName, since = 0, dimensions?: Readonly<Record<string, string>>): number {
    return this.data
      .filter(
        (d) =>
          d.name === name &&
          d.timestamp >= since &&
          (dimensions === undefined || JSON.stringify(d.dimensions ?? {}) === JSON.stringify(dimensions)),
      )
      .reduce((total, d) => total + d.value, 0);
  }
}
