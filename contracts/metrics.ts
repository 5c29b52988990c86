/**
 * The pipeline's custom CloudWatch metrics: one namespace, one name per concept, shared by the
 * functions that emit them (lambda/shared/metrics.ts), the alarms and dashboard that read them
 * (lib/monitoring.ts), and the local runtime that shows them. Names only: no SDK or CDK import.
 *
 * Every metric carries the `Pipeline` dimension (PIPELINE_DIMENSION): the namespace is shared by
 * every pipeline of an account and region (a staging and a prod stack, two constructs in one
 * stack), and an alarm that read the metric without it would page for another pipeline's events.
 * Where a metric is "total" below, it has `Pipeline` only; "per `EventType`" adds that dimension.
 */
export const METRIC_NAMESPACE = 'LiveKitWebhooks';

/**
 * The dimension naming the pipeline a metric belongs to. Its value is the pipeline's name: its
 * alarm name prefix (`alarms.namePrefix`, default the stack name), unique per account and region
 * as alarm names are.
 */
export const PIPELINE_DIMENSION = 'Pipeline';

/** The functions' environment variable holding the pipeline's name (the `Pipeline` dimension's value). */
export const PIPELINE_NAME_ENV = 'PIPELINE_NAME';

/**
 * The field of every log line holding the pipeline's name: the log metric filters take the
 * `Pipeline` dimension from it (a filter's dimension can only be a field of the line).
 */
export const PIPELINE_LOG_FIELD = 'pipeline';

export const METRIC = {
  // ingest
  /**
   * Requests refused (401) for a signature failure that means a lost event: an unknown key, a body
   * hash mismatch, an invalid (expired, forged) token. Total. Counted from the ingest log.
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
  /** Events LiveKit never delivered, found by the reconciler. A total, and one per `EventType`. */
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
  /** 1 per successful reconcile run; its absence for three intervals opens a ticket (reconciler-heartbeat-missing). */
  heartbeat: 'ReconcileHeartbeat',
  /**
   * A stack waiting for its LiveKit key pair (the keys secret holds `{}`): 1 per ingest 503
   * `keys_not_configured` (a metric filter on its log line) and 1 per reconcile run that waited
   * (EMF). Healthy while it lasts; `api-5xx` subtracts it. Total.
   */
  notConfigured: 'NotConfigured',
  /**
   * Ingest 503s for a key id the last key set read lacks, while the keys secret cannot be read
   * again (a key added since, or a forgery): LiveKit retries. Not a failure to store an event:
   * `api-5xx` subtracts it, and no alarm watches it. Total.
   */
  unknownKeyRetries: 'UnknownKeyRetries',
} as const;

export type MetricName = (typeof METRIC)[keyof typeof METRIC];
