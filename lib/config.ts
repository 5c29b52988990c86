/**
 * The pipeline's one configuration object. `bin/` builds it (from CDK context, `-c` flags or the
 * local runtime's environment) with `parseConfig`, and passes it down as props; nothing below `bin/`
 * reads the environment. The local runtime uses the same object, so local and deployed behave alike.
 */

import { KNOWN_EVENT_TYPES, RECORD_ONLY_EVENT_TYPES } from '../lambda/process/state-model';
import { reconcileTimings } from '../lambda/reconcile/limits';

export type RemovalPolicyName = 'retain' | 'destroy';

/**
 * The Lambda system log levels (Lambda's advanced logging controls), most detailed first. Each
 * sends the platform events of its level and the levels after it:
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
 */
export const SYSTEM_LOG_LEVELS = ['DEBUG', 'INFO', 'WARN'] as const;
export type SystemLogLevelName = (typeof SYSTEM_LOG_LEVELS)[number];

/**
 * Every webhook event type LiveKit sends (livekit/protocol `webhook/events.go`; the `agent_job_*`
 * pair only from LiveKit Cloud). The values `livekit.webhookEvents` accepts.
 */
export const LIVEKIT_WEBHOOK_EVENT_TYPES = [...KNOWN_EVENT_TYPES, ...RECORD_ONLY_EVENT_TYPES] as const;

export interface LiveKitConfig {
  /** LiveKit server URL the reconciler calls (`https://my-project.livekit.cloud`). */
  readonly url: string;
  /**
   * Name or ARN of an existing Secrets Manager secret holding `{"<apiKey>": "<apiSecret>", ...}`.
   * When absent the stack creates an empty secret (`{}`) that you fill in after deploying.
   * @default - a secret holding `{}` is created
   */
  readonly existingSecretName?: string;
  /**
   * ARN of the customer managed KMS key that encrypts `existingSecretName`, if it is not Secrets
   * Manager's AWS managed key: ingest and the reconciler are then granted `kms:Decrypt` on it
   * (through Secrets Manager only). Without it, they could not read such a secret.
   * @default - the secret uses the AWS managed key `aws/secretsmanager`
   */
  readonly existingSecretKeyArn?: string;
  /**
   * The API key (of the pairs in the secret) the reconciler signs server API calls with. Default:
   * the first pair in the secret. Name it during a rotation, so calls do not use a revoked key.
   * @default - the first pair in the secret
   */
  readonly apiKey?: string;
  /**
   * `true` when an `http://` or `ws://` `url` on another host is on purpose (a private network you
   * trust): silences the cleartext warning (`livekit-webhook-pipeline:cleartextLiveKitUrl`) of
   * `cdk synth` (so `--strict` passes) and of `npm run local`. In your own CDK app,
   * `Annotations.of(pipeline).acknowledgeWarning(CLEARTEXT_LIVEKIT_URL_WARNING, '<why>')` does the same.
   * @default false
   */
  readonly acknowledgeCleartextUrl?: boolean;
  /**
   * The event types the LiveKit project sends to this pipeline: mirror the project's webhook
   * filter (LiveKit Cloud's webhook settings, or `webhook.filter_params` in an open-source server's
   * config). The reconciler repairs and counts as missed only these types: an event the project
   * excludes was never sent, so its absence is no miss. Default: every type.
   * With `-c`: a comma-separated list (`-c livekit.webhookEvents=room_started,room_finished`).
   * @default - every type (LIVEKIT_WEBHOOK_EVENT_TYPES)
   */
  readonly webhookEvents: readonly string[];
}

export interface IngestConfig {
  /** Steady-state requests per second the HTTP API stage accepts. @default 500 */
  readonly throttleRateLimit: number;
  /** Burst the HTTP API stage accepts. @default 1000 */
  readonly throttleBurstLimit: number;
  /**
   * Largest webhook body accepted, in bytes. A body whose SQS message would exceed 1 MiB is stored
   * in the claim-check bucket. The default, 2.5 MiB, admits every genuine event under
   * open-source LiveKit's default limits: a `participant_joined` carries room and participant
   * metadata (512 KiB each) and attributes (64 KiB), all of which JSON escaping can double when
   * they hold JSON themselves (2.125 MiB), with 384 KiB left for the rest of the event. The
   * maximum, 3,000,000, keeps the API Gateway event that carries the body JSON-escaped (at most
   * about double) inside Lambda's 6 MiB synchronous payload. A genuine event above it is
   * answered 503 (LiveKit retries, then abandons it; the reconciler repairs the state), never 4xx.
   * @default 2621440
   */
  readonly maxBodyBytes: number;
  /** Clock skew tolerated on the JWT's `exp`/`nbf`, in seconds. @default 30 */
  readonly clockToleranceSeconds: number;
  /** How long the key set read from Secrets Manager is trusted before it is read again. @default 300 */
  readonly keyCacheSeconds: number;
  /**
   * Concurrent executions reserved for (and capping) the ingest function; 0 leaves it unreserved.
   * A flood on the public URL then cannot take the account's concurrency from the processor
   * and the reconciler. The account must keep 100 unreserved, so this needs a concurrency
   * quota of at least this + 100 (set 0 on a new account with a low quota).
   * @default 100
   */
  readonly reservedConcurrency: number;
}

export interface QueueConfig {
  /** Deliveries before a message moves to the DLQ. @default 5 */
  readonly maxReceiveCount: number;
  /** How long the queue keeps an unprocessed event, in days. @default 4 */
  readonly retentionDays: number;
  /** How long the DLQ keeps an event, in days (SQS maximum: 14). @default 14 */
  readonly dlqRetentionDays: number;
}

