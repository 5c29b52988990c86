import { Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { CfnElement } from 'aws-cdk-lib';
import { DEFAULT_CONFIG, parseConfig } from '../../../lib/config';
import { Ingest } from '../../../lib/ingest';
import { bareStack, synthPipeline } from '../../support/synth';

describe('Ingest construct', () => {
  const { template, stack } = synthPipeline({ ingest: { throttleRateLimit: 200, throttleBurstLimit: 400, maxBodyBytes: 32768 } });

  it('routes POST /webhook of an HTTP API to the ingest function', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /webhook' });
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [stack.getLogicalId(stack.ingest.function.node.defaultChild as CfnElement), 'Arn'] },
    });
  });

  it('throttles the stage with the configured limits and writes access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('\\$context.requestId') },
    });
  });

  it('runs the handler on Node 24 arm64 with its settings from config and an explicit log group', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 5,
      LoggingConfig: { LogGroup: Match.anyValue() },
      Environment: {
        Variables: Match.objectLike({
          QUEUE_URL: Match.anyValue(),
          LIVEKIT_KEYS_SECRET_ID: Match.anyValue(),
          MAX_BODY_BYTES: '32768',
          CLOCK_TOLERANCE_SECONDS: '30',
          KEY_CACHE_SECONDS: '300',
          NODE_OPTIONS: '--enable-source-maps',
        }),
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it("reserves the configured concurrency for the function (100 by default), so a flood cannot take the processor's", () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Verifies LiveKit'),
      ReservedConcurrentExecutions: 100,
    });
    const custom = synthPipeline({ ingest: { reservedConcurrency: 250 } }).template;
    custom.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Verifies LiveKit'),
      ReservedConcurrentExecutions: 250,
    });
  });

  it('leaves the function unreserved with ingest.reservedConcurrency 0', () => {
    const unreserved = synthPipeline({ ingest: { reservedConcurrency: 0 } }).template;
    const [ingest] = Object.values<any>(
      unreserved.findResources('AWS::Lambda::Function', { Properties: { Description: Match.stringLikeRegexp('^Verifies LiveKit') } }),
    );
    expect(ingest.Properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('lets the function write its own logs, send to the queue, read the secret and put claim checks, and nothing else', () => {
    const role = stack.getLogicalId(stack.ingest.function.role!.node.defaultChild as CfnElement);
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: role }] } });
    const statements = Object.values(policies).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((s: any) => [].concat(s.Action)).sort();
    expect(actions).toEqual([
      'logs:CreateLogStream',
      'logs:PutLogEvents',
      's3:PutObject',
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ]);
    for (const statement of statements) expect(statement.Resource).not.toEqual('*');
    expect(template.toJSON().Resources[role].Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('never puts a secret value in the environment', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(functions) as any[]) {
      const vars = fn.Properties.Environment?.Variables ?? {};
      expect(Object.keys(vars).filter((k) => /SECRET$|PASSWORD|API_SECRET/.test(k))).toEqual([]);
    }
  });

  it('refuses a burst limit below the rate limit', () => {
    const stack = bareStack();
    const config = { ...DEFAULT_CONFIG, ingest: { ...DEFAULT_CONFIG.ingest, throttleRateLimit: 100, throttleBurstLimit: 50 } };
    const queue = new sqs.Queue(stack, 'Q');
    const keys = new secretsmanager.Secret(stack, 'S');
    expect(() => new Ingest(stack, 'Ingest', { config, queue, keys })).toThrow(
      'throttleBurstLimit (50) must be at least ingest.throttleRateLimit (100)',
    );
    // parseConfig lists the same rule with the other problems (one home: config.ts).
    expect(() => parseConfig({ ingest: { throttleRateLimit: 100, throttleBurstLimit: 50 } })).toThrow(
      'ingest.throttleBurstLimit (50) must be at least ingest.throttleRateLimit (100)',
    );
  });
});

