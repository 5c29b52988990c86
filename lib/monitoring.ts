import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
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
import { METRIC, METRIC_NAMESPACE, MetricName } from '../lambda/shared/metrics';
import { AlarmId, alarmDescription, AlarmRule, alarmRules } from './alarm-rules';
import { PipelineConfig } from './config';

export interface MonitoringProps {
  readonly config: PipelineConfig;
  /** The webhook API's stage (latency, 5xx). */
  readonly stage: apigw.IHttpStage;
  /** The stage's access log group (JSON lines with `status`): throttled requests are counted from it. */
  readonly accessLogGroup: logs.ILogGroup;
  readonly ingestFunction: lambda.IFunction;
  /** The ingest function's log group: signature failures, enqueue failures and enqueued events are counted from it. */
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
}

/**
 * Log lines the ingest and process functions already write, turned into metrics by CloudWatch
 * Logs metric filters: no metric code on the hot path. A test pins these messages to the source
 * that logs them, so renaming a log message cannot silently blind an alarm.
 */
export const LOG_METRICS = {
  signatureFailures: { metric: METRIC.signatureFailures, pattern: '{ $.message = "webhook rejected" && $.statusCode = 401 }' },
  enqueueFailures: {
    metric: METRIC.enqueueFailures,
    pattern: '{ $.message = "event not stored; asking LiveKit to retry" || $.message = "LiveKit API keys unavailable; asking LiveKit to retry" }',
  },
  eventsEnqueued: { metric: METRIC.eventsEnqueued, pattern: '{ $.message = "event enqueued" }' },
  eventsProcessed: { metric: METRIC.eventsProcessed, pattern: '{ $.message = "event applied" }' },
  /** HTTP APIs count throttled requests only inside 4xx; the access log has the exact status (a string). */
  apiThrottledRequests: { metric: METRIC.apiThrottledRequests, pattern: '{ $.status = "429" }' },
} as const satisfies Record<string, { metric: MetricName; pattern: string }>;

/**
 * What on-call needs: one alarm per way the pipeline can lose or delay events (rules in
 * lib/alarm-rules.ts, each description linking its runbook section), all to one encrypted SNS
 * topic, and one dashboard that follows an event from LiveKit to the state table.
 */
export class Monitoring extends Construct {
  public readonly topic: sns.Topic;
  /** Encrypts the topic. A customer managed key: CloudWatch cannot publish to a topic under the AWS managed `alias/aws/sns`. */
  public readonly topicKey: kms.Key;
  public readonly alarms: Partial<Record<AlarmId, cloudwatch.Alarm>> = {};
  public readonly rules: Readonly<Record<AlarmId, AlarmRule>>;
  public readonly dashboard: cloudwatch.Dashboard;
  private readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { config } = props;
    this.rules = alarmRules(config);
    const stack = Stack.of(this);