export interface ProcessingConfig {
  /**
   * Records per processor invocation (SQS event source). Default 10: the most Lambda takes from a
   * standard queue without a batching window.
   * @default 10
   */
  readonly batchSize: number;
  /**
   * Seconds Lambda may wait to fill a batch. Default 0: invoke as soon as messages arrive, so an
   * event is applied within tens of milliseconds instead of after a 1 s window. AWS requires at
   * least 1 for a batchSize above 10. The cost of 0: at low traffic, an invocation per few events
   * (see docs/state-model.md, "Cost and lag").
   * @default 0
   */
  readonly maxBatchingWindowSeconds: number;
  /** Upper bound on concurrent processor invocations (SQS event source maximum concurrency, >= 2). @default 10 */
  readonly maxConcurrency: number;
  /** @default 30 */
  readonly timeoutSeconds: number;
  /**
   * Days tombstones (ended entities) and records of unknown or rejected events are kept. Must
   * exceed queue + DLQ retention, so no redelivery can outlive the tombstone that refuses it.
   * @default 30
   */
  readonly eventRecordTtlDays: number;
}

export interface ReconcileConfig {
  /** @default 1 */
  readonly intervalMinutes: number;
  /** A difference must persist this long before it is called a missed event (LiveKit can take ~30 s + retries). @default 55 */
  readonly graceSeconds: number;
  /** LiveKit server API requests one run may make. @default 200 */
  readonly requestBudgetPerRun: number;
  /** Parallel LiveKit API calls. @default 8 */
  readonly concurrency: number;
  /**
   * The window of the coverage metric: the share of active rooms whose participants were fully
   * checked within it. Each run spends its request budget on rooms, suspects first, then
   * round-robin (least recently verified first), so coverage follows rooms / budget.
   * @default 30
   */
  readonly fullCheckMinutes: number;
}

/** The two severities an alarm can have; each notifies its own SNS topic. */
export type AlarmSeverity = 'page' | 'ticket';

export interface AlarmConfig {
  /** Optional email subscribed to each alarm topic the stack creates (not to topics brought in by ARN). @default - no subscription */
  readonly email?: string;
  /** Missed events per reconcile run (the alarm period) that breach. @default 3 */
  readonly missedEventsThreshold: number;
  /** N: reconcile runs evaluated. @default 3 */
  readonly missedEventsEvaluationPeriods: number;
  /** M: how many of those N runs must breach before it pages. @default 3 (or N when N is below 3) */
  readonly missedEventsDatapointsToAlarm: number;
  /** Prefix of every alarm name (`<prefix>-missed-events`). Default: the stack name. @default - the stack name */
  readonly namePrefix?: string;
  /** An existing SNS topic (PagerDuty, Opsgenie, Chatbot...) for page-severity alarms. Default: the stack creates one. @default - a topic is created */
  readonly pageTopicArn?: string;
  /** An existing SNS topic for ticket-severity alarms. Default: the stack creates one. @default - a topic is created */
  readonly ticketTopicArn?: string;
  /**
   * Where docs/runbooks.md is published (`https://github.com/acme/livekit-webhooks/blob/main/docs/runbooks.md`);
   * every alarm description then ends with `<base>#<anchor>`, a link that opens from a pager.
   * @default - the path docs/runbooks.md
   */
  readonly runbookBaseUrl?: string;
}

export interface PipelineConfig {
  readonly livekit: LiveKitConfig;
  readonly ingest: IngestConfig;
  readonly queue: QueueConfig;
  readonly processing: ProcessingConfig;
  readonly reconcile: ReconcileConfig;
  readonly alarms: AlarmConfig;
  readonly logRetentionDays: number;
  /**
   * The system log level (Lambda's own platform events: start, report, init...) of the ingest,
   * process and publish functions. `WARN` (default) sends no START/END/REPORT for a successful
   * invocation: at one invocation of each per webhook, those lines are the largest share of the
   * CloudWatch Logs bill. Lambda's own metrics (Duration, Errors, Throttles) are unaffected. Set
   * `INFO` for a while when the per-invocation report (max memory used, init duration) is needed
   * (docs/runbooks.md). The reconciler never sends less than `INFO` (one run a minute: its report
   * costs next to nothing and shows each run's duration and memory).
   * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
   * @default 'WARN'
   */
  readonly systemLogLevel: SystemLogLevelName;
  /**
   * What happens to the pipeline's stateful resources (table, queues, bucket, secret, key, log
   * groups) when the stack is deleted: `retain` keeps them (and the table has deletion protection),
   * `destroy` deletes them (docs/configuration.md says which is which).
   */
  readonly removalPolicy: RemovalPolicyName;
}

/** The stack name of the example app (bin/app.ts) when `stackName` is not set. */
export const DEFAULT_STACK_NAME = 'LiveKitWebhooks';

/**
 * What the example app (bin/app.ts) reads from context: the pipeline's config and the name of the
 * stack it deploys. The name is not part of `PipelineConfig`: the construct lives in whatever
 * stack its app gives it.
 */
export interface AppConfig {
  /** The CloudFormation stack name. @default DEFAULT_STACK_NAME */
  readonly stackName: string;
  readonly config: PipelineConfig;
}

/**
 * `ingest.maxBodyBytes`'s default, 2.5 MiB: the largest genuine event under open-source LiveKit's
 * default limits (livekit/livekit `pkg/config/config.go`: `MaxMetadataSize` 512 KiB for room and
 * for participant metadata, `MaxAttributesSize` 64 KiB) is a `participant_joined` carrying both
 * metadata and the attributes (livekit/livekit `pkg/rtc/room.go`). protojson escapes `"` and `\`,
 * so metadata that is itself JSON with escaped strings can double: 2 x (512 + 512 + 64) KiB =
 * 2.125 MiB, and 384 KiB remain for names, identities, tracks and the envelope.
 */
