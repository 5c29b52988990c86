import { Annotations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CHANGE_DETAIL_TYPES, CHANGE_EVENT_SOURCE, ChangeDetailType } from '../contracts/change-event';
import { METRIC, MetricName } from '../contracts/metrics';
import { AlarmId, AlarmSeverity } from './alarm-rules';
import {
  AlarmConfig,
  ConfigError,
  ConfigInput,
  configWarnings,
  IngestConfig,
  parseConfig,
  PipelineConfig,
  ProcessingConfig,
  QueueConfig,
  ReconcileConfig,
  RemovalPolicyName,
  SystemLogLevelName,
} from './config';
import { ClaimChecks } from './claim-checks';
import { EventQueue } from './event-queue';
import { Ingest } from './ingest';
import { LiveKitKeys } from './livekit-keys';
import { Monitoring } from './monitoring';
import { pipelineNameOf } from './pipeline-name';
import { Processing } from './processing';
import { Reconciler } from './reconciler';

/** Alarm options: everything of `AlarmConfig`, each optional. Topics may also be passed as constructs (`alarmTopic`, `ticketTopic`). */
export type AlarmOptions = Partial<AlarmConfig>;

export interface LiveKitWebhookPipelineProps {
  /**
   * The LiveKit server URL the reconciler calls (`https://my-project.livekit.cloud`). Required:
   * a deployed reconciler must call the real LiveKit, never a localhost default.
   */
  readonly livekitUrl: string;
  /**
   * The API key (of the pairs in the keys secret) the reconciler signs server API calls with.
   * Name it during a rotation, so calls do not use a revoked key.
   * @default - the first pair in the secret
   */
  readonly livekitApiKey?: string;
  /**
   * The event types the LiveKit project sends (mirror its webhook filter). The reconciler repairs
   * and counts as missed only these types.
   * @default - every type LiveKit sends
   */
  readonly webhookEvents?: readonly string[];
  /**
   * An existing secret holding the LiveKit API key pairs, `{"<apiKey>": "<apiSecret>", ...}`.
   * Ingest and the reconciler are granted read on it.
   * @default - a secret holding `{}` is created; put your pairs in after deploying
   */
  readonly keysSecret?: secretsmanager.ISecret;
  /**
   * An existing EventBridge bus to publish the change feed to. The publisher is granted
   * `events:PutEvents` on it; the archive (for replay) is created on it.
   * @default - a bus is created
   */
  readonly eventBus?: events.IEventBus;
  /**
   * An existing SNS topic for the alarms that page (and, unless `ticketTopic` is given, for those
   * that open a ticket: one topic for every alarm). Its policy must let CloudWatch publish.
   * @default - `alarms.pageTopicArn`, else a topic is created (encrypted, CloudWatch-only policy)
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * An existing SNS topic for the alarms that open a ticket.
   * @default - `alarmTopic` when given, else `alarms.ticketTopicArn`, else a topic is created
   */
  readonly ticketTopic?: sns.ITopic;
  /**
   * The KMS key that encrypts the alarm topics created here. Its key policy must let
   * `cloudwatch.amazonaws.com` use it (`kms:Decrypt`, `kms:GenerateDataKey*`).
   * @default - a customer managed key with rotation, when a topic is created
   */
  readonly encryptionKey?: kms.IKey;
  /** The webhook endpoint: throttling, body size, signature clock tolerance, key cache, concurrency. @default - see IngestConfig */
  readonly ingest?: Partial<IngestConfig>;
  /** The event queue and its dead-letter queue. @default - see QueueConfig */
  readonly queue?: Partial<QueueConfig>;
  /** The processor: batch size and window, concurrency, timeout, tombstone TTL. @default - see ProcessingConfig */
  readonly processing?: Partial<ProcessingConfig>;
  /** The reconciler: schedule, grace, request budget, concurrency, coverage window. @default - see ReconcileConfig */
  readonly reconcile?: Partial<ReconcileConfig>;
  /** Alarm thresholds, names, runbook links, topics by ARN, an email subscription. @default - see AlarmConfig */
  readonly alarms?: AlarmOptions;
  /** Retention of every log group, in days (one CloudWatch Logs accepts). @default 30 */
  readonly logRetentionDays?: number;
  /**
   * The system log level (Lambda's platform events) of the ingest, process and publish functions:
   * `'WARN'` sends no START/END/REPORT lines for successful invocations (the cost win at one
   * invocation per webhook); `'INFO'` sends them. The reconciler never sends less than `'INFO'`.
   * @default 'WARN'
   */
  readonly systemLogLevel?: SystemLogLevelName;
  /**
   * What happens to the state table, queues, claim-check bucket, secret, key and log groups when the
   * stack is deleted: `'retain'` keeps them (and protects the table from deletion), `'destroy'` deletes them.
   * @default 'retain'
   */
  readonly removalPolicy?: RemovalPolicyName;
  /** Days the bus archive keeps change events for replay. @default 30 */
  readonly archiveRetentionDays?: number;
  /**
   * Pins the state table's CloudFormation logical id. Only to adopt a table already deployed under
   * that id (`'StateTable'` for a stack deployed by this project's PipelineStack 0.1): a changed
   * logical id replaces the table.
   * @default - the id CDK derives from the construct path
   */
  readonly stateTableLogicalId?: string;
}

