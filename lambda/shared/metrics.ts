/**
 * The pipeline's custom CloudWatch metrics: one namespace, one name per concept, shared by the
 * functions that emit them, the alarms and dashboard that read them, and the local runtime that
 * shows them. Emitted as CloudWatch Embedded Metric Format (EMF) log lines: no API call on the
 * hot path, and the metric arrives with the log line that explains it.
 */
export const METRIC_NAMESPACE = 'LiveKitWebhooks';

export const METRIC = {
  // ingest
  /**
   * Requests refused (401) for a signature failure that means a lost event: an unknown key, a body
   * hash mismatch, an invalid (expired, forged) token. Dimension: none. Counted from the ingest log.
   */
  signatureFailures: 'SignatureFailures',
  /** Requests refused (401) with no or a malformed token: internet probing, not LiveKit. Counted from the ingest log. */
  signatureProbes: 'SignatureProbes',
  /** Events accepted and enqueued (200). */
  eventsEnqueued: 'EventsEnqueued',
  /** Events we could not store (503). */
  enqueueFailures: 'EnqueueFailures',
  /** Requests the HTTP API stage refused with 429 (its throttling); counted from the access log by a metric filter. */
  apiThrottledRequests: 'ApiThrottledRequests',
  // process
  /** Events applied to state, by outcome. */
  eventsProcessed: 'EventsProcessed',
  /** State changes published to the bus. */
  changesPublished: 'ChangesPublished',
  /** Events that can never apply (invalid, out of range): recorded once with their reason, not retried. */
  eventsRejected: 'EventsRejected',
  /** Queue message `receivedAt` (ingest accepted it) to applied, ms; per batch, the largest. */
  applyLag: 'ApplyLag',
  /** LiveKit's `createdAt` to applied, ms (second resolution); per batch, the largest. */
  eventAge: 'EventAge',
  // publish
  /** Changes the bus refused (FailedEntryCount) or a failed PutEvents call; retried from the stream. */
  publishFailures: 'PublishFailures',
  /** Table write (stream record) to change accepted by the bus, ms; per batch, the largest. */
  publishLag: 'PublishLag',
  // reconcile
  /** Events LiveKit never delivered, found by the reconciler. Dimension `EventType`, and a total without dimension. */
  missedEvents: 'MissedEvents',
  /** Synthesized repair events sent to the queue. */
  repairsSent: 'RepairsSent',
  roomsChecked: 'RoomsChecked',
  participantsChecked: 'ParticipantsChecked',
  egressesChecked: 'EgressesChecked',
  liveKitApiCalls: 'LiveKitApiCalls',
  liveKitApiErrors: 'LiveKitApiErrors',
  /** Share (0-100) of active rooms fully verified within the coverage window. */
  roomCoverage: 'RoomCoveragePercent',
  runDuration: 'ReconcileRunDuration',
  /** 1 per successful reconcile run; its absence pages. */
  heartbeat: 'ReconcileHeartbeat',
  /** 1 per reconcile run that found no LiveKit key pair in the keys secret (`{}`): it waits, and is healthy. Dimension: none. */
  notConfigured: 'NotConfigured',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
export type MetricUnit = 'Count' | 'Milliseconds' | 'Percent' | 'None';

export interface MetricDatum {
  readonly name: MetricName;
  readonly value: number;
  readonly unit?: MetricUnit;
  /** At most one dimension per datum keeps the alarm and dashboard math simple. */
  readonly dimensions?: Readonly<Record<string, string>>;
}

/**
 * One EMF document per dimension set. CloudWatch turns each into metrics; the fields also stay
 * searchable in Logs Insights. `extra` adds context fields (never secrets).
 */
export function emfLines(data: readonly MetricDatum[], extra: Record<string, unknown> = {}, timestamp = Date.now()): string[] {
  const groups = new Map<string, MetricDatum[]>();
  for (const datum of data) {
    const key = JSON.stringify(Object.entries(datum.dimensions ?? {}).sort());
    groups.set(key, [...(groups.get(key) ?? []), datum]);
  }
  return [...groups.values()].map((group) => {
    const dimensions = group[0].dimensions ?? {};
    const document: Record<string, unknown> = {
      ...extra,
      ...dimensions,
      _aws: {
        Timestamp: timestamp,
        CloudWatchMetrics: [
          {
            Namespace: METRIC_NAMESPACE,
            Dimensions: [Object.keys(dimensions)],
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

export class EmfMetricsSink implements MetricsSink {
  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(line + '\n')) {}
  put(data: readonly MetricDatum[], extra: Record<string, unknown> = {}): void {
    for (const line of emfLines(data, extra)) this.write(line);
  }
}

/** Keeps every datum, with its time; for the local runtime's status page and tests. */
export class MemoryMetricsSink implements MetricsSink {
  readonly data: Array<MetricDatum & { readonly timestamp: number }> = [];
  constructor(private readonly now: () => number = Date.now) {}
  put(data: readonly MetricDatum[]): void {
    for (const datum of data) this.data.push({ ...datum, timestamp: this.now() });
  }
  /** Sum of `name` (optionally with exactly these dimensions) since `since`. */
  sum(name: MetricName, since = 0, dimensions?: Readonly<Record<string, string>>): number {
    return this.data
      .filter((d) => d.name === name && d.timestamp >= since && (dimensions === undefined || JSON.stringify(d.dimensions ?? {}) === JSON.stringify(dimensions)))
      .reduce((total, d) => total + d.value, 0);
  }
}