export const MAX_BODY_BYTES_DEFAULT = 2_621_440;

/**
 * `ingest.maxBodyBytes`'s largest allowed value. Lambda refuses a synchronous invocation whose
 * payload exceeds 6 MiB (6,291,456 bytes), and API Gateway puts the body in that payload as a
 * JSON string: every `"` and `\` escaped, so at most about twice the body (base64, for a body
 * API Gateway encodes, is 4/3). 2 x 3,000,000 leaves 291,456 bytes for headers and the request context.
 */
export const MAX_BODY_BYTES_LIMIT = 3_000_000;

export const DEFAULT_CONFIG: PipelineConfig = {
  livekit: { url: 'http://localhost:7880', webhookEvents: LIVEKIT_WEBHOOK_EVENT_TYPES },
  ingest: {
    throttleRateLimit: 500,
    throttleBurstLimit: 1000,
    maxBodyBytes: MAX_BODY_BYTES_DEFAULT,
    clockToleranceSeconds: 30,
    keyCacheSeconds: 300,
    // Ingest holds a request for milliseconds (about 20 ms: verify, one SendMessage), so the
    // stage's 500 requests/s need about 10 concurrent executions; 100 leaves 10x headroom for a
    // slow SQS (200 ms per send at 500/s) and leaves 900 of the default 1,000 to the rest.
    reservedConcurrency: 100,
  },
  queue: { maxReceiveCount: 5, retentionDays: 4, dlqRetentionDays: 14 },
  processing: {
    batchSize: 10,
    maxBatchingWindowSeconds: 0,
    maxConcurrency: 10,
    timeoutSeconds: 30,
    eventRecordTtlDays: 30,
  },
  // Grace 55 s: longer than LiveKit Cloud's worst delivery window (30 s in its queue, then 4 attempts
  // x 3 s + 7 s of backoff = 49 s) and shorter than the 1-minute interval, so a dropped event is
  // repaired on its second sighting, within two intervals.
  reconcile: { intervalMinutes: 1, graceSeconds: 55, requestBudgetPerRun: 200, concurrency: 8, fullCheckMinutes: 30 },
  // Chosen from measured false-page and detection figures: docs/runbooks.md#runbook-missed-events
  // (scripts/measure-missed-alarm.ts reproduces them).
  alarms: { missedEventsThreshold: 3, missedEventsEvaluationPeriods: 3, missedEventsDatapointsToAlarm: 3 },
  logRetentionDays: 30,
  systemLogLevel: 'WARN',
  removalPolicy: 'retain',
};

/** CloudWatch Logs accepts only these retention periods. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid pipeline configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Deeply partial input, as it comes from CDK context or JSON. Values may be strings (`-c a=1`). */
export type ConfigInput = { readonly [key: string]: unknown };

export interface ParseOptions {
  /**
   * Refuse a config without `livekit.url` (deploying: the reconciler must not call the localhost
   * default forever). `npm run local` keeps the default.
   */
  readonly requireLiveKitUrl?: boolean;
}

/** The problem reported when a deploy has no LiveKit URL: one line saying what to set. */
export const LIVEKIT_URL_REQUIRED =
  '"livekit.url" is required to deploy: the LiveKit server URL the reconciler calls, e.g. -c livekit.url=https://my-project.livekit.cloud';

/**
 * Merges `input` over the defaults and validates every field. Throws a `ConfigError` listing every
 * problem at once, each naming the context key to fix, so one synth attempt shows them all.
 * `stackName`, the example app's setting, is checked too (`parseAppConfig` returns it).
 */
export function parseConfig(input: ConfigInput = {}, options: ParseOptions = {}): PipelineConfig {
  return parseAppConfig(input, options).config;
}

/**
 * `parseConfig`, plus the example app's own setting, `stackName`: what bin/app.ts deploys. The
 * problems of both are listed in one `ConfigError`.
 */
