import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { DEFAULT_CONFIG, parseConfig, PipelineConfig, queueVisibilityTimeoutSeconds } from '../../../lib/config';
import { RUNTIME } from '../../../lib/lambda-defaults';
import { Processing, PUBLISHER_RETRY_ATTEMPTS, STATE_TABLE_LOGICAL_ID } from '../../../lib/processing';
import { TABLE_SCHEMA } from '../../../contracts/table-schema';
import { unacknowledgedNagFindings } from '../../support/synth';

function synth(config: PipelineConfig = DEFAULT_CONFIG) {
  const stack = new Stack(new App(), 'Test');
  const queue = new sqs.Queue(stack, 'Queue', { visibilityTimeout: Duration.seconds(queueVisibilityTimeoutSeconds(config.processing)) });
  // A secret in the same stack, to show the processor is not given it.
  new secretsmanager.Secret(stack, 'LiveKitKeys');
  // Pinned as PipelineStack pins it (a stack deployed by 0.1 has its table under this id).
  const processing = new Processing(stack, 'Processing', { config, queue, tableLogicalId: STATE_TABLE_LOGICAL_ID });
  return { stack, processing, template: Template.fromStack(stack) };
}

const { template } = synth();

describe('the event source', () => {
  test('takes batch size, batching window and maximum concurrency from config, with partial batch failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: DEFAULT_CONFIG.processing.batchSize,
      MaximumBatchingWindowInSeconds: Match.absent(),
      ScalingConfig: { MaximumConcurrency: DEFAULT_CONFIG.processing.maxConcurrency },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Queue'), 'Arn'] },
    });
  });

  test('defaults to no batching window (lag) and batches of at most 10 (the most AWS allows without one)', () => {
    expect(DEFAULT_CONFIG.processing).toMatchObject({ batchSize: 10, maxBatchingWindowSeconds: 0 });
    expect(() => parseConfig({ processing: { batchSize: 11 } })).toThrow(/maxBatchingWindowSeconds/);
  });

  test('follows a changed config', () => {
    const config = parseConfig({ processing: { batchSize: 7, maxBatchingWindowSeconds: 3, maxConcurrency: 4 } });
    synth(config).template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 7,
      MaximumBatchingWindowInSeconds: 3,
      ScalingConfig: { MaximumConcurrency: 4 },
    });
  });
});

describe('the process function', () => {
  test('runs the shared Node runtime on arm64 with the configured timeout and the table and TTL in its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: RUNTIME.name,
      Architectures: ['arm64'],
      Timeout: DEFAULT_CONFIG.processing.timeoutSeconds,
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: STATE_TABLE_LOGICAL_ID },
          EVENT_RECORD_TTL_DAYS: String(DEFAULT_CONFIG.processing.eventRecordTtlDays),
          // The Pipeline dimension of its metrics: the alarm name prefix, by default the stack name.
          PIPELINE_NAME: 'Test',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
  });

  test('logs to a log group with the configured retention', () => {
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: DEFAULT_CONFIG.logRetentionDays });
  });

  test('may put items in the table and nothing else there: no reads, no transactions, no bus, nothing on the secret', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('ProcessingFunctionRole'));
    const statements = policies.flatMap(
      ([, policy]) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
    const actions = statements.flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]));
    expect(actions.filter((action) => action.startsWith('dynamodb:') || action.startsWith('events:'))).toEqual(['dynamodb:PutItem']);
    expect(statements.find((statement) => statement.Action === 'dynamodb:PutItem')?.Resource).toEqual({
      'Fn::GetAtt': [STATE_TABLE_LOGICAL_ID, 'Arn'],
    });
    expect(actions).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage']));
    expect(actions.filter((action) => action.startsWith('secretsmanager:') || action.startsWith('kms:Decrypt'))).toEqual([]);
    expect(JSON.stringify(statements)).not.toContain('LiveKitKeys');
  });
});

describe('the publisher', () => {
  const { processing } = synth();

  test('reads the table stream (new and old images) with partial batch failures, bisection, bounded retries and its own on-failure queue', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [STATE_TABLE_LOGICAL_ID, 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: PUBLISHER_RETRY_ATTEMPTS,
      MaximumRecordAgeInSeconds: 86_400,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ProcessingPublisherDeadLetterQueue'), 'Arn'] } },
      },
      FilterCriteria: {
        Filters: [
          {
            Pattern: JSON.stringify({ eventName: ['INSERT', 'MODIFY'], dynamodb: { NewImage: { entityType: { S: [{ exists: true }] } } } }),
          },
        ],
      },
    });
    expect(processing.publisherFunction).toBeDefined();
    expect(processing.publisherDeadLetterQueue).toBeDefined();
  });

  test('may put events on the bus and read the stream, and write nothing to the table', () => {
    const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('ProcessingPublisherRole'));
    const actions = policies.flatMap(([, policy]) =>
      (policy.Properties.PolicyDocument.Statement as { Action: string | string[] }[]).flatMap((s) =>
        Array.isArray(s.Action) ? s.Action : [s.Action],
      ),
    );
    expect(actions).toEqual(
      expect.arrayContaining([
        'events:PutEvents',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
        'dynamodb:DescribeStream',
        'sqs:SendMessage',
      ]),
    );
    expect(actions.filter((action) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(action))).toEqual([]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ EVENT_BUS_NAME: { Ref: Match.stringLikeRegexp('^ProcessingBus') } }) },
    });
  });
});