/** The pipeline's functions. */
export interface PipelineFunctions {
  /** Verifies LiveKit's signature and enqueues (behind the API). */
  readonly ingest: lambda.Function;
  /** Applies queued events to the state table. */
  readonly process: lambda.Function;
  /** Publishes the table's stream to the bus. */
  readonly publish: lambda.Function;
  /** The scheduled reconciler. */
  readonly reconcile: lambda.Function;
}

/** Options of `onChange`. */
export interface OnChangeOptions {
  /** Where each change goes (a Lambda function, a queue, a Step Functions state machine...). */
  readonly target: events.IRuleTarget;
  /** Only these detail types (`participant.joined`, ...). @default - every change */
  readonly types?: readonly ChangeDetailType[];
  /** The rule's description. @default - names the types */
  readonly description?: string;
}

/**
 * The LiveKit webhook pipeline as one construct: LiveKit → `POST /webhook` (verify the signature,
 * enqueue) → SQS with a DLQ → the processor (idempotent writes to DynamoDB) → the change feed on
 * EventBridge, with a scheduled reconciler that repairs what LiveKit never delivered, and the alarms
 * and dashboard on-call needs.
 *
 * ```ts
 * const pipeline = new LiveKitWebhookPipeline(this, 'LiveKit', { livekitUrl: 'https://my-project.livekit.cloud' });
 * pipeline.grantReadState(myService);
 * // A session ends with participant.left or participant.connection_aborted: subscribe to both.
 * pipeline.onChange('Presence', {
 *   types: ['participant.joined', 'participant.left', 'participant.connection_aborted'],
 *   target: new targets.LambdaFunction(fn),
 * });
 * ```
 *
 * Every option is validated when the construct is built; a `ConfigError` lists every problem at once.
 */
export class LiveKitWebhookPipeline extends Construct {
  /** The settings in effect: the props over the defaults, validated. */
  public readonly config: PipelineConfig;
  /** The HTTP API LiveKit posts to. */
  public readonly api: apigw.HttpApi;
  /** The URL to give LiveKit (project webhook settings, or `webhooks` on an egress request). */
  public readonly webhookUrl: string;
  /** The event queue between "LiveKit got its 200" and "applied". */
  public readonly queue: sqs.Queue;
  /** Events that failed `queue.maxReceiveCount` times. */
  public readonly deadLetterQueue: sqs.Queue;
  /**
   * Bodies of genuine events too large for an SQS message (1 MiB), under `events/<sha256>.json`,
   * each expired once no message can point at it. Ingest may only put, the processor only get.
   */
  public readonly claimCheckBucket: s3.Bucket;
  /** The state table (key schema: contracts/table-schema.ts, a versioned public interface). */
  public readonly table: dynamodb.Table;
  /** The bus the change feed is published to (created, or `eventBus`). */
  public readonly bus: events.IEventBus;
  /** The archive of every change, for replay. */
  public readonly archive: events.Archive;
  /** The secret holding the LiveKit API key pairs (created, or `keysSecret`). */
  public readonly keysSecret: secretsmanager.ISecret;
  /** True when the construct created the keys secret (it then needs filling in after deploy). */
  public readonly keysSecretCreated: boolean;
  public readonly functions: PipelineFunctions;
  /** Every alarm, by id (lib/alarm-rules.ts). */
  public readonly alarms: Readonly<Partial<Record<AlarmId, cloudwatch.Alarm>>>;
  /** The topic of the alarms that page. */
  public readonly topic: sns.ITopic;
  /** The topic of each severity. */
  public readonly topics: Readonly<Record<AlarmSeverity, sns.ITopic>>;
  public readonly dashboard: cloudwatch.Dashboard;
  /**
   * The pipeline's name: `alarms.namePrefix`, default the stack name. Every custom metric carries
   * it as its `Pipeline` dimension (the `metric*()` helpers read it so); unique per account and region.
   */
  public readonly pipelineName: string;

