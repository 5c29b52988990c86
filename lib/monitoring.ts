import { Duration, Stack } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC, METRIC_NAMESPACE, MetricName, PIPELINE_DIMENSION, PIPELINE_LOG_FIELD } from '../contracts/metrics';
import { AlarmId, alarmDescription, alarmName, AlarmRule, alarmRules, AlarmSeverity } from './alarm-rules';
import { PipelineConfig } from './config';
import { pipelineNameOf } from './pipeline-name';
import { removalPolicyOf } from './removal-policy';

/** The settings monitoring reads: its own, and those its alarm rules derive thresholds from. */
export type MonitoringConfig = Pick<PipelineConfig, 'alarms' | 'reconcile' | 'queue' | 'processing' | 'removalPolicy'>;

export interface MonitoringProps {
  readonly config: MonitoringConfig;
  /**
   * Existing SNS topics to notify, by severity (they win over `alarms.pageTopicArn` and
   * `alarms.ticketTopicArn`). A topic brought in keeps its owner's policy, encryption and
   * subscriptions.
   * @default - the topics named by ARN in config, else one created per severity
   */
  readonly topics?: Partial<Record<AlarmSeverity, sns.ITopic>>;
  /**
   * The KMS key that encrypts the topics created here. Its key policy must let CloudWatch use it
   * (`kms:Decrypt`, `kms:GenerateDataKey*` for `cloudwatch.amazonaws.com`), or alarms cannot publish.
   * @default - a key with rotation is created (when any topic is created)
   */
  readonly encryptionKey?: kms.IKey;
  /** The webhook API's stage (latency, 5xx). */
  readonly stage: apigw.IHttpStage;
  /** The stage's access log group (JSON lines with `status`): throttled requests are counted from it. */
  readonly accessLogGroup: logs.ILogGroup;
  readonly ingestFunction: lambda.IFunction;
  /** The ingest function's log group: signature failures, enqueue failures, "not configured" and enqueued events are counted from it. */
  readonly ingestLogGroup: logs.ILogGroup;
  readonly processFunction: lambda.IFunction;
  /** The process function's log group: applied events are counted from it. */
  readonly processLogGroup: logs.ILogGroup;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /**
   * The reconcile function. Without it the reconciler's errors and heartbeat alarms are not
   * created (a heartbeat nobody emits would page forever); the missed-events alarm still is.
   */
  readonly reconcileFunction?: lambda.IFunction;
  /** The reconcile function's log group: the dashboard lists each repaired event from it. */
  readonly reconcileLogGroup?: logs.ILogGroup;
  /** The function that publishes state changes to the bus: its errors alarm (ticket) when given. */
  readonly publisherFunction?: lambda.IFunction;
  /** The publisher's dead-letter queue: a "not empty" alarm (page) when given. */
  readonly publisherDeadLetterQueue?: sqs.IQueue;
}

/** The ingest's `webhook rejected` reasons (lambda/ingest/webhook-ingest.ts RejectReason) that mean a lost event. */
export const LOSS_REJECT_REASONS = ['unknown_key', 'body_hash_mismatch', 'invalid_token'] as const;
/** The reasons that are internet probing: no token, not a JWT, or a JWT LiveKit cannot have signed (not HS256). LiveKit always signs, HS256. */
export const PROBE_REJECT_REASONS = ['missing_token', 'malformed_token'] as const;

/**
 * A JSON filter pattern matching `condition` on lines that name their pipeline: the filter's
 * `Pipeline` dimension is that field, and a line without it could be counted for no pipeline.
 */
const pipelinePattern = (condition: string) => `{ $.${PIPELINE_LOG_FIELD} = * && (${condition}) }`;

const reasonPattern = (reasons: readonly string[]) =>
  pipelinePattern(`$.message = "webhook rejected" && (${reasons.map((r) => `$.reason = "${r}"`).join(' || ')})`);