export function parseAppConfig(input: ConfigInput = {}, options: ParseOptions = {}): AppConfig {
  const problems: string[] = [...((input as ContextInput)[CONTEXT_PROBLEMS] ?? [])];
  for (const key of Object.keys(input)) {
    if (!TOP_LEVEL.includes(key) && !isSection(key)) problems.push(unknownSettingProblem(key));
  }
  const section = (name: Section): Record<string, unknown> => {
    const value = input[name];
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.push(`"${name}" must be an object`);
      return {};
    }
    for (const key of Object.keys(value)) {
      if (!settingsOf(name).includes(key)) problems.push(unknownSettingProblem(`${name}.${key}`));
    }
    return value as Record<string, unknown>;
  };

  const int = (path: string, raw: unknown, fallback: number, min: number, max: number): number => {
    if (raw === undefined) return fallback;
    const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      problems.push(`"${path}" must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return n;
  };
  const optionalString = (path: string, raw: unknown, pattern: RegExp, hint: string): string | undefined => {
    if (raw === undefined || raw === '') return undefined;
    if (typeof raw !== 'string' || !pattern.test(raw)) {
      problems.push(`"${path}" ${hint}, got ${JSON.stringify(raw)}`);
      return undefined;
    }
    return raw;
  };

  const lk = section('livekit');
  const givenUrl = optionalString('livekit.url', lk.url, /^(https?|wss?):\/\/[^\s/]+/, 'must be an http(s) or ws(s) URL');
  if (options.requireLiveKitUrl && (lk.url === undefined || lk.url === '')) problems.push(LIVEKIT_URL_REQUIRED);
  const url = givenUrl ?? DEFAULT_CONFIG.livekit.url;
  const existingSecretName = optionalString(
    'livekit.existingSecretName',
    lk.existingSecretName,
    /^(arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:)?[\w/+=.@-]{1,512}$/,
    'must be a Secrets Manager secret name or ARN',
  );

  const existingSecretKeyArn = optionalString(
    'livekit.existingSecretKeyArn',
    lk.existingSecretKeyArn,
    /^arn:aws[\w-]*:kms:[\w-]+:\d{12}:key\/[\w-]{1,128}$/,
    'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>; not an alias)',
  );
  if (existingSecretKeyArn && !existingSecretName) {
    problems.push('"livekit.existingSecretKeyArn" is the key of "livekit.existingSecretName": set that too, or neither');
  }

  const apiKey = optionalString('livekit.apiKey', lk.apiKey, /^[\w-]{1,128}$/, 'must be a LiveKit API key (letters, digits, - and _)');
  // A boolean, or its text from `-c livekit.acknowledgeCleartextUrl=true`.
  let acknowledgeCleartextUrl = false;
  const ack = lk.acknowledgeCleartextUrl;
  if (ack === true || ack === 'true') acknowledgeCleartextUrl = true;
  else if (ack !== undefined && ack !== false && ack !== 'false') {
    problems.push(`"livekit.acknowledgeCleartextUrl" must be true or false, got ${JSON.stringify(ack)}`);
  }
  const webhookEvents = eventTypeList('livekit.webhookEvents', lk.webhookEvents, problems) ?? DEFAULT_CONFIG.livekit.webhookEvents;

  const ig = section('ingest');
  const d = DEFAULT_CONFIG;
  const ingest: IngestConfig = {
    throttleRateLimit: int('ingest.throttleRateLimit', ig.throttleRateLimit, d.ingest.throttleRateLimit, 1, 100_000),
    throttleBurstLimit: int('ingest.throttleBurstLimit', ig.throttleBurstLimit, d.ingest.throttleBurstLimit, 1, 100_000),
    // Above it, the API Gateway event (the body JSON-escaped, up to about double) could exceed
    // Lambda's 6 MiB synchronous payload: see MAX_BODY_BYTES_LIMIT.
    maxBodyBytes: int('ingest.maxBodyBytes', ig.maxBodyBytes, d.ingest.maxBodyBytes, 1024, MAX_BODY_BYTES_LIMIT),
    clockToleranceSeconds: int('ingest.clockToleranceSeconds', ig.clockToleranceSeconds, d.ingest.clockToleranceSeconds, 0, 300),
    keyCacheSeconds: int('ingest.keyCacheSeconds', ig.keyCacheSeconds, d.ingest.keyCacheSeconds, 10, 3600),
    reservedConcurrency: int('ingest.reservedConcurrency', ig.reservedConcurrency, d.ingest.reservedConcurrency, 0, 10_000),
  };

  const q = section('queue');
  const queue: QueueConfig = {
    maxReceiveCount: int('queue.maxReceiveCount', q.maxReceiveCount, d.queue.maxReceiveCount, 1, 1000),
    retentionDays: int('queue.retentionDays', q.retentionDays, d.queue.retentionDays, 1, 14),
    dlqRetentionDays: int('queue.dlqRetentionDays', q.dlqRetentionDays, d.queue.dlqRetentionDays, 1, 14),
  };

  const p = section('processing');
  const processing: ProcessingConfig = {
    batchSize: int('processing.batchSize', p.batchSize, d.processing.batchSize, 1, 10_000),
    maxBatchingWindowSeconds: int(
      'processing.maxBatchingWindowSeconds',
      p.maxBatchingWindowSeconds,
      d.processing.maxBatchingWindowSeconds,
      0,
      300,
    ),
    maxConcurrency: int('processing.maxConcurrency', p.maxConcurrency, d.processing.maxConcurrency, 2, 1000),
    timeoutSeconds: int('processing.timeoutSeconds', p.timeoutSeconds, d.processing.timeoutSeconds, 3, 900),
    eventRecordTtlDays: int('processing.eventRecordTtlDays', p.eventRecordTtlDays, d.processing.eventRecordTtlDays, 1, 3650),
  };

  const r = section('reconcile');
  const reconcile: ReconcileConfig = {
    intervalMinutes: int('reconcile.intervalMinutes', r.intervalMinutes, d.reconcile.intervalMinutes, 1, 60),
    graceSeconds: int('reconcile.graceSeconds', r.graceSeconds, d.reconcile.graceSeconds, 0, 3600),
    requestBudgetPerRun: int('reconcile.requestBudgetPerRun', r.requestBudgetPerRun, d.reconcile.requestBudgetPerRun, 3, 100_000),
    concurrency: int('reconcile.concurrency', r.concurrency, d.reconcile.concurrency, 1, 64),
    fullCheckMinutes: int('reconcile.fullCheckMinutes', r.fullCheckMinutes, d.reconcile.fullCheckMinutes, 1, 1440),
  };

  const a = section('alarms');
  const alarms: AlarmConfig = {
    email: optionalString('alarms.email', a.email, /^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'must be an email address'),
    missedEventsThreshold: int('alarms.missedEventsThreshold', a.missedEventsThreshold, d.alarms.missedEventsThreshold, 1, 1_000_000),
    missedEventsEvaluationPeriods: int(
      'alarms.missedEventsEvaluationPeriods',
      a.missedEventsEvaluationPeriods,
      d.alarms.missedEventsEvaluationPeriods,
      1,
      100,
    ),
    missedEventsDatapointsToAlarm: d.alarms.missedEventsDatapointsToAlarm,
  };
  // M defaults to the default M, or to N when N is set below it (M of N must hold).
  const datapoints = int(
    'alarms.missedEventsDatapointsToAlarm',
    a.missedEventsDatapointsToAlarm,
    Math.min(d.alarms.missedEventsDatapointsToAlarm, alarms.missedEventsEvaluationPeriods),
    1,
    100,
  );
  if (datapoints > alarms.missedEventsEvaluationPeriods) {
    problems.push(
      `"alarms.missedEventsDatapointsToAlarm" (${datapoints}) must not exceed "alarms.missedEventsEvaluationPeriods" (${alarms.missedEventsEvaluationPeriods})`,
    );
  }
  const namePrefix = optionalString(
    'alarms.namePrefix',
    a.namePrefix,
    /^[A-Za-z0-9][\w.-]{0,99}$/,
    'must be 1-100 letters, digits, "-", "_" or "."',
  );
  const topicArn = /^arn:aws[\w-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/;
  const pageTopicArn = optionalString(
    'alarms.pageTopicArn',
    a.pageTopicArn,
    topicArn,
    'must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)',
  );
  const ticketTopicArn = optionalString(
    'alarms.ticketTopicArn',
    a.ticketTopicArn,
    topicArn,
    'must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)',
  );
  const runbookBaseUrl = optionalString(
    'alarms.runbookBaseUrl',
    a.runbookBaseUrl,
    /^https?:\/\/[^\s#]+$/,
    'must be an http(s) URL without a #fragment (the anchor is appended)',
  );
  const alarmsConfig: AlarmConfig = {
    ...alarms,
    missedEventsDatapointsToAlarm: datapoints,
    ...(namePrefix ? { namePrefix } : {}),
    ...(pageTopicArn ? { pageTopicArn } : {}),
    ...(ticketTopicArn ? { ticketTopicArn } : {}),
    ...(runbookBaseUrl ? { runbookBaseUrl } : {}),
  };

  const logRetentionDays = int('logRetentionDays', input.logRetentionDays, d.logRetentionDays, 1, 3653);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    problems.push(`"logRetentionDays" must be one of ${LOG_RETENTION_DAYS.join(', ')}, got ${logRetentionDays}`);
  }
  let systemLogLevel: SystemLogLevelName = d.systemLogLevel;
  if (input.systemLogLevel !== undefined) {
    const known: readonly unknown[] = SYSTEM_LOG_LEVELS;
    if (known.includes(input.systemLogLevel)) systemLogLevel = input.systemLogLevel as SystemLogLevelName;
    else problems.push(`"systemLogLevel" must be one of ${SYSTEM_LOG_LEVELS.join(', ')}, got ${JSON.stringify(input.systemLogLevel)}`);
  }
  let removalPolicy: RemovalPolicyName = d.removalPolicy;
  if (input.removalPolicy !== undefined) {
    if (input.removalPolicy === 'retain' || input.removalPolicy === 'destroy') removalPolicy = input.removalPolicy;
    else problems.push(`"removalPolicy" must be "retain" or "destroy", got ${JSON.stringify(input.removalPolicy)}`);
  }
  // CloudFormation's own rule for a stack name; an empty one (`-c stackName=` from an unset shell
  // variable) is refused rather than read as "the default": it could deploy over another stack.
  let stackName = DEFAULT_STACK_NAME;
  if (input.stackName !== undefined) {
    if (typeof input.stackName === 'string' && /^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(input.stackName)) stackName = input.stackName;
    else {
      problems.push(
        `"stackName" must be a CloudFormation stack name: 1-128 letters, digits and "-", starting with a letter, got ${JSON.stringify(input.stackName)}`,
      );
    }
  }

  problems.push(...crossFieldProblems({ ingest, queue, processing, reconcile, alarms: alarmsConfig }));

  if (problems.length > 0) throw new ConfigError(problems);
  const config: PipelineConfig = {
    livekit: {
      url,
      webhookEvents,
      ...(existingSecretName ? { existingSecretName } : {}),
      ...(existingSecretKeyArn ? { existingSecretKeyArn } : {}),
      ...(apiKey ? { apiKey } : {}),
      ...(acknowledgeCleartextUrl ? { acknowledgeCleartextUrl } : {}),
    },
    ingest,
    queue,
    processing,
    reconcile,
    alarms: alarmsConfig,
    logRetentionDays,
    systemLogLevel,
    removalPolicy,
  };
  return { stackName, config };
}

const OPTIONAL_KEYS: Partial<Record<keyof PipelineConfig, readonly string[]>> = {
  livekit: ['existingSecretName', 'existingSecretKeyArn', 'apiKey', 'acknowledgeCleartextUrl'],
  alarms: ['email', 'namePrefix', 'pageTopicArn', 'ticketTopicArn', 'runbookBaseUrl'],
};

/**
 * `livekit.webhookEvents`: a list of event types (an array, or a comma-separated string as `-c`
 * gives it), each one LiveKit sends, at least one, none twice. Every problem goes to `problems`.
 */
function eventTypeList(path: string, raw: unknown, problems: string[]): readonly string[] | undefined {
  if (raw === undefined) return undefined;
  const list =
    typeof raw === 'string'
      ? raw
          .split(',')
          .map((type) => type.trim())
          .filter((type) => type !== '')
      : raw;
  if (!Array.isArray(list) || list.some((type) => typeof type !== 'string')) {
    problems.push(`"${path}" must be a list of webhook event types (or a comma-separated string), got ${JSON.stringify(raw)}`);
    return undefined;
  }
  const known: readonly string[] = LIVEKIT_WEBHOOK_EVENT_TYPES;
  let ok = true;
  if (list.length === 0) {
    problems.push(`"${path}" must name at least one event type (known: ${known.join(', ')})`);
    ok = false;
  }
  for (const type of list as string[]) {
    if (!known.includes(type)) {
      problems.push(`"${path}" names an unknown event type ${JSON.stringify(type)} (known: ${known.join(', ')})`);
      ok = false;
    }
  }
  const duplicates = (list as string[]).filter((type, i) => list.indexOf(type) !== i);
  if (duplicates.length > 0) {
    problems.push(`"${path}" names ${[...new Set(duplicates)].map((t) => JSON.stringify(t)).join(', ')} more than once`);
    ok = false;
  }
  return ok ? [...(list as string[])] : undefined;
}

/** A setting that is valid but risky: the construct shows it as a synth-time warning (`cdk synth` prints it). */
export interface ConfigWarning {
  /** Stable id: `Annotations.of(pipeline).acknowledgeWarning(id, reason)` silences it. */
  readonly id: string;
  readonly message: string;
}

/** The warning id of a LiveKit URL without TLS on a host other than this machine. */
export const CLEARTEXT_LIVEKIT_URL_WARNING = 'livekit-webhook-pipeline:cleartextLiveKitUrl';

/**
 * What is valid but risky in a config, one warning each. Refused would be wrong: a self-hosted
 * LiveKit reached over a private network may be served without TLS on purpose.
 */
export function configWarnings(config: Pick<PipelineConfig, 'livekit'>): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const url = config.livekit.url;
  if (/^(http|ws):/.test(url) && !isLoopbackUrl(url) && !config.livekit.acknowledgeCleartextUrl) {
    warnings.push({
      id: CLEARTEXT_LIVEKIT_URL_WARNING,
      message:
        `The LiveKit URL ${url} is not TLS: every reconcile run sends LiveKit server API tokens over it in cleartext ` +
        '(signed with your API secret, valid 10 minutes, with roomList, roomAdmin, roomRecord and ingressAdmin grants), ' +
        'which anyone on the network path can replay against your LiveKit. Use https:// (or wss://), unless the path ' +
        'to LiveKit is a private network you trust; then set livekit.acknowledgeCleartextUrl to true (docs/configuration.md).',
    });
  }
  return warnings;
}

/** True when `url`'s host is this machine (`localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`): cleartext there never leaves it. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return false;
  }
  return host === 'localhost' || host.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(host) || host === '[::1]';
}

/**
 * The rules between settings, in one place: `parseConfig` lists them with every other problem, and
 * each construct checks its own slice with the same function when it is built on its own.
 */
export function crossFieldProblems(config: Pick<PipelineConfig, 'ingest' | 'queue' | 'processing' | 'reconcile' | 'alarms'>): string[] {
  return [
    ...ingestProblems(config.ingest),
    ...queueProblems(config.queue, config.processing),
    ...processingProblems(config.processing, config.queue),
    ...reconcileProblems(config.reconcile),
    ...alarmProblems(config.alarms, config.reconcile),
  ];
}

/** The ingest stage's rules between settings. */
export function ingestProblems(ingest: IngestConfig): string[] {
  const problems: string[] = [];
  if (ingest.throttleBurstLimit < ingest.throttleRateLimit) {
    problems.push(
      `ingest.throttleBurstLimit (${ingest.throttleBurstLimit}) must be at least ingest.throttleRateLimit (${ingest.throttleRateLimit})`,
    );
  }
  return problems;
}

/** The event queue's rules between settings (its own, and its redrive against the processor's timeout). */
export function queueProblems(queue: QueueConfig, processing: ProcessingConfig): string[] {
  const problems: string[] = [];
  // SQS keeps a message's original enqueue time when it moves to the DLQ, so a shorter DLQ
  // retention could expire a message the moment it arrives there.
  if (queue.dlqRetentionDays < queue.retentionDays) {
    problems.push(`queue.dlqRetentionDays (${queue.dlqRetentionDays}) must be at least queue.retentionDays (${queue.retentionDays})`);
  }
  // An event that keeps failing moves to the DLQ (and pages, dlq-not-empty) only at its
  // maxReceiveCount-th receive, each one visibility timeout after the last at the soonest; the
  // queue-oldest-message-age alarm waits as long (its threshold is this product). SQS deletes
  // the event at the queue's retention wherever it is in that count: past it, a failing event
  // vanishes unpaged. Half the retention, not all of it, because:
  // - the product is a lower bound: receives space out further while the processor is throttled
  //   or its event source backs off after errors;
  // - whoever is paged then still has at least the other half (12 hours at the shortest
  //   retention, 1 day) before the events behind it expire from the queue, and, the DLQ keeping
  //   each message's first enqueue time and at least the queue's retention (above), as long to
  //   redrive the dead-lettered one.
  const toDeadLetterSeconds = queue.maxReceiveCount * queueVisibilityTimeoutSeconds(processing);
  const retentionSeconds = queue.retentionDays * 86_400;
  if (toDeadLetterSeconds > retentionSeconds / 2) {
    problems.push(
      `queue.maxReceiveCount (${queue.maxReceiveCount}) x the queue's visibility timeout (${queueVisibilityTimeoutSeconds(processing)} s, ` +
        `6 x processing.timeoutSeconds + processing.maxBatchingWindowSeconds) is ${toDeadLetterSeconds} s, more than half of ` +
        `queue.retentionDays (${queue.retentionDays} days = ${retentionSeconds} s): a failing event could expire before it reaches the DLQ, unpaged`,
    );
  }
  return problems;
}