    this.topicKey = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the LiveKit webhook pipeline alarm topic',
      enableKeyRotation: true,
      removalPolicy: config.removalPolicy === 'retain' ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // In a key policy the resource "*" means this key, and nothing else.
    this.topicKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToTheEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    this.topic = new sns.Topic(this, 'AlarmTopic', { displayName: 'LiveKit webhook pipeline alarms', masterKey: this.topicKey, enforceSSL: true });
    // The topic policy replaces SNS's default one, so CloudWatch is allowed explicitly, for this account's alarms only.
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsOfThisAccount',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*` },
        },
      }),
    );
    if (config.alarms.email) this.topic.addSubscription(new subscriptions.EmailSubscription(config.alarms.email));
    this.action = new SnsAction(this.topic);

    const custom = (metricName: MetricName) => new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName });
    const filter = (name: keyof typeof LOG_METRICS, logGroup: logs.ILogGroup) => {
      const { metric, pattern } = LOG_METRICS[name];
      new logs.MetricFilter(this, `${metric}Filter`, {
        logGroup,
        filterPattern: logs.FilterPattern.literal(pattern),
        metricNamespace: METRIC_NAMESPACE,
        metricName: metric,
        metricValue: '1',
      });
      return custom(metric);
    };
    const signatureFailures = filter('signatureFailures', props.ingestLogGroup);
    const enqueueFailures = filter('enqueueFailures', props.ingestLogGroup);
    const eventsEnqueued = filter('eventsEnqueued', props.ingestLogGroup);
    const eventsProcessed = filter('eventsProcessed', props.processLogGroup);
    const throttled = filter('apiThrottledRequests', props.accessLogGroup);

    const metrics: Partial<Record<AlarmId, cloudwatch.IMetric>> = {
      'missed-events': custom(METRIC.missedEvents),
      'dlq-not-empty': props.deadLetterQueue.metricApproximateNumberOfMessagesVisible(),
      'queue-oldest-message-age': props.queue.metricApproximateAgeOfOldestMessage(),
      'ingest-5xx': enqueueFailures,
      'ingest-signature-failures': signatureFailures,
      'ingest-latency-p99': props.stage.metricLatency(),
      'processor-errors': props.processFunction.metricErrors(),
      'processor-throttles': props.processFunction.metricThrottles(),
      'api-5xx': props.stage.metricServerError(),
      'api-throttling': throttled,
    };
    for (const [alarmId, metric] of Object.entries(metrics) as Array<[AlarmId, cloudwatch.IMetric]>) this.addAlarm(alarmId, metric);

    this.dashboard = this.buildDashboard(props, { signatureFailures, enqueueFailures, eventsEnqueued, eventsProcessed, throttled, custom });
    if (props.reconcileFunction) this.monitorReconciler(props.reconcileFunction);
  }

  /**
   * Adds the reconciler's errors and heartbeat alarms (and their status on the dashboard). Called
   * by the constructor when `reconcileFunction` is given, or later by a stack that builds the
   * reconciler after monitoring. At most once.
   */
  monitorReconciler(reconcileFunction: lambda.IFunction): void {
    if (this.alarms['reconciler-heartbeat-missing']) throw new Error('monitorReconciler: the reconciler is already monitored');
    const errors = this.addAlarm('reconciler-errors', reconcileFunction.metricErrors());
    const heartbeat = this.addAlarm('reconciler-heartbeat-missing', new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName: METRIC.heartbeat }));
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Reconciler alarms', alarms: [errors, heartbeat], width: 24, height: 2 }));
  }

  private addAlarm(alarmId: AlarmId, metric: cloudwatch.IMetric): cloudwatch.Alarm {
    const rule = this.rules[alarmId];
    const alarm = new cloudwatch.Alarm(this, pascalCase(alarmId), {
      metric: (metric as cloudwatch.Metric).with({ period: Duration.seconds(rule.periodSeconds), statistic: rule.statistic }),
      threshold: rule.threshold,
      comparisonOperator: rule.comparison as cloudwatch.ComparisonOperator,
      evaluationPeriods: rule.evaluationPeriods,
      datapointsToAlarm: rule.datapointsToAlarm,
      treatMissingData: rule.treatMissingData as cloudwatch.TreatMissingData,
      alarmDescription: alarmDescription(rule),
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms[alarmId] = alarm;
    return alarm;
  }

  private buildDashboard(
    props: MonitoringProps,
    m: Record<'signatureFailures' | 'enqueueFailures' | 'eventsEnqueued' | 'eventsProcessed' | 'throttled', cloudwatch.Metric> & {
      custom: (name: MetricName) => cloudwatch.Metric;
    },
  ): cloudwatch.Dashboard {
    const minute = Duration.minutes(1);
    const reconcilePeriod = Duration.minutes(props.config.reconcile.intervalMinutes);
    const sum = (metric: cloudwatch.IMetric, label: string, period = minute) => (metric as cloudwatch.Metric).with({ statistic: 'Sum', period, label });
    const graph = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 8, height: 6 });
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          '### LiveKit webhooks: LiveKit → API → ingest → queue → process → state; reconciler repairs what LiveKit dropped\n' +
          'Every alarm links its runbook (README.md, section Runbooks). Tooling: `npm run dlq:redrive`, `npm run state`, `npm run replay`.',
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      graph('Webhooks in (requests/min)', [sum(props.stage.metricCount(), 'requests'), sum(props.stage.metricClientError(), '4xx'), sum(props.stage.metricServerError(), '5xx')], [
        sum(m.throttled, '429 throttled'),
        sum(m.signatureFailures, '401 signature failures'),
      ]),
      graph('Enqueued (events/min)', [sum(m.eventsEnqueued, 'enqueued (200)'), sum(m.enqueueFailures, 'not stored (503)')]),
      graph('Applied (events/min)', [sum(m.eventsProcessed, 'applied'), sum(props.queue.metricNumberOfMessagesDeleted(), 'deleted from queue')], [
        sum(props.processFunction.metricErrors(), 'processor errors'),
        sum(props.processFunction.metricThrottles(), 'processor throttles'),
      ]),
    );
    dashboard.addWidgets(
      graph('Missed / repaired (per reconcile run)', [sum(m.custom(METRIC.missedEvents), 'missed events', reconcilePeriod), sum(m.custom(METRIC.repairsSent), 'repairs sent', reconcilePeriod)], [
        sum(m.custom(METRIC.heartbeat), 'heartbeat', reconcilePeriod),
        sum(m.custom(METRIC.liveKitApiErrors), 'LiveKit API errors', reconcilePeriod),
      ]),
      graph('Queue and DLQ', [
        props.queue.metricApproximateNumberOfMessagesVisible({ label: 'queue depth', statistic: 'Maximum', period: minute }),
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'DLQ depth', statistic: 'Maximum', period: minute }),
      ], [props.queue.metricApproximateAgeOfOldestMessage({ label: 'oldest message age (s)', statistic: 'Maximum', period: minute })]),
      graph('Latencies (ms)', [
        props.stage.metricLatency({ statistic: 'p99', period: minute, label: 'API p99' }),
        props.stage.metricLatency({ statistic: 'p50', period: minute, label: 'API p50' }),
        props.ingestFunction.metricDuration({ statistic: 'p99', period: minute, label: 'ingest function p99' }),
      ], [
        props.processFunction.metricDuration({ statistic: 'p99', period: minute, label: 'processor p99' }),
        m.custom(METRIC.runDuration).with({ statistic: 'Maximum', period: reconcilePeriod, label: 'reconcile run (max)' }),
      ]),
    );
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Pipeline alarms',
        alarms: Object.values(this.alarms) as cloudwatch.IAlarm[],
        width: 24,
        height: 4,
      }),
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
