import { Annotations as CdkAnnotations, App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { CLEARTEXT_LIVEKIT_URL_WARNING, ConfigError, LiveKitWebhookPipeline } from '../../../lib';

/** `LiveKitWebhookPipeline` as a platform team uses it in its own stack (the package test does the same from the tarball). */
const LIVEKIT_URL = 'https://my-project.livekit.cloud';
const newStack = (id = 'Platform') => new Stack(new App(), id);
const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as never);

describe('validation', () => {
  it('lists every problem at once, naming each prop, and adds nothing to the stack', () => {
    const stack = newStack();
    let error: unknown;
    try {
      new LiveKitWebhookPipeline(stack, 'LiveKit', {
        livekitUrl: '',
        livekitApiKey: 'bad key!',
        webhookEvents: ['room_started', 'room_exploded'],
        ingest: { throttleRateLimit: 100, throttleBurstLimit: 50, maxBodyBytes: 10 },
        queue: { retentionDays: 7, dlqRetentionDays: 3 },
        processing: { batchSize: 50 },
        alarms: { missedEventsEvaluationPeriods: 2, missedEventsDatapointsToAlarm: 3 },
        logRetentionDays: 2,
        archiveRetentionDays: 0,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('"livekitUrl" is required'),
        expect.stringContaining('"livekitApiKey" must be a LiveKit API key'),
        expect.stringContaining('"webhookEvents" names an unknown event type "room_exploded"'),
        expect.stringContaining('"ingest.maxBodyBytes" must be an integer from 1024'),
        'ingest.throttleBurstLimit (50) must be at least ingest.throttleRateLimit (100)',
        'queue.dlqRetentionDays (3) must be at least queue.retentionDays (7)',
        expect.stringContaining('"processing.batchSize" above 10 needs "processing.maxBatchingWindowSeconds"'),
        expect.stringContaining('"alarms.missedEventsDatapointsToAlarm" (3) must not exceed "alarms.missedEventsEvaluationPeriods" (2)'),
        expect.stringContaining('"logRetentionDays" must be one of'),
        expect.stringContaining('"archiveRetentionDays" must be a positive integer'),
      ]),
    );
    expect(problems).toHaveLength(10);
    expect(stack.node.children).toHaveLength(0);
  });

  it('refuses a topic given twice (as a construct and by ARN)', () => {
    const stack = newStack();
    const pager = sns.Topic.fromTopicArn(stack, 'Pager', 'arn:aws:sns:eu-west-1:123456789012:pager');
    expect(
      () =>
        new LiveKitWebhookPipeline(stack, 'LiveKit', {
          livekitUrl: LIVEKIT_URL,
          alarmTopic: pager,
          alarms: { pageTopicArn: 'arn:aws:sns:eu-west-1:123456789012:other' },
        }),
    ).toThrow(/give the page topic once/);
  });

  it('refuses an unknown change type in onChange, naming the known ones', () => {
    const pipeline = new LiveKitWebhookPipeline(newStack(), 'LiveKit', { livekitUrl: LIVEKIT_URL });
    const target = new targets.SqsQueue(new sqs.Queue(pipeline, 'Target'));
    expect(() => pipeline.onChange('Bad', { target, types: ['participant.joined', 'participant.teleported' as never] })).toThrow(
      /unknown change type "participant.teleported" \(known: room.started/,
    );
    expect(() => pipeline.onChange('Empty', { target, types: [] })).toThrow(/at least one change type/);
  });
});

describe('in a stack of its own with its own resources, grants and rules', () => {
  const stack = newStack();
  const bus = new events.EventBus(stack, 'PlatformBus');
  const pager = new sns.Topic(stack, 'Pager');
  const tickets = new sns.Topic(stack, 'Tickets');
  const keysSecret = new secretsmanager.Secret(stack, 'LiveKitKeys');
  const pipeline = new LiveKitWebhookPipeline(stack, 'LiveKit', {
    livekitUrl: LIVEKIT_URL,
    eventBus: bus,
    alarmTopic: pager,
    ticketTopic: tickets,
    keysSecret,
  });
  const reader = new iam.Role(stack, 'PresenceService', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  pipeline.grantReadState(reader);
  const presenceQueue = new sqs.Queue(stack, 'PresenceQueue');
  const presence = pipeline.onChange('Presence', {
    types: ['participant.joined', 'participant.left'],
    target: new targets.SqsQueue(presenceQueue),
  });
  const everything = pipeline.onChange('Audit', { target: new targets.SqsQueue(presenceQueue) });
  const template = Template.fromStack(stack);

  it('creates no bus, topic, key or secret of its own, and uses those given', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.resourceCountIs('AWS::SNS::Topic', 2);
    template.resourceCountIs('AWS::KMS::Key', 0);
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    expect(pipeline.bus).toBe(bus);
    expect(pipeline.keysSecret).toBe(keysSecret);
    expect(pipeline.topics).toEqual({ page: pager, ticket: tickets });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ EVENT_BUS_NAME: { Ref: logicalId(stack, bus) } }) },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ LIVEKIT_KEYS_SECRET_ID: { Ref: logicalId(stack, keysSecret) } }) },
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm: any) => alarm.Properties.AlarmActions);
    expect(alarms).toContainEqual([{ Ref: logicalId(stack, pager) }]);
    expect(alarms).toContainEqual([{ Ref: logicalId(stack, tickets) }]);
    expect(alarms.every((actions) => [logicalId(stack, pager), logicalId(stack, tickets)].includes(actions[0].Ref))).toBe(true);
  });

  it('grantReadState lets the grantee read the table and its indexes, and write nothing', () => {
    const policies = Object.values(
      template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: logicalId(stack, reader) }] } }),
    );
    const statements = policies.flatMap((policy: any) => policy.Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((statement: any) => [].concat(statement.Action));
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:BatchGetItem']));
    expect(actions.filter((action: string) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(action))).toEqual([]);
    const table = logicalId(stack, pipeline.table);
    expect(statements.flatMap((statement: any) => statement.Resource)).toEqual(
      expect.arrayContaining([{ 'Fn::GetAtt': [table, 'Arn'] }, { 'Fn::Join': ['', [{ 'Fn::GetAtt': [table, 'Arn'] }, '/index/*']] }]),
    );
  });

  it('onChange puts a rule on the change feed: the source the publisher sets, and the detail types asked for', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalId(stack, bus) },
      EventPattern: { source: ['livekit.webhooks'], 'detail-type': ['participant.joined', 'participant.left'] },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(stack, presenceQueue), 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalId(stack, bus) },
      EventPattern: { source: ['livekit.webhooks'] },
    });
    expect(presence.node.scope).toBe(pipeline);
    expect(everything.node.id).toBe('Audit');
  });

  it('exposes the resources and metric helpers', () => {
    expect(pipeline.webhookUrl).toContain('/webhook');
    expect(Object.keys(pipeline.functions).sort()).toEqual(['ingest', 'process', 'publish', 'reconcile']);
    expect(Object.keys(pipeline.alarms)).toEqual(
      expect.arrayContaining(['missed-events', 'dlq-not-empty', 'reconciler-heartbeat-missing']),
    );
    expect(pipeline.metricMissedEvents()).toMatchObject({ namespace: 'LiveKitWebhooks', metricName: 'MissedEvents', statistic: 'Sum' });
    expect(pipeline.metricApplyLag()).toMatchObject({ metricName: 'ApplyLag', statistic: 'p99' });
    expect(pipeline.metricDeadLetterMessages()).toMatchObject({ metricName: 'ApproximateNumberOfMessagesVisible', statistic: 'Maximum' });
  });
});