/** The processing stage's rules between settings (its own, and against the queue's retention). */
export function processingProblems(processing: ProcessingConfig, queue: QueueConfig): string[] {
  const problems: string[] = [];
  if (processing.batchSize > 10 && processing.maxBatchingWindowSeconds < 1) {
    problems.push('"processing.batchSize" above 10 needs "processing.maxBatchingWindowSeconds" of at least 1 (an SQS event source rule)');
  }
  // Tombstones must outlive every redelivery of their event, or a late event would bring an ended
  // entity back after its tombstone expired.
  if (processing.eventRecordTtlDays <= queue.retentionDays + queue.dlqRetentionDays) {
    problems.push(
      `processing.eventRecordTtlDays (${processing.eventRecordTtlDays}) must exceed queue.retentionDays + queue.dlqRetentionDays (${queue.retentionDays + queue.dlqRetentionDays})`,
    );
  }
  return problems;
}

/** The reconciler's rules between settings. */
export function reconcileProblems(reconcile: ReconcileConfig): string[] {
  const problems: string[] = [];
  const { timeBudgetMs } = reconcileTimings(reconcile.intervalMinutes);
  if (timeBudgetMs < 10_000) {
    problems.push(
      `reconcile.intervalMinutes (${reconcile.intervalMinutes}) leaves a time budget of ${timeBudgetMs} ms after the SDK's worst case; at least 10 s is needed`,
    );
  }
  if (reconcile.requestBudgetPerRun < 3) {
    problems.push(
      `reconcile.requestBudgetPerRun (${reconcile.requestBudgetPerRun}) must be at least 3 (ListRooms, ListEgress and one ListParticipants)`,
    );
  }
  if (reconcile.concurrency < 1) problems.push(`reconcile.concurrency (${reconcile.concurrency}) must be at least 1`);
  return problems;
}

