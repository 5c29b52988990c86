import { readFileSync } from 'node:fs';
import { accessLogFields } from '../../../lib/access-log';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { parseConfig } from '../../../lib/config';
import { LOG_METRICS, LOSS_REJECT_REASONS, MISSED_EVENT_REPAIRED_MESSAGE, Monitoring, PROBE_REJECT_REASONS } from '../../../lib/monitoring';
import { LiveKitWebhookPipeline } from '../../../lib/pipeline';
import { PipelineStack } from '../../../lib/pipeline-stack';
import { bareStack, LIVEKIT_URL, synthPipeline } from '../../support/synth';
import { repoPath } from '../../support/paths';

const RUNBOOKS = 'https://github.com/acme/livekit-webhooks/blob/main/docs/runbooks.md';

/*
 * The monitoring construct as synthesised in the whole stack: every alarm's metric, threshold,
 * comparison, periods, missing-data treatment and action; the topic; the dashboard; and the metric
 * filters that turn existing log lines into the metrics some alarms read.
 */

const inlineFunction = (scope: Construct, id: string) =>
  new lambda.Function(scope, id, {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => {}'),
  });

/**
 * The whole stack with its reconciler's function monitored: the stack's own when it has one,
 * else a stand-in (the construct must not depend on the reconciler being there).
 */
function synthWithReconciler(input = {}) {
  const app = new App();
  const stack = new PipelineStack(app, 'MonitoredPipeline', { config: parseConfig({ livekit: { url: LIVEKIT_URL }, ...input }) });
  let reconcile: lambda.IFunction | undefined = (stack as { reconciler?: { function: lambda.IFunction } }).reconciler?.function;
  if (!reconcile) {
    reconcile = inlineFunction(stack, 'StandInReconcile');
    stack.monitoring.monitorReconciler(reconcile);
  }
  return { stack, reconcile, template: Template.fromStack(stack) };
}

/** The construct alone, on minimal stand-ins, without a reconcile function (with a publisher when asked). */
function synthMonitoringAlone(input = {}, publisher = false) {
  const stack = bareStack();
  const api = new apigw.HttpApi(stack, 'Api', { createDefaultStage: false });
  const stage = new apigw.HttpStage(stack, 'Stage', { httpApi: api, stageName: '$default' });
  const monitoring = new Monitoring(stack, 'Monitoring', {
    config: parseConfig(input),
    stage,
    accessLogGroup: new logs.LogGroup(stack, 'Access'),
    ingestFunction: inlineFunction(stack, 'Ingest'),
    ingestLogGroup: new logs.LogGroup(stack, 'IngestLogs'),
    processFunction: inlineFunction(stack, 'Process'),
    processLogGroup: new logs.LogGroup(stack, 'ProcessLogs'),
    queue: new sqs.Queue(stack, 'Queue'),
    deadLetterQueue: new sqs.Queue(stack, 'Dlq'),
    ...(publisher
      ? { publisherFunction: inlineFunction(stack, 'Publisher'), publisherDeadLetterQueue: new sqs.Queue(stack, 'PublisherDlq') }
      : {}),
  });
  return { monitoring, stack, template: Template.fromStack(stack) };
}

type MetricRef = { namespace: string; metricName: string; dimensions: Record<string, unknown> };

/** Every metric an alarm reads: its own, or each one of its metric math. */
function alarmMetrics(alarm: Record<string, any>): MetricRef[] {
  const dims = (list: Array<{ Name: string; Value: unknown }> | undefined) =>
    Object.fromEntries((list ?? []).map((d) => [d.Name, d.Value]));
  if (alarm.MetricName) return [{ namespace: alarm.Namespace, metricName: alarm.MetricName, dimensions: dims(alarm.Dimensions) }];
  return (alarm.Metrics ?? [])
    .filter((query: any) => query.MetricStat)
    .map((query: any) => ({
      namespace: query.MetricStat.Metric.Namespace,
      metricName: query.MetricStat.Metric.MetricName,
      dimensions: dims(query.MetricStat.Metric.Dimensions),
    }));
}

/** Every metric a dashboard graphs (its body's `metrics` rows; tokens in the body read as "TOKEN"). */
function dashboardMetrics(dashboard: Record<string, any>): MetricRef[] {
  const raw = dashboard.Properties.DashboardBody;
  const text: string =
    typeof raw === 'string' ? raw : raw['Fn::Join'][1].map((part: unknown) => (typeof part === 'string' ? part : 'TOKEN')).join('');
  const body = JSON.parse(text) as { widgets: Array<{ properties: { metrics?: unknown[][] } }> };
  return body.widgets
    .flatMap((widget) => widget.properties.metrics ?? [])
    .filter((row) => typeof row[0] === 'string')
    .map((row) => {
      const strings = row.filter((cell): cell is string => typeof cell === 'string');
      const dimensions: Record<string, unknown> = {};
      for (let i = 2; i + 1 < strings.length; i += 2) dimensions[strings[i]] = strings[i + 1];
      return { namespace: strings[0], metricName: strings[1], dimensions };
    });
}