  /** The parts, for fine-tuning beyond the props (escape hatches). */
  public readonly keys: LiveKitKeys;
  public readonly eventQueue: EventQueue;
  public readonly claimChecks: ClaimChecks;
  public readonly ingest: Ingest;
  public readonly processing: Processing;
  public readonly reconciler: Reconciler;
  public readonly monitoring: Monitoring;

  constructor(scope: Construct, id: string, props: LiveKitWebhookPipelineProps) {
    // Validated before anything joins the tree: invalid props throw and leave the scope as it was.
    const config = resolvePipelineConfig(props);
    super(scope, id);
    this.config = config;
    // Valid but risky settings: printed by `cdk synth`, fatal only with `--strict`.
    for (const warning of configWarnings(config)) Annotations.of(this).addWarningV2(warning.id, warning.message);
    // One name for every emitter and for the alarms that read them (Monitoring derives the same).
    const pipelineName = pipelineNameOf(this, config.alarms.namePrefix);
    this.pipelineName = pipelineName;
    const pageTopic = props.alarmTopic;
    const ticketTopic = props.ticketTopic ?? props.alarmTopic;

    this.keys = new LiveKitKeys(this, 'LiveKitKeys', { existing: props.keysSecret, removalPolicy: config.removalPolicy });
    this.eventQueue = new EventQueue(this, 'Events', { config });
    this.claimChecks = new ClaimChecks(this, 'ClaimChecks', { config });
    this.ingest = new Ingest(this, 'Ingest', {
      config,
      queue: this.eventQueue.queue,
      keys: this.keys.secret,
      claimChecks: this.claimChecks,
      pipelineName,
    });
    this.processing = new Processing(this, 'Processing', {
      config,
      queue: this.eventQueue.queue,
      eventBus: props.eventBus,
      archiveRetentionDays: props.archiveRetentionDays,
      tableLogicalId: props.stateTableLogicalId,
      pipelineName,
    });
    // The processor reads the object each claim check names (in this bucket only: CLAIM_CHECK_BUCKET).
    this.claimChecks.grantGetClaimChecks(this.processing.function);
    this.reconciler = new Reconciler(this, 'Reconciler', {
      config,
      table: this.processing.table,
      queue: this.eventQueue.queue,
      keys: this.keys.secret,
      pipelineName,
    });
    // A repair carries the room and participant as LiveKit's API lists them, so it can be as large
    // as a webhook: it goes by claim check too (lambda/reconcile/enqueue.ts).
    this.claimChecks.grantPutClaimChecks(this.reconciler.function);
    this.monitoring = new Monitoring(this, 'Monitoring', {
      config,
      topics: { ...(pageTopic ? { page: pageTopic } : {}), ...(ticketTopic ? { ticket: ticketTopic } : {}) },
      encryptionKey: props.encryptionKey,
      stage: this.ingest.stage,
      accessLogGroup: this.ingest.accessLogs,
      ingestFunction: this.ingest.function,
      ingestLogGroup: this.ingest.function.logGroup,
      processFunction: this.processing.function,
      processLogGroup: this.processing.function.logGroup,
      queue: this.eventQueue.queue,
      deadLetterQueue: this.eventQueue.deadLetterQueue,
      reconcileFunction: this.reconciler.function,
      reconcileLogGroup: this.reconciler.function.logGroup,
      publisherFunction: this.processing.publisherFunction,
      publisherDeadLetterQueue: this.processing.publisherDeadLetterQueue,
    });

    this.api = this.ingest.api;
    this.webhookUrl = this.ingest.webhookUrl;
    this.queue = this.eventQueue.queue;
    this.deadLetterQueue = this.eventQueue.deadLetterQueue;
    this.claimCheckBucket = this.claimChecks.bucket;
    this.table = this.processing.table;
    this.bus = this.processing.bus;
    this.archive = this.processing.archive;
    this.keysSecret = this.keys.secret;
    this.keysSecretCreated = this.keys.created;
    this.functions = {
      ingest: this.ingest.function,
      process: this.processing.function,
      publish: this.processing.publisherFunction,
      reconcile: this.reconciler.function,
    };
    this.alarms = this.monitoring.alarms;
    this.topics = this.monitoring.topics;
    this.topic = this.monitoring.topics.page;
    this.dashboard = this.monitoring.dashboard;
  }

  /**
   * Lets `grantee` read the state (GetItem, Query, Scan, BatchGetItem on the table and its
   * indexes), as the consumer kit's query client does. No write: the state is the processor's.
   */
  grantReadState(grantee: iam.IGrantable): iam.Grant {
    return this.table.grantReadData(grantee);
  }