describe('bring-your-own encryption key, and two pipelines in one stack', () => {
  it('encrypts the topics it creates with the given key and creates none', () => {
    const stack = newStack();
    const key = new kms.Key(stack, 'PlatformKey');
    new LiveKitWebhookPipeline(stack, 'LiveKit', { livekitUrl: LIVEKIT_URL, encryptionKey: key });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.resourceCountIs('AWS::SNS::Topic', 2);
    template.allResourcesProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] } });
  });

  it('synthesises two pipelines side by side (nothing pinned to a fixed logical id or name)', () => {
    const stack = newStack();
    new LiveKitWebhookPipeline(stack, 'Eu', { livekitUrl: 'https://eu.livekit.cloud', alarms: { namePrefix: 'livekit-eu' } });
    new LiveKitWebhookPipeline(stack, 'Us', { livekitUrl: 'https://us.livekit.cloud', alarms: { namePrefix: 'livekit-us' } });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    const names = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm: any) => alarm.Properties.AlarmName);
    expect(new Set(names).size).toBe(names.length);
  });

  it('fails at synth, naming both pipelines and the fix, when two pipelines of a stack would give their alarms the same names', () => {
    // Alarm names are unique per account and region: without a prefix each, both default to the stack name.
    const stack = newStack();
    new LiveKitWebhookPipeline(stack, 'Eu', { livekitUrl: 'https://eu.livekit.cloud' });
    new LiveKitWebhookPipeline(stack, 'Us', { livekitUrl: 'https://us.livekit.cloud' });
    expect(() => Template.fromStack(stack)).toThrow(
      /Platform\/Us\/Monitoring and Platform\/Eu\/Monitoring would name alarms alike \(Platform-missed-events, .*set alarms\.namePrefix/s,
    );
  });

  it("fails at synth too when one pipeline's prefix is another's default (the stack name), or two prefixes are equal", () => {
    const defaulted = newStack();
    new LiveKitWebhookPipeline(defaulted, 'Eu', { livekitUrl: 'https://eu.livekit.cloud' });
    new LiveKitWebhookPipeline(defaulted, 'Us', { livekitUrl: 'https://us.livekit.cloud', alarms: { namePrefix: 'Platform' } });
    expect(() => Template.fromStack(defaulted)).toThrow(/Platform\/Us\/Monitoring and Platform\/Eu\/Monitoring would name alarms alike/);

    const same = newStack();
    new LiveKitWebhookPipeline(same, 'Eu', { livekitUrl: 'https://eu.livekit.cloud', alarms: { namePrefix: 'livekit' } });
    new LiveKitWebhookPipeline(same, 'Us', { livekitUrl: 'https://us.livekit.cloud', alarms: { namePrefix: 'livekit' } });
    expect(() => Template.fromStack(same)).toThrow(/would name alarms alike \(livekit-missed-events/);
  });
});