describe('the state table', () => {
  test('keeps its logical id when pinned', () => {
    expect(Object.keys(template.findResources('AWS::DynamoDB::Table'))).toEqual([STATE_TABLE_LOGICAL_ID]);
  });

  test('has the id CDK derives from its path when not pinned (two pipelines can share a stack)', () => {
    const stack = new Stack(new App(), 'Unpinned');
    const queue = new sqs.Queue(stack, 'Queue', {
      visibilityTimeout: Duration.seconds(queueVisibilityTimeoutSeconds(DEFAULT_CONFIG.processing)),
    });
    new Processing(stack, 'Processing', { config: DEFAULT_CONFIG, queue });
    expect(Object.keys(Template.fromStack(stack).findResources('AWS::DynamoDB::Table'))).toEqual([
      expect.stringMatching(/^ProcessingStateTable[0-9A-F]{8}$/),
    ]);
  });

  test('is on-demand with point-in-time recovery, deletion protection and TTL on expiresAt', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  test('is retained when the stack is deleted', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  test('with removalPolicy destroy, is deleted with the stack and has no deletion protection (which would make the deletion fail)', () => {
    const { template: destroyed } = synth(parseConfig({ removalPolicy: 'destroy' }));
    destroyed.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
    });
  });

  test('has the key schema and indexes of the shared schema module', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: Object.values(TABLE_SCHEMA.indexes).map((index) =>
        Match.objectLike({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: 'HASH' },
            { AttributeName: index.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        }),
      ),
    });
  });
});

describe('the bus', () => {
  test('is archived for replay, matching the change events source', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ProcessingBus'), 'Arn'] },
      EventPattern: { source: ['livekit.webhooks'] },
      RetentionDays: 30,
    });
  });
});

describe('props validation', () => {
  const build = (config: PipelineConfig, visibilitySeconds: number) => {
    const stack = new Stack(new App(), 'Invalid');
    const queue = new sqs.Queue(stack, 'Queue', { visibilityTimeout: Duration.seconds(visibilitySeconds) });
    return () => new Processing(stack, 'Processing', { config, queue });
  };

  test('rejects a queue whose visibility timeout is shorter than the function timeout', () => {
    expect(build(DEFAULT_CONFIG, DEFAULT_CONFIG.processing.timeoutSeconds - 1)).toThrow(/visibility timeout/);
  });

  test('rejects tombstones that would expire before a redelivery could arrive', () => {
    const config = { ...DEFAULT_CONFIG, processing: { ...DEFAULT_CONFIG.processing, eventRecordTtlDays: 10 } };
    expect(build(config, 600)).toThrow(/eventRecordTtlDays/);
    // parseConfig lists the same rule with the other problems (one home: config.ts).
    expect(() => parseConfig({ processing: { eventRecordTtlDays: 10 } })).toThrow(/eventRecordTtlDays \(10\) must exceed/);
  });

  test('accepts the defaults', () => {
    expect(build(DEFAULT_CONFIG, queueVisibilityTimeoutSeconds(DEFAULT_CONFIG.processing))).not.toThrow();
  });
});

test('cdk-nag AwsSolutionsChecks finds nothing unacknowledged in the construct', () => {
  const findings = unacknowledgedNagFindings((app) => {
    const stack = new Stack(app, 'NagProcessing');
    const dlq = new sqs.Queue(stack, 'Dlq', { enforceSSL: true });
    const queue = new sqs.Queue(stack, 'Queue', {
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(queueVisibilityTimeoutSeconds(DEFAULT_CONFIG.processing)),
      deadLetterQueue: { queue: dlq, maxReceiveCount: DEFAULT_CONFIG.queue.maxReceiveCount },
    });
    new Processing(stack, 'Processing', { config: DEFAULT_CONFIG, queue });
  });
  expect(findings.filter((finding) => !/: NagProcessing\/Dlq\//.test(finding))).toEqual([]);
});