describe('Monitoring construct', () => {
  const { stack, reconcile, template } = synthWithReconciler({
    alarms: {
      email: 'oncall@example.com',
      missedEventsThreshold: 2,
      missedEventsEvaluationPeriods: 3,
      missedEventsDatapointsToAlarm: 3,
      namePrefix: 'lkw-prod',
      runbookBaseUrl: RUNBOOKS,
    },
  });
  const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const pageTopic = { Ref: id(stack.monitoring.topics.page) };
  const ticketTopic = { Ref: id(stack.monitoring.topics.ticket) };
  const fnDimension = (fn: { node: { defaultChild?: unknown } }) => [{ Name: 'FunctionName', Value: { Ref: id(fn) } }];
  const apiDimensions = [
    { Name: 'ApiId', Value: { Ref: id(stack.ingest.api) } },
    { Name: 'Stage', Value: '$default' },
  ];
  const queueDimension = (queue: { node: { defaultChild?: unknown } }) => [
    { Name: 'QueueName', Value: { 'Fn::GetAtt': [id(queue), 'QueueName'] } },
  ];
  /** The pipeline's own metrics: every custom metric is read under its `Pipeline` dimension, the alarm name prefix. */
  const pipelineDimension = [{ Name: 'Pipeline', Value: 'lkw-prod' }];

  const findAlarm = (anchor: string): Record<string, any> => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a: any) =>
      a.Properties.AlarmDescription.endsWith(`${RUNBOOKS}#${anchor}`),
    );
    expect(alarms).toHaveLength(1);
    return (alarms[0] as any).Properties;
  };

  // anchor, severity, namespace, metric, dimensions, statistic, period, threshold, comparison, N, M, missing data
  const expected: Array<[string, string, string, string, () => unknown, string, number, number, string, number, number, string]> = [
    [
      'runbook-missed-events',
      'page',
      'LiveKitWebhooks',
      'MissedEvents',
      () => pipelineDimension,
      'Sum',
      60,
      2,
      'GreaterThanOrEqualToThreshold',
      3,
      3,
      'notBreaching',
    ],
    [
      'runbook-queue-oldest-message-age',
      'page',
      'AWS/SQS',
      'ApproximateAgeOfOldestMessage',
      () => queueDimension(stack.eventQueue.queue),
      'Maximum',
      60,
      900,
      'GreaterThanThreshold',
      3,
      3,
      'notBreaching',
    ],
    [
      'runbook-apply-lag',
      'page',
      'LiveKitWebhooks',
      'ApplyLag',
      () => pipelineDimension,
      'p99',
      60,
      60_000,
      'GreaterThanThreshold',
      3,
      3,
      'notBreaching',
    ],
    [
      'runbook-ingest-5xx',
      'page',
      'LiveKitWebhooks',
      'EnqueueFailures',
      () => pipelineDimension,
      'Sum',
      60,
      3,
      'GreaterThanOrEqualToThreshold',
      3,
      2,
      'notBreaching',
    ],
    [
      'runbook-not-configured',
      'ticket',
      'LiveKitWebhooks',
      'NotConfigured',
      () => pipelineDimension,
      'Sum',
      60,
      1,
      'GreaterThanOrEqualToThreshold',
      1,
      1,
      'notBreaching',
    ],
    [
      'runbook-ingest-signature-failures',
      'ticket',
      'LiveKitWebhooks',
      'SignatureFailures',
      () => pipelineDimension,
      'Sum',
      300,
      3,
      'GreaterThanOrEqualToThreshold',
      1,
      1,
      'notBreaching',
    ],
    [
      'runbook-ingest-latency-p99',
      'ticket',
      'AWS/ApiGateway',
      'Latency',
      () => apiDimensions,
      'p99',
      60,
      1000,
      'GreaterThanThreshold',
      5,
      3,
      'notBreaching',
    ],
    [
      'runbook-ingest-throttles',
      'ticket',
      'AWS/Lambda',
      'Throttles',
      () => fnDimension(stack.ingest.function),
      'Sum',
      60,
      1,
      'GreaterThanOrEqualToThreshold',
      5,
      2,
      'notBreaching',
    ],
    [
      'runbook-processor-errors',
      'ticket',
      'AWS/Lambda',
      'Errors',
      () => fnDimension(stack.processing.function),
      'Sum',
      60,
      1,
      'GreaterThanOrEqualToThreshold',
      5,
      3,
      'notBreaching',
    ],
    [
      'runbook-processor-throttles',
      'ticket',
      'AWS/Lambda',
      'Throttles',
      () => fnDimension(stack.processing.function),
      'Sum',
      60,
      1,
      'GreaterThanOrEqualToThreshold',
      5,
      3,
      'notBreaching',
    ],
    [
      'runbook-reconciler-errors',
      'ticket',
      'AWS/Lambda',
      'Errors',
      () => fnDimension(reconcile),
      'Sum',
      60,
      1,
      'GreaterThanOrEqualToThreshold',
      3,
      2,
      'notBreaching',
    ],
    [
      'runbook-reconciler-heartbeat-missing',
      'ticket',
      'LiveKitWebhooks',
      'ReconcileHeartbeat',
      () => pipelineDimension,
      'Sum',
      60,
      1,
      'LessThanThreshold',
      3,
      3,
      'breaching',
    ],
    [
      'runbook-api-throttling',
      'ticket',
      'LiveKitWebhooks',
      'ApiThrottledRequests',
      () => pipelineDimension,
      'Sum',
      60,
      10,
      'GreaterThanOrEqualToThreshold',
      3,
      2,
      'notBreaching',
    ],
  ];
  /**
   * Alarms on a metric math expression rather than one metric. The stack passes its stream
   * publisher, so its alarms exist: errors (its invocations' Errors + PublishFailures) and DLQ.
   */
  const mathAlarms = ['runbook-api-5xx', 'runbook-dlq-not-empty', 'runbook-publisher-dlq-not-empty', 'runbook-publisher-errors'];

  it('creates exactly the listed alarms', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', expected.length + mathAlarms.length);
  });

  it('names every alarm <prefix>-<id>, links a full runbook URL, and notifies the topic of its severity', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties);
    expect(alarms.length).toBeGreaterThan(10);
    for (const alarm of alarms) {
      const anchor = alarm.AlarmDescription.match(/#(runbook-[a-z0-9-]+)$/)?.[1];
      expect(anchor).toBeDefined();
      expect(alarm.AlarmName).toBe(`lkw-prod-${anchor!.slice('runbook-'.length)}`);
      expect(alarm.AlarmDescription).toMatch(new RegExp(`Runbook: ${RUNBOOKS.replace(/[.]/g, '\\.')}#${anchor}$`));
      const topic = / Severity: page\. /.test(alarm.AlarmDescription) ? pageTopic : ticketTopic;
      expect(alarm.AlarmActions).toEqual([topic]);
      expect(alarm.OKActions).toEqual([topic]);
    }
  });

  it('pages for missed events, DLQ, queue age, lag, ingest 5xx, API 5xx and the publisher DLQ; tickets for the rest', () => {
    const pages = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
      .map((a: any) => a.Properties)
      .filter((a) => JSON.stringify(a.AlarmActions) === JSON.stringify([pageTopic]))
      .map((a) => a.AlarmName)
      .sort();
    expect(pages).toEqual([
      'lkw-prod-api-5xx',
      'lkw-prod-apply-lag',
      'lkw-prod-dlq-not-empty',
      'lkw-prod-ingest-5xx',
      'lkw-prod-missed-events',
      'lkw-prod-publisher-dlq-not-empty',
      'lkw-prod-queue-oldest-message-age',
    ]);
  });

  it('counts an empty keys secret as "not configured", never as an enqueue failure (which pages)', () => {
    const messages = (pattern: string) => [...pattern.matchAll(/\$\.message = "([^"]+)"/g)].map((match) => match[1]);
    expect(messages(LOG_METRICS.notConfigured.pattern)).toEqual(['LiveKit API keys not configured; asking LiveKit to retry']);
    expect(messages(LOG_METRICS.enqueueFailures.pattern)).not.toContain('LiveKit API keys not configured; asking LiveKit to retry');
    // A secret that cannot be read is still a failure.
    expect(messages(LOG_METRICS.enqueueFailures.pattern)).toContain('LiveKit API keys unavailable; asking LiveKit to retry');
  });

  it('pages on API 5xx minus the 503s of a stack still waiting for its keys', () => {
    const alarm = findAlarm('runbook-api-5xx');
    expect(alarm.AlarmActions).toEqual([pageTopic]);
    const expression = alarm.Metrics.find((q: any) => q.Expression);
    expect(expression).toMatchObject({
      Expression: 'FILL(errors, 0) - FILL(notConfigured, 0) - FILL(unknownKeyRetries, 0)',
      ReturnData: true,
    });
    const byId = Object.fromEntries(alarm.Metrics.filter((q: any) => q.MetricStat).map((q: any) => [q.Id, q.MetricStat]));
    expect(byId.errors).toMatchObject({
      Metric: { Namespace: 'AWS/ApiGateway', MetricName: '5xx', Dimensions: apiDimensions },
      Stat: 'Sum',
      Period: 60,
    });
    // This pipeline's NotConfigured only: another pipeline's waiting stack must not hide this one's 5xx.
    expect(byId.notConfigured).toMatchObject({
      Metric: { Namespace: 'LiveKitWebhooks', MetricName: 'NotConfigured', Dimensions: pipelineDimension },
      Stat: 'Sum',
      Period: 60,
    });
    // Nor the 503s for key ids the last key set lacks while the secret cannot be re-read (forged ones page nobody).
    expect(byId.unknownKeyRetries).toMatchObject({
      Metric: { Namespace: 'LiveKitWebhooks', MetricName: 'UnknownKeyRetries', Dimensions: pipelineDimension },
      Stat: 'Sum',
      Period: 60,
    });
    expect(alarm).toMatchObject({
      Threshold: 5,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    });
  });

  it.each([
    ['runbook-dlq-not-empty', () => stack.eventQueue.deadLetterQueue],
    ['runbook-publisher-dlq-not-empty', () => stack.processing.publisherDeadLetterQueue],
  ])('%s pages on the messages visible and in flight, so a redrive that holds them does not close and reopen the page', (anchor, queue) => {
    const alarm = findAlarm(anchor);
    expect(alarm.AlarmActions).toEqual([pageTopic]);
    expect(alarm.Metrics.find((q: any) => q.Expression)).toMatchObject({
      Expression: 'FILL(visible, 0) + FILL(inFlight, 0)',
      ReturnData: true,
    });
    const byId = Object.fromEntries(alarm.Metrics.filter((q: any) => q.MetricStat).map((q: any) => [q.Id, q.MetricStat]));
    expect(Object.keys(byId).sort()).toEqual(['inFlight', 'visible']);
    for (const [id, metricName] of [
      ['visible', 'ApproximateNumberOfMessagesVisible'],
      ['inFlight', 'ApproximateNumberOfMessagesNotVisible'],
    ])
      expect(byId[id]).toMatchObject({
        Metric: { Namespace: 'AWS/SQS', MetricName: metricName, Dimensions: queueDimension(queue()) },
        Stat: 'Maximum',
        Period: 60,
      });
    expect(alarm).toMatchObject({
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it.each(expected)(
    '%s (%s): %s %s, threshold and periods as specified',
    (anchor, severity, namespace, metricName, dimensions, statistic, period, threshold, comparison, n, m, missing) => {
      const alarm = findAlarm(anchor);
      const topic = severity === 'page' ? pageTopic : ticketTopic;
      expect(alarm).toMatchObject({
        Namespace: namespace,
        MetricName: metricName,
        Period: period,
        Threshold: threshold,
        ComparisonOperator: comparison,
        EvaluationPeriods: n,
        DatapointsToAlarm: m,
        TreatMissingData: missing,
        AlarmActions: [topic],
        OKActions: [topic],
      });
      expect(alarm.Dimensions).toEqual(dimensions());
      if (statistic.startsWith('p')) expect(alarm.ExtendedStatistic).toBe(statistic);
      else expect(alarm.Statistic).toBe(statistic);
      // The description says what happened, its severity, then where the runbook is.
      expect(alarm.AlarmDescription).toMatch(new RegExp(`^.{40,}\\. Severity: ${severity}\\. Runbook: https://\\S+#${anchor}$`));
    },
  );

  it('follows the reconcile interval for the reconciler alarms', () => {
    const { template: slow } = synthWithReconciler({ reconcile: { intervalMinutes: 5 } });
    const heartbeat = Object.values(slow.findResources('AWS::CloudWatch::Alarm')).find(
      (a: any) => a.Properties.MetricName === 'ReconcileHeartbeat',
    ) as any;
    expect(heartbeat.Properties).toMatchObject({ Period: 300, EvaluationPeriods: 3, TreatMissingData: 'breaching' });
  });

  it('creates no reconciler errors or heartbeat alarm without a reconcile function (a heartbeat nobody sends would page forever)', () => {
    const { template: plain } = synthMonitoringAlone();
    plain.resourceCountIs('AWS::CloudWatch::Alarm', expected.length + mathAlarms.length - 4); // no reconciler (2) and no publisher (2) given
    const names = Object.values(plain.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties.MetricName);
    expect(names).toContain('MissedEvents');
    expect(names).not.toContain('ReconcileHeartbeat');
  });

  it('refuses to monitor the reconciler twice', () => {
    expect(() => stack.monitoring.monitorReconciler(inlineFunction(stack, 'Second'))).toThrow(/already monitored/);
  });

  it('creates one topic per severity, encrypted with a rotated customer managed key, TLS only', () => {
    template.resourceCountIs('AWS::SNS::Topic', 2);
    for (const topic of [stack.monitoring.topics.page, stack.monitoring.topics.ticket]) {
      template.hasResourceProperties('AWS::SNS::Topic', {
        KmsMasterKeyId: { 'Fn::GetAtt': [id(stack.monitoring.topicKey!), 'Arn'] },
        TopicName: Match.absent(),
      });
      expect(id(topic as any)).toBeDefined();
    }
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.resourceCountIs('AWS::SNS::TopicPolicy', 2);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sns:Publish',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
          }),
        ]),
      },
    });
  });

  it('brings in existing topics by ARN: no topic, key or subscription is created, and the alarms notify those ARNs', () => {
    const page = 'arn:aws:sns:eu-west-1:123456789012:pagerduty-critical';
    const ticket = 'arn:aws:sns:eu-west-1:123456789012:chatbot-ops';
    const { template: brought } = synthWithReconciler({
      alarms: { pageTopicArn: page, ticketTopicArn: ticket, email: 'oncall@example.com' },
    });
    brought.resourceCountIs('AWS::SNS::Topic', 0);
    brought.resourceCountIs('AWS::KMS::Key', Object.keys(synthPipeline().template.findResources('AWS::KMS::Key')).length - 1);
    brought.resourceCountIs('AWS::SNS::Subscription', 0);
    const alarms = Object.values(brought.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties);
    for (const alarm of alarms) {
      const expectedArn = / Severity: page\. /.test(alarm.AlarmDescription) ? page : ticket;
      expect(alarm.AlarmActions).toEqual([expectedArn]);
      expect(alarm.OKActions).toEqual([expectedArn]);
    }
    expect(new Set(alarms.map((a) => a.AlarmActions[0]))).toEqual(new Set([page, ticket]));
    brought.hasOutput('PageTopicArn', { Value: page });
    brought.hasOutput('TicketTopicArn', { Value: ticket });
  });

  it('brings in one topic and creates the other', () => {
    const page = 'arn:aws:sns:eu-west-1:123456789012:pagerduty-critical';
    const { template: mixed } = synthWithReconciler({ alarms: { pageTopicArn: page } });
    mixed.resourceCountIs('AWS::SNS::Topic', 1);
    const dlq = Object.values(mixed.findResources('AWS::CloudWatch::Alarm'))
      .map((a: any) => a.Properties)
      .find((a) => a.AlarmName.endsWith('-dlq-not-empty'));
    expect(dlq.AlarmActions).toEqual([page]);
  });

  it('names alarms after the stack by default, and links the runbook path in the repository without a base URL', () => {
    const { template: plain } = synthWithReconciler();
    for (const alarm of Object.values(plain.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties)) {
      expect(alarm.AlarmName).toMatch(/^MonitoredPipeline-[a-z0-9-]+$/);
      expect(alarm.AlarmDescription).toMatch(/ Runbook: docs\/runbooks\.md#runbook-[a-z0-9-]+$/);
    }
  });

  it('adds the publisher errors (ticket) and publisher DLQ (page) alarms when given the publisher', () => {
    const { template: without } = synthMonitoringAlone();
    const { template: withPublisher, monitoring } = synthMonitoringAlone({}, true);
    const count = (t: Template) => Object.keys(t.findResources('AWS::CloudWatch::Alarm')).length;
    expect(count(withPublisher)).toBe(count(without) + 2);
    const props = (alarmId: string) =>
      Object.values(withPublisher.findResources('AWS::CloudWatch::Alarm'))
        .map((a: any) => a.Properties)
        .find((a) => a.AlarmName === `TestStack-${alarmId}`);
    // Its failed invocations and the changes the bus refused: a failed PutEvents is a partial batch
    // failure, which leaves the invocation successful (0 Errors) while nothing is published.
    const publisherErrors = props('publisher-errors');
    expect(publisherErrors.Metrics.find((q: any) => q.Expression)).toMatchObject({
      Expression: 'FILL(errors, 0) + FILL(refused, 0)',
      ReturnData: true,
    });
    const byId = Object.fromEntries(publisherErrors.Metrics.filter((q: any) => q.MetricStat).map((q: any) => [q.Id, q.MetricStat]));
    expect(byId.errors).toMatchObject({ Metric: { Namespace: 'AWS/Lambda', MetricName: 'Errors' }, Stat: 'Sum', Period: 60 });
    expect(byId.refused).toMatchObject({
      Metric: { Namespace: 'LiveKitWebhooks', MetricName: 'PublishFailures' },
      Stat: 'Sum',
      Period: 60,
    });
    expect(props('publisher-dlq-not-empty')).toMatchObject({ Threshold: 1 });
    expect(
      props('publisher-dlq-not-empty')
        .Metrics.map((q: any) => q.MetricStat?.Metric.MetricName)
        .filter(Boolean),
    ).toEqual(['ApproximateNumberOfMessagesVisible', 'ApproximateNumberOfMessagesNotVisible']);
    const topicRef = (severity: 'page' | 'ticket') => ({
      Ref: Stack.of(monitoring).getLogicalId(monitoring.topics[severity].node.defaultChild as CfnElement),
    });
    expect(props('publisher-errors').AlarmActions).toEqual([topicRef('ticket')]);
    expect(props('publisher-dlq-not-empty').AlarmActions).toEqual([topicRef('page')]);
    const body = JSON.stringify(Object.values(withPublisher.findResources('AWS::CloudWatch::Dashboard'))[0]);
    expect(body).toContain('publisher errors');
    expect(body).toContain('publisher DLQ depth');
  });

  it('lets CloudWatch (of this account only) use the topic key', () => {
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          }),
        ]),
      },
    });
  });

  it('subscribes the configured email, and nobody when none is configured', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: pageTopic });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: ticketTopic });
    synthPipeline().template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('builds one dashboard following the flow: webhooks in, enqueued, applied, missed/repaired, DLQ, latencies, lag', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const title of [
      'Webhooks in',
      'Enqueued',
      'Applied',
      'Missed / repaired',
      'Queue and DLQ',
      'Latencies',
      'State lag',
      'Alarms that page',
      'Alarms that open a ticket',
      'Reconciler alarms',
    ]) {
      expect(body).toContain(title);
    }
    for (const metric of [
      'EventsEnqueued',
      'EventsProcessed',
      'MissedEvents',
      'RepairsSent',
      'ApproximateNumberOfMessagesVisible',
      'Latency',
      'ReconcileRunDuration',
      'ApplyLag',
      'EventAge',
      'NotConfigured',
      'SignatureProbes',
    ]) {
      expect(body).toContain(metric);
    }
  });

  it('lists each repaired event on the dashboard with a Logs Insights query over the reconciler log group, on the line the reconciler writes', () => {
    const dashboard = Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0] as any;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain('Missed events (repaired)');
    expect(body).toMatch(/\| filter message = \W+missed event repaired\W+\\n\| sort @timestamp desc/);
    for (const field of ['eventType', 'room', 'entityId', 'firstSeenAt']) expect(body).toContain(field);
    // The query names the reconcile function's log group.
    expect(body).toContain(id(stack.reconciler.function.logGroup as any));
    // settle.ts writes the line, once per repair.
    const settle = readFileSync(repoPath('lambda', 'reconcile', 'settle.ts'), 'utf8');
    expect(settle).toContain(`'${MISSED_EVENT_REPAIRED_MESSAGE}'`);
    for (const field of ['eventType', 'room', 'entityId', 'firstSeenAt'])
      expect(settle).toMatch(new RegExp(`logger\\.warn\\('missed event repaired', \\{[^}]*\\b${field}\\b`));
  });

  it('counts signature failures, enqueue failures, enqueued and applied events, and throttled requests from log lines', () => {
    // Each metric's Pipeline dimension is the line's `pipeline` field, which the pattern requires.
    const filter = (logGroup: { node: { defaultChild?: unknown } }, name: string, pattern: string) =>
      template.hasResourceProperties('AWS::Logs::MetricFilter', {
        LogGroupName: { Ref: id(logGroup) },
        FilterPattern: pattern,
        MetricTransformations: [
          {
            MetricName: name,
            MetricNamespace: 'LiveKitWebhooks',
            MetricValue: '1',
            Dimensions: [{ Key: 'Pipeline', Value: '$.pipeline' }],
          },
        ],
      });
    filter(
      stack.ingest.function.logGroup,
      'SignatureFailures',
      '{ $.pipeline = * && ($.message = "webhook rejected" && ($.reason = "unknown_key" || $.reason = "body_hash_mismatch" || $.reason = "invalid_token")) }',
    );
    filter(
      stack.ingest.function.logGroup,
      'SignatureProbes',
      '{ $.pipeline = * && ($.message = "webhook rejected" && ($.reason = "missing_token" || $.reason = "malformed_token")) }',
    );
    filter(
      stack.ingest.function.logGroup,
      'NotConfigured',
      '{ $.pipeline = * && ($.message = "LiveKit API keys not configured; asking LiveKit to retry") }',
    );
    filter(
      stack.ingest.function.logGroup,
      'UnknownKeyRetries',
      '{ $.pipeline = * && ($.message = "API key not in the keys read, and the keys secret cannot be read again; asking the sender to retry") }',
    );
    filter(stack.ingest.function.logGroup, 'EnqueueFailures', LOG_METRICS.enqueueFailures.pattern);
    filter(stack.ingest.function.logGroup, 'EventsEnqueued', LOG_METRICS.eventsEnqueued.pattern);
    filter(stack.processing.function.logGroup, 'EventsProcessed', LOG_METRICS.eventsProcessed.pattern);
    filter(stack.ingest.accessLogs, 'ApiThrottledRequests', '{ $.pipeline = * && ($.status = "429") }');
    template.resourceCountIs('AWS::Logs::MetricFilter', 8);
  });

  it('filters on log messages the functions really write (renaming one would blind an alarm)', () => {
    const source = (file: string) => readFileSync(repoPath('lambda', file), 'utf8');
    const ingest = source('ingest/webhook-ingest.ts');
    const processor = source('process/processor.ts');
    const messages = (pattern: string) => [...pattern.matchAll(/\$\.message = "([^"]+)"/g)].map((match) => match[1]);
    for (const message of [
      ...messages(LOG_METRICS.signatureFailures.pattern),
      ...messages(LOG_METRICS.signatureProbes.pattern),
      ...messages(LOG_METRICS.enqueueFailures.pattern),
      ...messages(LOG_METRICS.notConfigured.pattern),
      ...messages(LOG_METRICS.unknownKeyRetries.pattern),
      ...messages(LOG_METRICS.eventsEnqueued.pattern),
    ]) {
      expect(ingest).toContain(`'${message}'`);
    }
    for (const message of messages(LOG_METRICS.eventsProcessed.pattern)) expect(processor).toContain(`'${message}'`);
    // The rejections log through `reject(status, reason, ...)`, whose line carries `reason`; every reason filtered on is one the ingest has.
    expect(ingest).toMatch(/log\.warn\('webhook rejected', \{ statusCode, reason,/);
    const reasons = ingest.match(/export type RejectReason =([^;]+);/)![1];
    for (const reason of [...LOSS_REJECT_REASONS, ...PROBE_REJECT_REASONS]) {
      expect(reasons).toContain(`'${reason}'`);
      expect(ingest).toMatch(new RegExp(`reject\\(401, '${reason}'`));
    }
    // The access log writes `status` as a JSON string, which the 429 filter matches as a string.
    expect(accessLogFields('any').status).toBe('$context.status');
  });

  it("writes the pipeline's name where the filters take the Pipeline dimension from: each function's PIPELINE_NAME, the access log", () => {
    const variables = (fn: { node: { defaultChild?: unknown } }) =>
      template.findResources('AWS::Lambda::Function')[id(fn)].Properties.Environment.Variables;
    for (const fn of [stack.ingest.function, stack.processing.function, stack.processing.publisherFunction, stack.reconciler.function])
      expect(variables(fn).PIPELINE_NAME).toBe('lkw-prod');
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0] as any;
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format);
    expect(format).toMatchObject({ pipeline: 'lkw-prod', status: '$context.status' });
  });

  it('exports what the on-call tooling needs', () => {
    for (const output of [
      'QueueUrl',
      'DeadLetterQueueUrl',
      'StateTableName',
      'EventBusName',
      'EventBusArn',
      'EventArchiveArn',
      'PageTopicArn',
      'TicketTopicArn',
      'DashboardName',
    ]) {
      template.hasOutput(output, {});
    }
  });
});