describe('a LiveKit URL without TLS', () => {
  it('is warned about at synth when its host is not this machine, and can be acknowledged; TLS and loopback are not', () => {
    const stack = newStack();
    const pipelines = {
      Cleartext: 'http://livekit.internal.example.com:7880',
      Acknowledged: 'ws://10.0.0.5:7880',
      Tls: 'https://my-project.livekit.cloud',
      Loopback: 'http://localhost:7880',
    };
    for (const [id, livekitUrl] of Object.entries(pipelines)) {
      const pipeline = new LiveKitWebhookPipeline(stack, id, { livekitUrl, alarms: { namePrefix: `livekit-${id.toLowerCase()}` } });
      if (id === 'Acknowledged') CdkAnnotations.of(pipeline).acknowledgeWarning(CLEARTEXT_LIVEKIT_URL_WARNING, 'a VPC-private LiveKit');
    }
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('is not TLS'));
    expect(warnings.map((warning) => warning.id)).toEqual(['/Platform/Cleartext']);
    expect(warnings[0].entry.data).toContain('http://livekit.internal.example.com:7880 is not TLS');
  });
});

/*
 * A secret under a customer managed key needs kms:Decrypt too. CDK's grantRead asks the key for it,
 * which an imported key silently cannot give: without the construct's own grant, every read of the
 * secret failed AccessDenied and ingest answered 503 forever.
 */
describe('a keys secret under a customer managed KMS key', () => {
  it('gives ingest and the reconciler, and no other role, kms:Decrypt on the key the secret is imported with, through Secrets Manager only', () => {
    const stack = newStack();
    const keyArn = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const keysSecret = secretsmanager.Secret.fromSecretAttributes(stack, 'Keys', {
      secretCompleteArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/livekit-AbCdEf',
      encryptionKey: kms.Key.fromKeyArn(stack, 'KeysKey', keyArn),
    });
    const pipeline = new LiveKitWebhookPipeline(stack, 'LiveKit', { livekitUrl: LIVEKIT_URL, keysSecret });
    const decrypts = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).flatMap((policy: any) =>
      policy.Properties.PolicyDocument.Statement.filter((statement: any) =>
        [].concat(statement.Action).some((a: string) => a.startsWith('kms:')),
      ).map((statement: any) => ({ roles: policy.Properties.Roles, statement })),
    );
    const roleOf = (fn: { role?: unknown }) => ({ Ref: stack.getLogicalId((fn.role as iam.Role).node.defaultChild as never) });
    const expected = {
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: keyArn,
      Condition: {
        StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
      },
    };
    expect(decrypts).toEqual(
      expect.arrayContaining([
        { roles: [roleOf(pipeline.functions.ingest)], statement: expected },
        { roles: [roleOf(pipeline.functions.reconcile)], statement: expected },
      ]),
    );
    expect(decrypts).toHaveLength(2);
  });
});