describe('Event queue', () => {
  const { template, stack } = synthPipeline({
    queue: { maxReceiveCount: 3, retentionDays: 7, dlqRetentionDays: 14 },
    processing: { timeoutSeconds: 20 },
  });

  it('redrives to the DLQ after maxReceiveCount receives', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: {
        deadLetterTargetArn: {
          'Fn::GetAtt': [stack.getLogicalId(stack.eventQueue.deadLetterQueue.node.defaultChild as CfnElement), 'Arn'],
        },
        maxReceiveCount: 3,
      },
      MessageRetentionPeriod: 7 * 86400,
      // 6 x the 20 s function timeout + the batching window (0 s by default)
      VisibilityTimeout: 120,
      SqsManagedSseEnabled: true,
    });
    template.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 14 * 86400, SqsManagedSseEnabled: true });
  });

  it("sets SQS's largest message size (1 MiB) on both event queues explicitly, so a queue created under the old 256 KiB default is raised", () => {
    const eventQueues = [stack.eventQueue.queue, stack.eventQueue.deadLetterQueue].map((queue) =>
      stack.getLogicalId(queue.node.defaultChild as CfnElement),
    );
    const queues = template.findResources('AWS::SQS::Queue');
    for (const id of eventQueues) expect(queues[id].Properties.MaximumMessageSize).toBe(1_048_576);
  });

  it("denies every request that is not over TLS, on every queue (the event queue, its DLQ, the publisher's on-failure queue)", () => {
    const policies = template.findResources('AWS::SQS::QueuePolicy');
    expect(Object.keys(policies)).toHaveLength(Object.keys(template.findResources('AWS::SQS::Queue')).length);
    for (const policy of Object.values(policies) as any[]) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  it('keeps the queues on stack delete by default', () => {
    const queues = template.findResources('AWS::SQS::Queue');
    for (const queue of Object.values(queues) as any[]) expect(queue.DeletionPolicy).toBe('Retain');
  });

  it('keeps the queue and DLQ logical ids stable (a change would replace them and lose messages)', () => {
    expect(stack.getLogicalId(stack.eventQueue.queue.node.defaultChild as CfnElement)).toBe('EventsQueue7396B467');
    expect(stack.getLogicalId(stack.eventQueue.deadLetterQueue.node.defaultChild as CfnElement)).toBe('EventsDeadLetterQueueC3DB07E1');
  });

  it('refuses a DLQ that keeps messages for less time than the queue', () => {
    expect(() => synthPipeline({ queue: { retentionDays: 7, dlqRetentionDays: 3 } })).toThrow(
      'queue.dlqRetentionDays (3) must be at least queue.retentionDays (7)',
    );
  });
});

describe('LiveKit keys secret', () => {
  it('is created holding an empty key set when no existing secret is named', () => {
    const { template } = synthPipeline();
    template.hasResourceProperties('AWS::SecretsManager::Secret', { SecretString: '{}' });
    template.hasOutput('LiveKitKeysSecretArn', { Description: Match.stringLikeRegexp('Put your LiveKit API key pairs here') });
  });

  it('is not created when an existing one is named, and the function reads that one', () => {
    const { template } = synthPipeline({ livekit: { existingSecretName: 'prod/livekit-keys' } });
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':secret:prod/livekit-keys-\\?\\?\\?\\?\\?\\?')])] },
          }),
        ]),
      },
    });
  });

  it('under a customer managed key (livekit.existingSecretKeyArn), is read by name as without one, and ingest and the reconciler may decrypt it through Secrets Manager', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { stack, template } = synthPipeline({ livekit: { existingSecretName: 'prod/livekit-keys', existingSecretKeyArn: keyArn } });
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    const roleOf = (fn: { role?: unknown }) => stack.resolve((fn.role as iam.Role).roleName);
    for (const fn of [stack.ingest.function, stack.reconciler.function]) {
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [roleOf(fn)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
              Resource: { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':secret:prod/livekit-keys-\\?\\?\\?\\?\\?\\?')])] },
            }),
            {
              Effect: 'Allow',
              Action: 'kms:Decrypt',
              Resource: keyArn,
              Condition: {
                StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
              },
            },
          ]),
        },
      });
    }
    const secretIds = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((fn: any) => fn.Properties.Environment?.Variables?.LIVEKIT_KEYS_SECRET_ID)
      .filter((id) => id !== undefined);
    expect(JSON.stringify(secretIds)).toContain(':secret:prod/livekit-keys"');
  });
});

describe('Stack outputs', () => {
  it('gives the webhook URL, both queue URLs and the secret', () => {
    const { template } = synthPipeline();
    const outputs = template.toJSON().Outputs;
    expect(Object.keys(outputs).sort()).toEqual(
      expect.arrayContaining(['DeadLetterQueueUrl', 'LiveKitKeysSecretArn', 'QueueUrl', 'WebhookUrl']),
    );
    expect(JSON.stringify(outputs.WebhookUrl.Value)).toContain('/webhook');
  });
});