/** The alarms' rules between settings: what CloudWatch would refuse, said by the settings that cause it. */
export function alarmProblems(alarms: AlarmConfig, reconcile: ReconcileConfig): string[] {
  const problems: string[] = [];
  // missed-events evaluates N reconcile runs, a period of one interval each, and CloudWatch
  // evaluates an alarm over at most one day (alarm-rules.ts, validateRule). The other rules on
  // the reconcile period evaluate 3 periods: 3 x 60 minutes at most, always within it.
  const minutes = alarms.missedEventsEvaluationPeriods * reconcile.intervalMinutes;
  if (minutes > 1440) {
    problems.push(
      `alarms.missedEventsEvaluationPeriods (${alarms.missedEventsEvaluationPeriods}) x reconcile.intervalMinutes (${reconcile.intervalMinutes}) ` +
        `is ${minutes} minutes: CloudWatch evaluates an alarm over at most one day (1440 minutes)`,
    );
  }
  return problems;
}

/**
 * SQS requires the visibility timeout to be at least the function timeout; AWS recommends six
 * times it, plus the batching window, so a batch retried by Lambda is not redelivered meanwhile.
 */
export function queueVisibilityTimeoutSeconds(processing: ProcessingConfig): number {
  return processing.timeoutSeconds * 6 + processing.maxBatchingWindowSeconds;
}