/** The ingest's log message for each request it answers `503 keys_not_configured` (the keys secret holds no key pair): one line per request. */
export const NOT_CONFIGURED_INGEST_MESSAGE = 'LiveKit API keys not configured; asking LiveKit to retry';
/**
 * The ingest's log message for each request it answers `503 keys_unavailable` because the request's
 * key id is not in the last key set it read and the secret cannot be read again (a key added since,
 * or a forgery while Secrets Manager is down): one line per request. Not an enqueue failure.
 */
export const UNKNOWN_KEY_UNVERIFIABLE_INGEST_MESSAGE =
  'API key not in the keys read, and the keys secret cannot be read again; asking the sender to retry';
/** The reconciler's per-repair log line, listed by the dashboard's missed-events widget. */
export const MISSED_EVENT_REPAIRED_MESSAGE = 'missed event repaired';

/**
 * Log lines the ingest and process functions already write, turned into metrics by CloudWatch
 * Logs metric filters: no metric code on the hot path. Each metric's `Pipeline` dimension is the
 * line's `pipeline` field (a filter's dimension can only be a field of the line, never a
 * constant; the functions' logger writes it from PIPELINE_NAME, the access log as a literal). A
 * test pins these messages to the source that logs them, so renaming a log message cannot
 * silently blind an alarm.
 */
export const LOG_METRICS = {
  signatureFailures: { metric: METRIC.signatureFailures, pattern: reasonPattern(LOSS_REJECT_REASONS) },
  signatureProbes: { metric: METRIC.signatureProbes, pattern: reasonPattern(PROBE_REJECT_REASONS) },
  // A secret that cannot be read is a failure (pages); a secret that holds `{}` is "not configured" (below).
  enqueueFailures: {
    metric: METRIC.enqueueFailures,
    pattern: pipelinePattern(
      '$.message = "event not stored; asking LiveKit to retry" || $.message = "LiveKit API keys unavailable; asking LiveKit to retry"',
    ),
  },
  notConfigured: { metric: METRIC.notConfigured, pattern: pipelinePattern(`$.message = "${NOT_CONFIGURED_INGEST_MESSAGE}"`) },
  // A key id the last good key set lacks while the secret cannot be re-read: a 503, but nothing
  // failed to be stored (and forged key ids must not page): api-5xx subtracts it.
  unknownKeyRetries: {
    metric: METRIC.unknownKeyRetries,
    pattern: pipelinePattern(`$.message = "${UNKNOWN_KEY_UNVERIFIABLE_INGEST_MESSAGE}"`),
  },
  eventsEnqueued: { metric: METRIC.eventsEnqueued, pattern: pipelinePattern('$.message = "event enqueued"') },
  eventsProcessed: { metric: METRIC.eventsProcessed, pattern: pipelinePattern('$.message = "event applied"') },
  /** HTTP APIs count throttled requests only inside 4xx; the access log has the exact status (a string). */
  apiThrottledRequests: { metric: METRIC.apiThrottledRequests, pattern: pipelinePattern('$.status = "429"') },
} as const satisfies Record<string, { metric: MetricName; pattern: string }>;

/** The Logs Insights query of the dashboard's "Missed events (repaired)" widget: one row per repaired event. */
export const MISSED_EVENTS_QUERY = [
  `fields @timestamp as repairedAt, eventType, room, entityId, firstSeenAt, eventId, requestId`,
  `filter message = "${MISSED_EVENT_REPAIRED_MESSAGE}"`,
  'sort @timestamp desc',
  'limit 200',
];

/**
 * What on-call needs: one alarm per way the pipeline can lose or delay events (rules in
 * lib/alarm-rules.ts, each named `<prefix>-<id>`, its description linking its runbook), each to
 * the SNS topic of its severity (page or ticket; created encrypted, or an existing one brought in
 * by ARN), and one dashboard that follows an event from LiveKit to the state table and lists the
 * events the reconciler repaired.
 */