  /**
   * An EventBridge rule on the change feed: every change (or only `types`) goes to `target`. The
   * event is the one the publisher puts: `source` `livekit.webhooks`, `detail-type` the change's
   * type, `detail` as docs/state-model.md describes (versioned: `CHANGE_EVENT_VERSION`). A change
   * may be delivered more than once: dedupe by `detail.changeId`.
   */
  onChange(id: string, options: OnChangeOptions): events.Rule {
    const known: readonly string[] = CHANGE_DETAIL_TYPES;
    const unknown = (options.types ?? []).filter((type) => !known.includes(type));
    const problems = unknown.map((type) => `onChange("${id}"): unknown change type ${JSON.stringify(type)} (known: ${known.join(', ')})`);
    if (options.types !== undefined && options.types.length === 0)
      problems.push(`onChange("${id}"): "types" must name at least one change type, or be left out for every change`);
    if (problems.length > 0) throw new ConfigError(problems);
    const types = options.types === undefined ? undefined : [...new Set(options.types)];
    return new events.Rule(this, id, {
      eventBus: this.bus,
      description: options.description ?? `LiveKit changes (${types ? types.join(', ') : 'all'}) to ${id}`,
      eventPattern: { source: [CHANGE_EVENT_SOURCE], ...(types ? { detailType: types } : {}) },
      targets: [options.target],
    });
  }

  /**
   * One of the pipeline's custom metrics (contracts/metrics.ts), in its namespace, under this
   * pipeline's `Pipeline` dimension (`pipelineName`; other dimensions in `props.dimensionsMap`, such
   * as `EventType`, are added to it). The bare metric name would sum every pipeline of the account
   * and region.
   */
  metric(metricName: MetricName, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.monitoring.metric(metricName, props);
  }

  /** Events LiveKit never delivered, found (and repaired) by the reconciler. @default Sum over the reconcile interval */
  metricMissedEvents(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric(METRIC.missedEvents, { statistic: 'Sum', ...props });
  }

  /** Enqueue to applied, in ms. @default p99 over 1 minute */
  metricApplyLag(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric(METRIC.applyLag, { statistic: 'p99', ...props });
  }

  /** Events applied to state. @default Sum over 1 minute */
  metricEventsProcessed(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric(METRIC.eventsProcessed, { statistic: 'Sum', ...props });
  }

  /** Messages waiting in the dead-letter queue (events not applied). @default Maximum over 5 minutes */
  metricDeadLetterMessages(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', ...props });
  }
}

/**
 * The props as config input (the same shape CDK context gives `parseConfig`), validated in one
 * pass: every problem is listed at once in a `ConfigError`, each naming the prop to fix.
 */
export function resolvePipelineConfig(props: LiveKitWebhookPipelineProps): PipelineConfig {
  const problems: string[] = [];
  const url: unknown = props.livekitUrl;
  if (typeof url !== 'string' || url.trim() === '') {
    problems.push('"livekitUrl" is required: the LiveKit server URL the reconciler calls, e.g. https://my-project.livekit.cloud');
  }
  if (props.alarmTopic && props.alarms?.pageTopicArn)
    problems.push('give the page topic once: "alarmTopic" or "alarms.pageTopicArn", not both');
  if ((props.ticketTopic ?? props.alarmTopic) && props.alarms?.ticketTopicArn) {
    problems.push('give the ticket topic once: "ticketTopic" (or "alarmTopic", which it defaults to) or "alarms.ticketTopicArn", not both');
  }
  const input: ConfigInput = {
    livekit: {
      ...(typeof url === 'string' && url.trim() !== '' ? { url } : {}),
      ...(props.livekitApiKey !== undefined ? { apiKey: props.livekitApiKey } : {}),
      ...(props.webhookEvents !== undefined ? { webhookEvents: props.webhookEvents } : {}),
    },
    ...definedEntries({
      ingest: props.ingest,
      queue: props.queue,
      processing: props.processing,
      reconcile: props.reconcile,
      alarms: props.alarms,
      logRetentionDays: props.logRetentionDays,
      systemLogLevel: props.systemLogLevel,
      removalPolicy: props.removalPolicy,
    }),
  };
  if (props.archiveRetentionDays !== undefined && (!Number.isInteger(props.archiveRetentionDays) || props.archiveRetentionDays < 1)) {
    problems.push(`"archiveRetentionDays" must be a positive integer, got ${props.archiveRetentionDays}`);
  }
  let config: PipelineConfig | undefined;
  try {
    config = parseConfig(input);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems.map(propsName));
  }
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
  return config;
}

/** Config names its settings by context path (`livekit.apiKey`); the construct's props name some differently. */
function propsName(problem: string): string {
  return problem
    .replace(/"livekit\.url"/g, '"livekitUrl"')
    .replace(/"livekit\.apiKey"/g, '"livekitApiKey"')
    .replace(/"livekit\.webhookEvents"/g, '"webhookEvents"');
}

function definedEntries(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}