const SECTIONS = ['livekit', 'ingest', 'queue', 'processing', 'reconcile', 'alarms'] as const;
type Section = (typeof SECTIONS)[number];
/** The settings outside any section; `stackName` is the example app's (`AppConfig`). */
const TOP_LEVEL: readonly string[] = ['logRetentionDays', 'systemLogLevel', 'removalPolicy', 'stackName'];

function isSection(name: string): name is Section {
  return (SECTIONS as readonly string[]).includes(name);
}

/** A section's settings as they are spelled: those with a default, then the optional ones. */
function settingsOf(section: Section): readonly string[] {
  return [...Object.keys(DEFAULT_CONFIG[section]), ...(OPTIONAL_KEYS[section] ?? [])];
}

/** Every setting by its context name: `queue.maxReceiveCount`, ..., `removalPolicy`. */
function settingPaths(): string[] {
  return [...SECTIONS.flatMap((section) => settingsOf(section).map((field) => `${section}.${field}`)), ...TOP_LEVEL];
}

/**
 * Problems found reading CDK context, carried on the input so that `parseConfig` lists them with
 * every other problem (a symbol: no JSON key can collide with it).
 */
const CONTEXT_PROBLEMS = Symbol('context problems');
type ContextInput = ConfigInput & { readonly [CONTEXT_PROBLEMS]?: readonly string[] };

/**
 * Config input from CDK context (or the local runtime's equivalent): the whole config as one JSON
 * object under `config` (a string from `-c config='{...}'`, or an object in cdk.json), then any
 * single setting by its dotted path (`-c ingest.maxBodyBytes=32768`), which wins.
 *
 * Context also holds keys that are not ours (CDK's feature flags `@aws-cdk/...`, the CLI's
 * `aws:cdk:...`, lookups cached as `<provider>:account=...`, `acknowledged-issue-numbers`): those
 * are left alone. A key that is clearly meant as a setting but is none (`meantSetting`) is a
 * problem, never dropped: a misspelt `alarms.pageTopicArn` would leave pages going nowhere.
 */
export function configInputFromContext(context: Readonly<Record<string, unknown>>): ConfigInput {
  const raw = context.config;
  let input: Record<string, unknown> = {};
  if (typeof raw === 'string') {
    try {
      input = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      throw new ConfigError([`context "config" must be a JSON object, got ${raw.slice(0, 80)}`]);
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new ConfigError([`context "config" must be a JSON object, got ${raw.slice(0, 80)}`]);
    }
  } else if (raw && typeof raw === 'object') {
    input = structuredClone(raw) as Record<string, unknown>;
  }
  const problems: string[] = [];
  for (const [key, value] of Object.entries(context)) {
    if (key === 'config') continue;
    const [section, field, ...rest] = key.split('.');
    if (rest.length === 0 && field !== undefined && isSection(section)) {
      // A field the section does not have is reported by parseConfig, with its suggestion.
      input[section] = { ...(input[section] as Record<string, unknown> | undefined), [field]: value };
    } else if (TOP_LEVEL.includes(key)) {
      input[key] = value;
    } else {
      const meant = meantSetting(key);
      if (meant?.section !== undefined && meant.field === undefined) problems.push(sectionKeyProblem(key, meant.section, value));
      else if (meant !== undefined) problems.push(unknownSettingProblem(key));
    }
  }
  return problems.length > 0 ? Object.assign(input, { [CONTEXT_PROBLEMS]: problems }) : input;
}