export class Monitoring extends Construct {
  /** The topic each severity notifies: created here, or the one configured by ARN. */
  public readonly topics: Readonly<Record<AlarmSeverity, sns.ITopic>>;
  /** Encrypts the topics created here (none when both are brought in). A customer managed key: CloudWatch cannot publish to a topic under the AWS managed `alias/aws/sns`. */
  public readonly topicKey?: kms.IKey;
  public readonly alarms: Partial<Record<AlarmId, cloudwatch.Alarm>> = {};
  public readonly rules: Readonly<Record<AlarmId, AlarmRule>>;
  public readonly dashboard: cloudwatch.Dashboard;
  /**
   * `<prefix>` of every alarm name, and the pipeline's name: the value of the `Pipeline` dimension
   * every custom metric is read under (lib/pipeline-name.ts).
   */
  public readonly namePrefix: string;
  private readonly actions: Record<AlarmSeverity, SnsAction>;
  private readonly config: MonitoringConfig;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { config } = props;
    this.config = config;
    this.rules = alarmRules(config);
    const stack = Stack.of(this);
    this.namePrefix = pipelineNameOf(this, config.alarms.namePrefix);
    // Checked at synth, once every alarm is added (the reconciler's may come later).
    this.node.addValidation({ validate: () => this.alarmNameCollisions() });