describe('two pipelines in one stack (as staging and prod in one region): each reads only its own metrics', () => {
  const app = new App();
  const stack = new Stack(app, 'Platform');
  const staging = new LiveKitWebhookPipeline(stack, 'Staging', { livekitUrl: LIVEKIT_URL, alarms: { namePrefix: 'lkw-staging' } });
  const prod = new LiveKitWebhookPipeline(stack, 'Prod', { livekitUrl: LIVEKIT_URL, alarms: { namePrefix: 'lkw-prod' } });
  const template = Template.fromStack(stack);
  const pipelines = [
    { pipeline: staging, name: 'lkw-staging' },
    { pipeline: prod, name: 'lkw-prod' },
  ];
  const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);

  it('names each pipeline after its alarm prefix', () => {
    expect(staging.pipelineName).toBe('lkw-staging');
    expect(prod.pipelineName).toBe('lkw-prod');
  });

  it.each(['lkw-staging', 'lkw-prod'])(
    "%s: every alarm on a custom metric reads it under the pipeline's own Pipeline dimension",
    (name) => {
      const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm'))
        .map((alarm: any) => alarm.Properties)
        .filter((alarm) => alarm.AlarmName.startsWith(`${name}-`));
      const custom = alarms.flatMap((alarm) =>
        alarmMetrics(alarm)
          .filter((metric) => metric.namespace === 'LiveKitWebhooks')
          .map((metric) => ({ alarm: alarm.AlarmName as string, ...metric })),
      );
      // missed events, apply lag, ingest 5xx, API 5xx (its NotConfigured and UnknownKeyRetries), not configured, signature failures,
      // publisher errors (its PublishFailures), heartbeat, 429s
      expect(custom.map((metric) => metric.alarm).sort()).toEqual(
        [
          'api-5xx',
          'api-5xx',
          'api-throttling',
          'apply-lag',
          'ingest-5xx',
          'ingest-signature-failures',
          'missed-events',
          'not-configured',
          'publisher-errors',
          'reconciler-heartbeat-missing',
        ].map((id) => `${name}-${id}`),
      );
      for (const metric of custom)
        expect({ alarm: metric.alarm, dimensions: metric.dimensions }).toEqual({ alarm: metric.alarm, dimensions: { Pipeline: name } });
    },
  );

  it.each(pipelines)('$name: its dashboard graphs every custom metric under its own Pipeline dimension', ({ pipeline, name }) => {
    const dashboard = template.findResources('AWS::CloudWatch::Dashboard')[logicalId(pipeline.dashboard)];
    const custom = dashboardMetrics(dashboard).filter((metric) => metric.namespace === 'LiveKitWebhooks');
    expect(new Set(custom.map((metric) => metric.metricName))).toEqual(
      new Set([
        'ApiThrottledRequests',
        'SignatureFailures',
        'SignatureProbes',
        'EventsEnqueued',
        'EnqueueFailures',
        'NotConfigured',
        'EventsProcessed',
        'MissedEvents',
        'RepairsSent',
        'ReconcileHeartbeat',
        'LiveKitApiErrors',
        'ReconcileRunDuration',
        'ApplyLag',
        'EventAge',
      ]),
    );
    for (const metric of custom)
      expect({ metric: metric.metricName, dimensions: metric.dimensions }).toEqual({
        metric: metric.metricName,
        dimensions: { Pipeline: name },
      });
  });

  it.each(pipelines)('$name: its functions emit under its name (PIPELINE_NAME), and its access log writes it', ({ pipeline, name }) => {
    const functions = template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(pipeline.functions))
      expect(functions[logicalId(fn)].Properties.Environment.Variables.PIPELINE_NAME).toBe(name);
    const stage = template.findResources('AWS::ApiGatewayV2::Stage')[logicalId(pipeline.ingest.stage)];
    expect(JSON.parse(stage.Properties.AccessLogSettings.Format).pipeline).toBe(name);
  });

  it.each(pipelines)("$name: its metric filters take the Pipeline dimension from the line's own pipeline field", ({ pipeline }) => {
    const logGroups = [pipeline.ingest.function.logGroup, pipeline.processing.function.logGroup, pipeline.ingest.accessLogs].map(
      (group) => ({
        Ref: logicalId(group as never),
      }),
    );
    const filters = Object.values(template.findResources('AWS::Logs::MetricFilter'))
      .map((filter: any) => filter.Properties)
      .filter((filter) => logGroups.some((group) => JSON.stringify(group) === JSON.stringify(filter.LogGroupName)));
    expect(filters).toHaveLength(8);
    for (const filter of filters) {
      expect(filter.FilterPattern).toMatch(/^\{ \$\.pipeline = \* && /);
      expect(filter.MetricTransformations).toEqual([expect.objectContaining({ Dimensions: [{ Key: 'Pipeline', Value: '$.pipeline' }] })]);
    }
  });

  it.each(pipelines)('$name: its metric helpers read its own metrics', ({ pipeline, name }) => {
    for (const metric of [
      pipeline.metricMissedEvents(),
      pipeline.metricApplyLag(),
      pipeline.metricEventsProcessed(),
      pipeline.metric('ReconcileHeartbeat'),
      // Another dimension is added to the pipeline's, never instead of it.
      pipeline.metric('MissedEvents', { dimensionsMap: { EventType: 'room_finished', Pipeline: 'someone-else' } }),
    ])
      expect(metric.dimensions).toMatchObject({ Pipeline: name });
    expect(pipeline.metric('MissedEvents', { dimensionsMap: { EventType: 'room_finished' } }).dimensions).toEqual({
      EventType: 'room_finished',
      Pipeline: name,
    });
  });
});