/** A context key naming a section, not a setting: `"alarms": {...}` in cdk.json, `-c alarm=...`. */
function sectionKeyProblem(key: string, section: Section, value: unknown): string {
  const given = value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.keys(value) : [];
  const examples = (given.length > 0 ? given : settingsOf(section).slice(0, 1)).map((field) => `"${section}.${field}"`);
  const names = key === section ? 'names a section' : `names a section ("${section}")`;
  return `context "${key}" ${names}, not a setting: give each setting by its dotted name (${examples.join(', ')}), or the whole section under "config"`;
}

/** "unknown setting", saying which setting was probably meant, or else which there are. */
function unknownSettingProblem(name: string): string {
  if (name.includes('.') && settingPaths().includes(name)) {
    // A dotted name is a context key; inside the JSON of "config" settings are nested.
    const [section, field] = name.split('.');
    return `unknown setting "${name}" in "config": nest it, {"${section}":{"${field}":...}}`;
  }
  const meant = meantSetting(name);
  if (meant?.suggestion !== undefined) return `unknown setting "${name}"; did you mean "${meant.suggestion}"?`;
  if (meant?.section !== undefined)
    return `unknown setting "${name}" (the settings of "${meant.section}": ${settingsOf(meant.section).join(', ')})`;
  return `unknown setting "${name}" (known: ${[...SECTIONS, ...TOP_LEVEL].join(', ')})`;
}

/** What a name that is not a setting was meant as; `field` is set when it names more than a section. */
interface MeantSetting {
  readonly suggestion?: string;
  readonly section?: Section;
  readonly field?: string;
}

/**
 * Whether `name` (a context key, or a key in the JSON config) is clearly meant as one of our
 * settings, and which, checked in this order (docs/configuration.md, "Setting a value"):
 * 1. it contains `:` or starts with `@`: CDK's namespaces, never ours (undefined);
 * 2. it is a setting path, a section or `config` up to case and punctuation, or a typo of one
 *    (`removalpolicy`, `logRetentionDay`, `alarm.email`): that one;
 * 3. its first dotted part is a section or a top-level setting, up to case, a typo, or one the
 *    start of the other (`alarm`, `queues`, `reconciler`, `process`, `logRetention`): that
 *    section's setting the rest resembles, if exactly one does (`ingest.throttle.rate` means
 *    `ingest.throttleRateLimit`), or that top-level setting;
 * 4. it is `config.<more>`: what `<more>` is meant as.
 * Anything else is someone else's key (undefined).
 */
function meantSetting(name: string): MeantSetting | undefined {
  if (name.includes(':') || name.startsWith('@')) return undefined;
  const candidates = [...settingPaths(), ...SECTIONS, 'config'].filter((candidate) => candidate !== name);
  const distances = candidates.map((candidate) => ({ candidate, distance: editDistance(fold(name), fold(candidate)) }));
  const nearest = Math.min(...distances.map(({ distance }) => distance));
  const closest = distances.filter(({ distance, candidate }) => distance === nearest && distance <= typoBound(candidate));
  if (closest.length === 1) {
    const suggestion = closest[0].candidate;
    const [section, field] = suggestion.split('.');
    return isSection(section) ? { suggestion, section, field } : { suggestion, field: suggestion };
  }

  const [first, ...parts] = name.split('.');
  const rest = parts.join('.');
  const section = SECTIONS.find((s) => resembles(first, s, 5));
  if (section !== undefined) {
    if (rest === '') return { section, ...(section !== name ? { suggestion: section } : {}) };
    const fields = settingsOf(section).filter((f) => resembles(rest, f, 4));
    const exact = fields.filter((f) => fold(f) === fold(rest));
    const field = exact.length === 1 ? exact[0] : fields.length === 1 ? fields[0] : undefined;
    return { section, field: field ?? rest, ...(field !== undefined ? { suggestion: `${section}.${field}` } : {}) };
  }
  const topLevel = TOP_LEVEL.find((t) => resembles(first, t, 5));
  if (topLevel !== undefined) return { suggestion: topLevel, field: topLevel };
  if (first.toLowerCase() === 'config' && rest !== '') {
    const inner = meantSetting(rest);
    return { field: rest, ...(inner?.suggestion !== undefined ? { suggestion: inner.suggestion } : {}) };
  }
  return undefined;
}

/** Case and punctuation tell no two settings apart: `Throttle.Rate` and `throttle_rate` read as `throttlerate`. */
function fold(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** How many single-character edits still read as a typo of `name`: one under 10 characters, two from 10. */
function typoBound(name: string): number {
  return name.length < 10 ? 1 : 2;
}

/** `given` reads as `name`: equal up to case and punctuation, a typo of it, or one starts the other (the shorter at least `minStart` long). */
function resembles(given: string, name: string, minStart: number): boolean {
  const [a, b] = [fold(given), fold(name)];
  const [shorter, longer] = a.length <= b.length ? [a, b] : [b, a];
  return a === b || (shorter.length >= minStart && longer.startsWith(shorter)) || editDistance(a, b) <= typoBound(name);
}

/** Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`: the optimal string alignment distance. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
