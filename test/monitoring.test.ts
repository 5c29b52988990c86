import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { parseConfig } from '../lib/config';
import { LOG_METRICS, Monitoring } from '../lib/monitoring';
import { PipelineStack } from '../lib/pipeline-stack';
import { bareStack, synthPipeline } from './support/synth';

/*
 * The monitoring construct as synthesised in the whole stack: every alarm's metric, threshold,
 * comparison, periods, missing-data treatment and action; the topic; the dashboard; and the metric
 * filters that turn existing log lines into the metrics some alarms read.
 */

const inlineFunction = (scope: Construct, id: string) =>
  new lambda.Function(scope, id, { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler = async () => {}') });

/**
 * The whole stack with its reconciler's function monitored: the stack's own when it has one,
 * else a stand-in (the construct must not depend on the reconciler being there).
 */
function synthWithReconciler(input = {}) {
  const app = new App();
  const stack = new PipelineStack(app, 'MonitoredPipeline', { config: parseConfig(input) });
  let reconcile: lambda.IFunction | undefined = (stack as { reconciler?: { function: lambda.IFunction } }).reconciler?.function;
  if (!reconcile) {
    reconcile = inlineFunction(stack, 'StandInReconcile');
    stack.monitoring.monitorReconciler(reconcile);
  }
  return { stack, reconcile, template: Template.fromStack(stack) };
}

/** The construct alone, on minimal stand-ins, without a reconcile function. */
function synthMonitoringAlone() {
  const stack = bareStack();
  const api = new apigw.HttpApi(stack, 'Api', { createDefaultStage: false });
  const stage = new apigw.HttpStage(stack, 'Stage', { httpApi: api, stageName: '$default' });
  const monitoring = new Monitoring(stack, 'Monitoring', {
    config: parseConfig({}),
    stage,
    accessLogGroup: new logs.LogGroup(stack, 'Access'),
    ingestFunction: inlineFunction(stack, 'Ingest'),
    ingestLogGroup: new logs.LogGroup(stack, 'IngestLogs'),
    processFunction: inlineFunction(stack, 'Process'),
    processLogGroup: new logs.LogGroup(stack, 'ProcessLogs'),
    queue: new sqs.Queue(stack, 'Queue'),
    deadLetterQueue: new sqs.Queue(stack, 'Dlq'),
  });
  return { monitoring, template: Template.fromStack(stack) };
}

describe('Monitoring construct', () => {
  const { stack, reconcile, template } = synthWithReconciler({ alarms: { email: 'oncall@example.com', missedEventsThreshold: 2, missedEventsEvaluationPeriods: 3 } });
  const id = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const topic = { Ref: id(stack.monitoring.topic) };
  const fnDimension = (fn: { node: { defaultChild?: unknown } }) => [{ Name: 'FunctionName', Value: { Ref: id(fn) } }];
  const apiDimensions = [
    { Name: 'ApiId', Value: { Ref: id(stack.ingest.api) } },
    { Name: 'Stage', Value: '$default' },
  ];
  const queueDimension = (queue: { node: { defaultChild?: unknown } }) => [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [id(queue), 'QueueName'] } }];

  const findAlarm = (anchor: string): Record<string, any> => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a: any) => a.Properties.AlarmDescription.endsWith(`README.md#${anchor}`));
    expect(alarms).toHaveLength(1);
    return (alarms[0] as any).Properties;
  };

  // anchor, namespace, metric, dimensions, statistic, period, threshold, comparison, N, M, missing data
  const expected: Array<[string, string, string, () => unknown, string, number, number, string, number, number, string]> = [
    ['runbook-missed-events', 'LiveKitWebhooks', 'MissedEvents', () => undefined, 'Sum', 60, 2, 'GreaterThanOrEqualToThreshold', 3, 3, 'notBreaching'],
    ['runbook-dlq-not-empty', 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', () => queueDimension(stack.eventQueue.deadLetterQueue), 'Maximum', 60, 1, 'GreaterThanOrEqualToThreshold', 1, 1, 'notBreaching'],
    ['runbook-queue-oldest-message-age', 'AWS/SQS', 'ApproximateAgeOfOldestMessage', () => queueDimension(stack.eventQueue.queue), 'Maximum', 60, 905, 'GreaterThanThreshold', 3, 3, 'notBreaching'],
    ['runbook-ingest-5xx', 'LiveKitWebhooks', 'EnqueueFailures', () => undefined, 'Sum', 60, 3, 'GreaterThanOrEqualToThreshold', 3, 2, 'notBreaching'],
    ['runbook-ingest-signature-failures', 'LiveKitWebhooks', 'SignatureFailures', () => undefined, 'Sum', 300, 5, 'GreaterThanOrEqualToThreshold', 1, 1, 'notBreaching'],
    ['runbook-ingest-latency-p99', 'AWS/ApiGateway', 'Latency', () => apiDimensions, 'p99', 60, 1000, 'GreaterThanThreshold', 5, 3, 'notBreaching'],
    ['runbook-processor-errors', 'AWS/Lambda', 'Errors', () => fnDimension(stack.processing.function), 'Sum', 60, 1, 'GreaterThanOrEqualToThreshold', 5, 3, 'notBreaching'],
    ['runbook-processor-throttles', 'AWS/Lambda', 'Throttles', () => fnDimension(stack.processing.function), 'Sum', 60, 1, 'GreaterThanOrEqualToThreshold', 5, 3, 'notBreaching'],
    ['runbook-reconciler-errors', 'AWS/Lambda', 'Errors', () => fnDimension(reconcile), 'Sum', 60, 1, 'GreaterThanOrEqualToThreshold', 3, 2, 'notBreaching'],
    ['runbook-reconciler-heartbeat-missing', 'LiveKitWebhooks', 'ReconcileHeartbeat', () => undefined, 'Sum', 60, 1, 'LessThanThreshold', 3, 3, 'breaching'],
    ['runbook-api-5xx', 'AWS/ApiGateway', '5xx', () => apiDimensions, 'Sum', 60, 5, 'GreaterThanOrEqualToThreshold', 3, 2, 'notBreaching'],
    ['runbook-api-throttling', 'LiveKitWebhooks', 'ApiThrottledRequests', () => undefined, 'Sum', 60, 10, 'GreaterThanOrEqualToThreshold', 3, 2, 'notBreaching'],
  ];

  it('creates exactly the listed alarms', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', expected.length);
  });

  it.each(expected)('%s: %s %s, threshold and periods as specified, to the topic', (anchor, namespace, metricName, dimensions, statistic, period, threshold, comparison, n, m, missing) => {
    const alarm = findAlarm(anchor);
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
    // The description says what happened, then where the runbook is.
    expect(alarm.AlarmDescription).toMatch(new RegExp(`^.{40,}\\. Runbook: README\\.md#${anchor}$`));
  });

  it('follows the reconcile interval for the reconciler alarms', () => {
    const { template: slow } = synthWithReconciler({ reconcile: { intervalMinutes: 5 } });
    const heartbeat = Object.values(slow.findResources('AWS::CloudWatch::Alarm')).find((a: any) => a.Properties.MetricName === 'ReconcileHeartbeat') as any;
    expect(heartbeat.Properties).toMatchObject({ Period: 300, EvaluationPeriods: 3, TreatMissingData: 'breaching' });
  });

  it('creates no reconciler errors or heartbeat alarm without a reconcile function (a heartbeat nobody sends would page forever)', () => {
    const { template: plain } = synthMonitoringAlone();
    plain.resourceCountIs('AWS::CloudWatch::Alarm', expected.length - 2);
    const names = Object.values(plain.findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties.MetricName);
    expect(names).toContain('MissedEvents');
    expect(names).not.toContain('ReconcileHeartbeat');
  });

  it('refuses to monitor the reconciler twice', () => {
    expect(() => stack.monitoring.monitorReconciler(inlineFunction(stack, 'Second'))).toThrow(/already monitored/);
  });

  it('sends every alarm to one SNS topic, encrypted with a rotated customer managed key, TLS only', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [id(stack.monitoring.topicKey), 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({ Effect: 'Allow', Action: 'sns:Publish', Principal: { Service: 'cloudwatch.amazonaws.com' }, Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }) }),
        ]),
      },
    });
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
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: topic });
    synthPipeline().template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('builds one dashboard following the flow: webhooks in, enqueued, applied, missed/repaired, DLQ, latencies', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const title of ['Webhooks in', 'Enqueued', 'Applied', 'Missed / repaired', 'Queue and DLQ', 'Latencies', 'Pipeline alarms', 'Reconciler alarms']) {
      expect(body).toContain(title);
    }
    for (const metric of ['EventsEnqueued', 'EventsProcessed', 'MissedEvents', 'RepairsSent', 'ApproximateNumberOfMessagesVisible', 'Latency', 'ReconcileRunDuration']) {
      expect(body).toContain(metric);
    }
  });

  it('counts signature failures, enqueue failures, enqueued and applied events, and throttled requests from log lines', () => {
    const filter = (logGroup: { node: { defaultChild?: unknown } }, name: string, pattern: string) =>
      template.hasResourceProperties('AWS::Logs::MetricFilter', {
        LogGroupName: { Ref: id(logGroup) },
        FilterPattern: pattern,
        MetricTransformations: [{ MetricName: name, MetricNamespace: 'LiveKitWebhooks', MetricValue: '1' }],
      });
    filter(stack.ingest.function.logGroup as any, 'SignatureFailures', '{ $.message = "webhook rejected" && $.statusCode = 401 }');
    filter(stack.ingest.function.logGroup as any, 'EnqueueFailures', LOG_METRICS.enqueueFailures.pattern);
    filter(stack.ingest.function.logGroup as any, 'EventsEnqueued', LOG_METRICS.eventsEnqueued.pattern);
    filter(stack.processing.function.logGroup as any, 'EventsProcessed', LOG_METRICS.eventsProcessed.pattern);
    filter(stack.ingest.accessLogs, 'ApiThrottledRequests', '{ $.status = "429" }');
  });

  it('filters on log messages the functions really write (renaming one would blind an alarm)', () => {
    const source = (file: string) => readFileSync(join(__dirname, '..', 'lambda', file), 'utf8');
    const ingest = source('ingest/webhook-ingest.ts');
    const processor = source('process/processor.ts');
    const messages = (pattern: string) => [...pattern.matchAll(/\$\.message = "([^"]+)"/g)].map((match) => match[1]);
    for (const message of [...messages(LOG_METRICS.signatureFailures.pattern), ...messages(LOG_METRICS.enqueueFailures.pattern), ...messages(LOG_METRICS.eventsEnqueued.pattern)]) {
      expect(ingest).toContain(`'${message}'`);
    }
    for (const message of messages(LOG_METRICS.eventsProcessed.pattern)) expect(processor).toContain(`'${message}'`);
    // The 401 paths log through `reject(401, ...)`, whose line carries `statusCode`.
    expect(ingest).toMatch(/log\.warn\('webhook rejected', \{ statusCode,/);
    // The access log writes `status` as a JSON string, which the 429 filter matches as a string.
    expect(readFileSync(join(__dirname, '..', 'lib', 'ingest.ts'), 'utf8')).toContain("status: '$context.status'");
  });

  it('exports what the on-call tooling needs', () => {
    for (const output of ['QueueUrl', 'DeadLetterQueueUrl', 'StateTableName', 'EventBusName', 'EventBusArn', 'EventArchiveArn', 'AlarmTopicArn', 'DashboardName']) {
      template.hasOutput(output, {});
    }
  });
});
