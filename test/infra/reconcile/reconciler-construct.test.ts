import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { DEFAULT_CONFIG, parseConfig, PipelineConfig } from '../../../lib/config';
import { RUNTIME } from '../../../lib/lambda-defaults';
import { Reconciler } from '../../../lib/reconciler';
import { reconcileTimings, SDK_WORST_CASE_MS } from '../../../lambda/reconcile/limits';
import { synthPipeline } from '../../support/synth';

function synth(config: PipelineConfig = DEFAULT_CONFIG) {
  const stack = new Stack(new App(), 'Test');
  const table = new dynamodb.Table(stack, 'StateTable', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
  });
  const queue = new sqs.Queue(stack, 'Queue');
  const keys = new secretsmanager.Secret(stack, 'LiveKitKeys');
  const reconciler = new Reconciler(stack, 'Reconciler', { config, table, queue, keys });
  return { stack, reconciler, template: Template.fromStack(stack) };
}

const { template, reconciler } = synth();

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown; Effect: string };
const statements = (t: Template): Statement[] =>
  Object.values(t.findResources('AWS::IAM::Policy')).flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
const actionsOf = (statement: Statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]);

describe('the schedule', () => {
  test('runs the function every reconcile.intervalMinutes, without retrying a failed run', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ReconcilerFunction'), 'Arn'] },
          RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 0 }),
        }),
      ],
    });
  });

  test('follows a changed interval', () => {
    synth(parseConfig({ reconcile: { intervalMinutes: 5 } })).template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
    });
  });

  test('is allowed to invoke the function', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com' });
  });
});

describe('the function', () => {
  test('has a timeout below the interval that covers the SDK worst case after the time budget', () => {
    const { timeoutSeconds, timeBudgetMs } = reconcileTimings(1);
    expect(timeoutSeconds).toBeLessThan(60);
    expect(timeBudgetMs + SDK_WORST_CASE_MS).toBeLessThan(timeoutSeconds * 1000);
    expect(timeBudgetMs).toBeGreaterThanOrEqual(10_000);
    expect(reconciler.timeBudgetMs).toBe(timeBudgetMs);
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: timeoutSeconds, Runtime: RUNTIME.name, Architectures: ['arm64'] });
  });

  test('gets the table, queue, LiveKit URL, secret, settings and time budget in its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: { Ref: Match.stringLikeRegexp('^StateTable') },
          QUEUE_URL: { Ref: Match.stringLikeRegexp('^Queue') },
          LIVEKIT_URL: DEFAULT_CONFIG.livekit.url,
          LIVEKIT_KEYS_SECRET_ID: { Ref: Match.stringLikeRegexp('^LiveKitKeys') },
          RECONCILE_INTERVAL_MINUTES: '1',
          RECONCILE_GRACE_SECONDS: String(DEFAULT_CONFIG.reconcile.graceSeconds),
          RECONCILE_REQUEST_BUDGET: String(DEFAULT_CONFIG.reconcile.requestBudgetPerRun),
          RECONCILE_CONCURRENCY: String(DEFAULT_CONFIG.reconcile.concurrency),
          RECONCILE_TIME_BUDGET_MS: String(reconcileTimings(1).timeBudgetMs),
          RECONCILE_WEBHOOK_EVENTS: DEFAULT_CONFIG.livekit.webhookEvents.join(','),
        }),
      },
    });
  });

  test("passes livekit.webhookEvents, the project's webhook filter, to the function", () => {
    synth(parseConfig({ livekit: { webhookEvents: ['room_started', 'room_finished'] } })).template.hasResourceProperties(
      'AWS::Lambda::Function',
      {
        Environment: { Variables: Match.objectLike({ RECONCILE_WEBHOOK_EVENTS: 'room_started,room_finished' }) },
      },
    );
  });

  test('names the API key to sign with when config does, and not otherwise', () => {
    synth(parseConfig({ livekit: { apiKey: 'APInew' } })).template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ LIVEKIT_API_KEY: 'APInew' }) },
    });
    const variables = Object.values(template.findResources('AWS::Lambda::Function'))[0].Properties.Environment.Variables;
    expect(variables).not.toHaveProperty('LIVEKIT_API_KEY');
  });
});

describe('permissions (no more than it needs)', () => {
  const all = statements(template);
  const actions = all.flatMap(actionsOf);

  test('reads the table and its indexes', () => {
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:Query', 'dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:BatchGetItem']));
  });

  test('writes to the table only under its own RECONCILE# keys', () => {
    const writes = all.filter((statement) => actionsOf(statement).some((action) => /dynamodb:(Put|Update|Delete|BatchWrite)/.test(action)));
    expect(writes).toHaveLength(1);
    expect(actionsOf(writes[0]).sort()).toEqual([
      'dynamodb:BatchWriteItem',
      'dynamodb:DeleteItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(writes[0].Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RECONCILE#*'] } });
    // The table itself, not its indexes (which cannot be written anyway).
    expect(writes[0].Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^StateTable/), 'Arn'] });
  });

  test('sends to the queue, reads the keys secret, and nothing else', () => {
    expect(actions).toEqual(expect.arrayContaining(['sqs:SendMessage', 'secretsmanager:GetSecretValue']));
    const allowed =
      /^(dynamodb:(BatchGetItem|Query|Scan|GetItem|ConditionCheckItem|DescribeTable|GetRecords|GetShardIterator|PutItem|UpdateItem|DeleteItem|BatchWriteItem)|sqs:(SendMessage|GetQueueAttributes|GetQueueUrl)|secretsmanager:(GetSecretValue|DescribeSecret)|logs:(CreateLogStream|PutLogEvents))$/;
    expect(actions.filter((action) => !allowed.test(action))).toEqual([]);
    expect(actions).not.toContain('sqs:ReceiveMessage');
    expect(actions).not.toContain('cloudwatch:PutMetricData');
  });
});

describe('props validation', () => {
  test('refuses a request budget below one ListRooms, one ListEgress and one ListParticipants', () => {
    const config = { ...DEFAULT_CONFIG, reconcile: { ...DEFAULT_CONFIG.reconcile, requestBudgetPerRun: 2 } };
    expect(() => synth(config)).toThrow(/requestBudgetPerRun/);
  });
});

describe('in the pipeline stack', () => {
  const { template: stackTemplate } = synthPipeline();

  test('targets the stack state table and event queue, and is monitored (heartbeat alarm)', () => {
    stackTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          TABLE_NAME: { Ref: 'StateTable' },
          QUEUE_URL: { Ref: Match.stringLikeRegexp('^EventsQueue') },
          RECONCILE_TIME_BUDGET_MS: Match.anyValue(),
        }),
      },
    });
    stackTemplate.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ReconcileHeartbeat' });
  });

  test('has a one-minute schedule by default', () => {
    stackTemplate.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
  });
});