    const given = props.topics ?? {};
    const existing: Record<AlarmSeverity, string | undefined> = { page: config.alarms.pageTopicArn, ticket: config.alarms.ticketTopicArn };
    const creates = (severity: AlarmSeverity) => !given[severity] && !existing[severity];
    if (props.encryptionKey) {
      this.topicKey = props.encryptionKey;
    } else if (creates('page') || creates('ticket')) {
      const key = new kms.Key(this, 'AlarmTopicKey', {
        description: 'Encrypts the LiveKit webhook pipeline alarm topics',
        enableKeyRotation: true,
        removalPolicy: removalPolicyOf(config.removalPolicy),
      });
      this.topicKey = key;
      // In a key policy the resource "*" means this key, and nothing else.
      key.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CloudWatchAlarmsPublishToTheEncryptedTopic',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
      );
    }
    const topic = (severity: AlarmSeverity, constructId: string, displayName: string): sns.ITopic => {
      const topicGiven = given[severity];
      if (topicGiven) return topicGiven;
      const arn = existing[severity];
      // Brought in: its policy, encryption and subscriptions are its owner's (PagerDuty, Chatbot, Opsgenie).
      if (arn) return sns.Topic.fromTopicArn(this, constructId, arn);
      const created = new sns.Topic(this, constructId, { displayName, masterKey: this.topicKey, enforceSSL: true });
      // The topic policy replaces SNS's default one, so CloudWatch is allowed explicitly, for this account's alarms only.
      created.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CloudWatchAlarmsOfThisAccount',
          principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
          actions: ['sns:Publish'],
          resources: [created.topicArn],
          conditions: {
            StringEquals: { 'aws:SourceAccount': stack.account },
            ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
          },
        }),
      );
      if (config.alarms.email) created.addSubscription(new subscriptions.EmailSubscription(config.alarms.email));
      return created;
    };
    // 'AlarmTopic' keeps the logical id of the single topic of earlier versions: its subscriptions survive the upgrade.
    this.topics = {
      page: topic('page', 'AlarmTopic', 'LiveKit webhook pipeline: page'),
      ticket: topic('ticket', 'TicketTopic', 'LiveKit webhook pipeline: ticket'),
    };
    this.actions = { page: new SnsAction(this.topics.page), ticket: new SnsAction(this.topics.ticket) };

    // Every custom metric is this pipeline's: read under its `Pipeline` dimension, never the bare
    // name, which another pipeline of the account and region would feed too.
    const custom = (metricName: MetricName) => this.metric(metricName);
    const filter = (name: keyof typeof LOG_METRICS, logGroup: logs.ILogGroup) => {
      const { metric, pattern } = LOG_METRICS[name];
      new logs.MetricFilter(this, `${metric}Filter`, {
        logGroup,
        filterPattern: logs.FilterPattern.literal(pattern),
        metricNamespace: METRIC_NAMESPACE,
        metricName: metric,
        metricValue: '1',
        dimensions: { [PIPELINE_DIMENSION]: `$.${PIPELINE_LOG_FIELD}` },
      });
      return custom(metric);
    };
    const signatureFailures = filter('signatureFailures', props.ingestLogGroup);
    const signatureProbes = filter('signatureProbes', props.ingestLogGroup);
    const enqueueFailures = filter('enqueueFailures', props.ingestLogGroup);
    // The reconciler emits the same metric (EMF, 1 per run) while it waits for keys.
    const notConfigured = filter('notConfigured', props.ingestLogGroup);
    const unknownKeyRetries = filter('unknownKeyRetries', props.ingestLogGroup);
    const eventsEnqueued = filter('eventsEnqueued', props.ingestLogGroup);
    const eventsProcessed = filter('eventsProcessed', props.processLogGroup);
    const throttled = filter('apiThrottledRequests', props.accessLogGroup);

    const minute = Duration.minutes(1);
    // The API's 5xx minus the 503s of a stack waiting for its keys, so a fresh deploy does not page;
    // a crash, timeout or throttle of the ingest still counts. Exact because the ingest logs one
    // counted line per such 503 (not one per read of the secret, which left most of them counted
    // as 5xx and paged). The reconciler's 1 per waiting run adds to NotConfigured too: while the
    // keys are missing that can hide at most one other 5xx per reconcile run. Likewise the 503s for a
    // key id the last key set lacks while the secret cannot be re-read (UnknownKeyRetries): a
    // flood of forged key ids during a Secrets Manager outage must not page.
    const api5xxMinusNotConfigured = new cloudwatch.MathExpression({
      expression: 'FILL(errors, 0) - FILL(notConfigured, 0) - FILL(unknownKeyRetries, 0)',
      usingMetrics: {
        errors: props.stage.metricServerError({ statistic: 'Sum', period: minute }),
        notConfigured: notConfigured.with({ statistic: 'Sum', period: minute }),
        unknownKeyRetries: unknownKeyRetries.with({ statistic: 'Sum', period: minute }),
      },
      label: 'API 5xx, not counting the 503s of "not configured" and of unverifiable key ids',
      period: minute,
    });

    // A dead-letter queue's messages: visible, plus received and not yet deleted. A redrive
    // (ours, or an SQS move task) receives a message before it moves or deletes it, so counting the
    // visible ones only would read 0 while a redrive holds them, close the page, and page again
    // for the same messages when a kept one becomes visible.
    const deadLetters = (queue: sqs.IQueue, label: string) =>
      new cloudwatch.MathExpression({
        expression: 'FILL(visible, 0) + FILL(inFlight, 0)',
        usingMetrics: {
          visible: queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: minute }),
          inFlight: queue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', period: minute }),
        },
        label,
        period: minute,
      });

    const metrics: Partial<Record<AlarmId, cloudwatch.IMetric>> = {
      'missed-events': custom(METRIC.missedEvents),
      'dlq-not-empty': deadLetters(props.deadLetterQueue, 'DLQ messages, visible and in flight'),
      'queue-oldest-message-age': props.queue.metricApproximateAgeOfOldestMessage(),
      'apply-lag': custom(METRIC.applyLag),
      'ingest-5xx': enqueueFailures,
      'api-5xx': api5xxMinusNotConfigured,
      'not-configured': notConfigured,
      'ingest-signature-failures': signatureFailures,
      'ingest-latency-p99': props.stage.metricLatency(),
      'ingest-throttles': props.ingestFunction.metricThrottles(),
      'processor-errors': props.processFunction.metricErrors(),
      'processor-throttles': props.processFunction.metricThrottles(),
      'api-throttling': throttled,
    };
    // A failed PutEvents (bus down, access denied, throttled) is caught and reported as a partial
    // batch failure, which Lambda retries: the invocation succeeds, and its Errors stay 0. The
    // changes the bus refused are counted as PublishFailures: the alarm reads both.
    if (props.publisherFunction) {
      metrics['publisher-errors'] = new cloudwatch.MathExpression({
        expression: 'FILL(errors, 0) + FILL(refused, 0)',
        usingMetrics: {
          errors: props.publisherFunction.metricErrors({ statistic: 'Sum', period: minute }),
          refused: custom(METRIC.publishFailures).with({ statistic: 'Sum', period: minute }),
        },
        label: 'publisher: failed invocations + changes the bus refused',
        period: minute,
      });
    }
    if (props.publisherDeadLetterQueue)
      metrics['publisher-dlq-not-empty'] = deadLetters(props.publisherDeadLetterQueue, 'publisher DLQ messages, visible and in flight');
    for (const [alarmId, metric] of Object.entries(metrics) as Array<[AlarmId, cloudwatch.IMetric]>) this.addAlarm(alarmId, metric);

    this.dashboard = this.buildDashboard(props, {
      signatureFailures,
      signatureProbes,
      enqueueFailures,
      notConfigured,
      eventsEnqueued,
      eventsProcessed,
      throttled,
      custom,
    });
    if (props.reconcileFunction) this.monitorReconciler(props.reconcileFunction, props.reconcileLogGroup);
  }

  /**
   * Alarm names are unique per account and region, and `alarms.namePrefix` defaults to the stack
   * name: two pipelines of one stack without a prefix each would name their alarms alike, which
   * CloudFormation refuses only at deploy time. So synth fails first, naming both and the fix. A
   * derived default was rejected: adding a second pipeline would rename the first one's alarms
   * (a changed AlarmName replaces the alarm), or the names would depend on construction order.
   * Reported once, by the later of the two in the construct tree.
   */
  private alarmNameCollisions(): string[] {
    const names = (monitoring: Monitoring) =>
      new Set(Object.values(monitoring.alarms).map((alarm) => (alarm.node.defaultChild as cloudwatch.CfnAlarm).alarmName));
    const mine = names(this);
    const errors: string[] = [];
    for (const other of Stack.of(this).node.findAll()) {
      if (other === this) break;
      if (!(other instanceof Monitoring)) continue;
      const shared = [...names(other)].filter((name) => name !== undefined && mine.has(name));
      if (shared.length === 0) continue;
      const listed = shared.length > 3 ? `${shared.slice(0, 3).join(', ')} and ${shared.length - 3} more` : shared.join(', ');
      errors.push(
        `${this.node.path} and ${other.node.path} would name alarms alike (${listed}); alarm names are unique per ` +
          `account and region, so the deploy would fail. Give each pipeline its own prefix: set alarms.namePrefix ` +
          `(default: the stack name, '${Stack.of(this).stackName}'), e.g. alarms: { namePrefix: '${Stack.of(this).stackName}-${this.node.scope?.node.id ?? this.node.id}' }.`,
      );
    }
    return errors;
  }

  /**
   * Adds the reconciler's errors and heartbeat alarms (and their status on the dashboard), and,
   * with its log group, the list of repaired events. Called by the constructor when
   * `reconcileFunction` is given, or later by a stack that builds the reconciler after
   * monitoring. At most once.
   */
  monitorReconciler(reconcileFunction: lambda.IFunction, reconcileLogGroup?: logs.ILogGroup): void {
    if (this.alarms['reconciler-heartbeat-missing']) throw new Error('monitorReconciler: the reconciler is already monitored');
    const errors = this.addAlarm('reconciler-errors', reconcileFunction.metricErrors());
    const heartbeat = this.addAlarm('reconciler-heartbeat-missing', this.metric(METRIC.heartbeat));
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Reconciler alarms', alarms: [errors, heartbeat], width: 24, height: 2 }),
    );
    if (reconcileLogGroup) {
      this.dashboard.addWidgets(
        new cloudwatch.LogQueryWidget({
          title: 'Missed events (repaired): what LiveKit never delivered, newest first (npm run missed lists the same)',
          logGroupNames: [reconcileLogGroup.logGroupName],
          queryLines: MISSED_EVENTS_QUERY,
          view: cloudwatch.LogQueryVisualizationType.TABLE,
          width: 24,
          height: 8,
        }),
      );
    }
  }

  /**
   * One of the pipeline's custom metrics (contracts/metrics.ts), under this pipeline's `Pipeline`
   * dimension (plus any other dimension in `props`, e.g. `EventType`).
   */
  metric(metricName: MetricName, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRIC_NAMESPACE,
      metricName,
      ...props,
      dimensionsMap: { ...props.dimensionsMap, [PIPELINE_DIMENSION]: this.namePrefix },
    });
  }

  private addAlarm(alarmId: AlarmId, metric: cloudwatch.IMetric): cloudwatch.Alarm {
    const rule = this.rules[alarmId];
    const period = Duration.seconds(rule.periodSeconds);
    const alarm = new cloudwatch.Alarm(this, pascalCase(alarmId), {
      alarmName: alarmName(this.namePrefix, rule),
      metric:
        metric instanceof cloudwatch.MathExpression
          ? metric.with({ period })
          : (metric as cloudwatch.Metric).with({ period, statistic: rule.statistic }),
      threshold: rule.threshold,
      comparisonOperator: rule.comparison as cloudwatch.ComparisonOperator,
      evaluationPeriods: rule.evaluationPeriods,
      datapointsToAlarm: rule.datapointsToAlarm,
      treatMissingData: rule.treatMissingData as cloudwatch.TreatMissingData,
      alarmDescription: alarmDescription(rule, this.config.alarms.runbookBaseUrl),
    });
    alarm.addAlarmAction(this.actions[rule.severity]);
    alarm.addOkAction(this.actions[rule.severity]);
    this.alarms[alarmId] = alarm;
    return alarm;
  }
  private buildDashboard(
    props: MonitoringProps,
    m: Record<
      'signatureFailures' | 'signatureProbes' | 'enqueueFailures' | 'notConfigured' | 'eventsEnqueued' | 'eventsProcessed' | 'throttled',
      cloudwatch.Metric
    > & {
      custom: (name: MetricName) => cloudwatch.Metric;
    },
  ): cloudwatch.Dashboard {
    const minute = Duration.minutes(1);
    const reconcilePeriod = Duration.minutes(props.config.reconcile.intervalMinutes);
    const sum = (metric: cloudwatch.IMetric, label: string, period = minute) =>
      (metric as cloudwatch.Metric).with({ statistic: 'Sum', period, label });
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 8, height: 6 });
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    const runbooks = props.config.alarms.runbookBaseUrl ? `[runbooks](${props.config.alarms.runbookBaseUrl})` : 'docs/runbooks.md';
    dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          '### LiveKit webhooks: LiveKit → API → ingest → queue → process → state; reconciler repairs what LiveKit dropped\n' +
          `Every alarm links its runbook (${runbooks}). Tooling: \`npm run missed\`, \`npm run dlq:redrive\`, \`npm run state\`, \`npm run replay\`.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      graph(
        'Webhooks in (requests/min)',
        [
          sum(props.stage.metricCount(), 'requests'),
          sum(props.stage.metricClientError(), '4xx'),
          sum(props.stage.metricServerError(), '5xx'),
        ],
        [
          sum(m.throttled, '429 throttled'),
          sum(m.signatureFailures, '401 that lose events (unknown key, body hash, invalid token)'),
          sum(m.signatureProbes, '401 probing (no or malformed token)'),
        ],
      ),
      graph(
        'Enqueued (events/min)',
        [sum(m.eventsEnqueued, 'enqueued (200)'), sum(m.enqueueFailures, 'not stored (503)'), sum(m.notConfigured, 'not configured (503)')],
        [sum(props.ingestFunction.metricThrottles(), 'ingest throttles')],
      ),
      graph(
        'Applied (events/min)',
        [sum(m.eventsProcessed, 'applied'), sum(props.queue.metricNumberOfMessagesDeleted(), 'deleted from queue')],
        [
          sum(props.processFunction.metricErrors(), 'processor errors'),
          sum(props.processFunction.metricThrottles(), 'processor throttles'),
          ...(props.publisherFunction ? [sum(props.publisherFunction.metricErrors(), 'publisher errors')] : []),
        ],
      ),
    );
    dashboard.addWidgets(
      graph(
        'Missed / repaired (per reconcile run)',
        [
          sum(m.custom(METRIC.missedEvents), 'missed events', reconcilePeriod),
          sum(m.custom(METRIC.repairsSent), 'repairs sent', reconcilePeriod),
        ],
        [
          sum(m.custom(METRIC.heartbeat), 'heartbeat', reconcilePeriod),
          sum(m.custom(METRIC.liveKitApiErrors), 'LiveKit API errors', reconcilePeriod),
          sum(m.custom(METRIC.notConfigured), 'not configured', reconcilePeriod),
        ],
      ),
      graph(
        'Queue and DLQ',
        [
          props.queue.metricApproximateNumberOfMessagesVisible({ label: 'queue depth', statistic: 'Maximum', period: minute }),
          props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'DLQ depth', statistic: 'Maximum', period: minute }),
          ...(props.publisherDeadLetterQueue
            ? [
                props.publisherDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
                  label: 'publisher DLQ depth',
                  statistic: 'Maximum',
                  period: minute,
                }),
              ]
            : []),
        ],
        [props.queue.metricApproximateAgeOfOldestMessage({ label: 'oldest message age (s)', statistic: 'Maximum', period: minute })],
      ),
      graph(
        'Latencies (ms)',
        [
          props.stage.metricLatency({ statistic: 'p99', period: minute, label: 'API p99' }),
          props.stage.metricLatency({ statistic: 'p50', period: minute, label: 'API p50' }),
          props.ingestFunction.metricDuration({ statistic: 'p99', period: minute, label: 'ingest function p99' }),
        ],
        [
          props.processFunction.metricDuration({ statistic: 'p99', period: minute, label: 'processor p99' }),
          m.custom(METRIC.runDuration).with({ statistic: 'Maximum', period: reconcilePeriod, label: 'reconcile run (max)' }),
        ],
      ),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'State lag (ms): enqueue → applied, and event age when applied',
        left: [
          m.custom(METRIC.applyLag).with({ statistic: 'p99', period: minute, label: 'apply lag p99' }),
          m.custom(METRIC.applyLag).with({ statistic: 'p50', period: minute, label: 'apply lag p50' }),
        ],
        right: [m.custom(METRIC.eventAge).with({ statistic: 'p99', period: minute, label: 'event age p99' })],
        leftAnnotations: [{ value: this.rules['apply-lag'].threshold, label: 'page (p99, 3 minutes)' }],
        width: 24,
        height: 6,
      }),
    );
    const bySeverity = (severity: AlarmSeverity): cloudwatch.IAlarm[] =>
      (Object.entries(this.alarms) as Array<[AlarmId, cloudwatch.Alarm]>)
        .filter(([alarmId]) => this.rules[alarmId].severity === severity)
        .map(([, alarm]) => alarm);
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms that page', alarms: bySeverity('page'), width: 12, height: 4 }),
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms that open a ticket', alarms: bySeverity('ticket'), width: 12, height: 4 }),
    );
    return dashboard;
  }
}

function pascalCase(id: string): string {
  return id
    .split('-')
    .map((part) => (/^\d/.test(part) ? part : part[0].toUpperCase() + part.slice(1)))
    .join('');
}
