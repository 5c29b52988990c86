import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { synthPipeline } from '../../support/synth';

/*
 * Least privilege, checked over every policy in the synthesised template rather than per
 * construct, so a policy added by any stage (or by a CDK grant) is checked too: identity policies
 * (AWS::IAM::Policy, a role's inline policies, managed policies), resource policies (queue, topic,
 * key, bus, secret policies) and Lambda permissions. In an Allow statement: no `*` action and no
 * `service:*`; no `*` resource; no `*` principal; no NotAction/NotResource. Exceptions are listed
 * below, each with the reason AWS requires it.
 */

interface Exception {
  readonly resourceType: string;
  /** The statement's actions must all be in this list. */
  readonly actions: readonly string[];
  readonly reason: string;
}

/** Where AWS requires a wildcard. An exception not matched by anything is harmless; a match not listed fails. */
const WILDCARD_RESOURCE_EXCEPTIONS: readonly Exception[] = [
  {
    resourceType: 'AWS::KMS::Key',
    actions: ['kms:*', 'kms:Decrypt', 'kms:GenerateDataKey*', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:DescribeKey'],
    reason: 'In a key policy the Resource must be "*", and it means this key only (a key policy cannot name other resources).',
  },
  {
    resourceType: 'AWS::IAM::Policy',
    actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
    reason: 'X-Ray trace submission has no resource-level permissions (only if tracing is turned on).',
  },
  {
    resourceType: 'AWS::IAM::Policy',
    actions: ['dynamodb:ListStreams'],
    reason:
      "ListStreams has no resource-level permissions; Lambda's DynamoDB stream event source (the publisher) needs it. Stream reads are scoped to the table's stream.",
  },
  {
    resourceType: 'AWS::IAM::Policy',
    actions: ['cloudwatch:PutMetricData'],
    reason:
      'PutMetricData has no resource-level permissions; scope it with the cloudwatch:namespace condition (EMF needs no permission at all).',
  },
];

const WILDCARD_ACTION_EXCEPTIONS: readonly Exception[] = [
  {
    resourceType: 'AWS::KMS::Key',
    actions: ['kms:*'],
    reason:
      "The key's administrator statement for the account root (CDK's and AWS's default key policy): without it the key can become unmanageable; " +
      'IAM policies in the account still decide who may use the key.',
  },
];

interface Found {
  readonly resource: string;
  readonly resourceType: string;
  readonly statement: Record<string, any>;
}

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Every policy statement in the template, with the resource that holds it. */
function allStatements(template: Template): Found[] {
  const found: Found[] = [];
  const push = (resource: string, resourceType: string, document: any) => {
    for (const statement of asArray(document?.Statement)) found.push({ resource, resourceType, statement });
  };
  for (const [resource, { Type: type, Properties: p = {} }] of Object.entries<any>(template.toJSON().Resources)) {
    switch (type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
      case 'AWS::SQS::QueuePolicy':
      case 'AWS::SNS::TopicPolicy':
      case 'AWS::SecretsManager::ResourcePolicy':
        push(resource, type, p.PolicyDocument);
        break;
      case 'AWS::IAM::Role':
        for (const policy of asArray(p.Policies)) push(resource, 'AWS::IAM::Policy', policy.PolicyDocument);
        break;
      case 'AWS::KMS::Key':
        push(resource, type, p.KeyPolicy);
        break;
      case 'AWS::Events::EventBusPolicy':
        push(resource, type, p.Statement ? { Statement: p.Statement } : p.Policy);
        break;
      case 'AWS::Events::EventBus':
        if (p.Policy) push(resource, type, p.Policy);
        break;
      case 'AWS::Lambda::Permission':
        found.push({
          resource,
          resourceType: type,
          statement: { Effect: 'Allow', Action: p.Action, Principal: p.Principal, Resource: p.FunctionName, SourceArn: p.SourceArn },
        });
        break;
    }
  }
  return found;
}

function violations(template: Template): string[] {
  const problems: string[] = [];
  for (const { resource, resourceType, statement } of allStatements(template)) {
    if (statement.Effect !== 'Allow') continue; // Deny statements may be as broad as they like.
    const actions = asArray<string>(statement.Action);
    const where = `${resourceType} ${resource}: ${JSON.stringify(actions)}`;
    if (statement.NotAction || statement.NotResource || statement.NotPrincipal)
      problems.push(`${where} uses NotAction/NotResource/NotPrincipal`);
    const excepted = (list: readonly Exception[]) =>
      list.some((e) => e.resourceType === resourceType && actions.every((a) => e.actions.includes(a)));
    if (actions.some((a) => a === '*' || /^[a-z0-9-]+:\*$/i.test(a)) && !excepted(WILDCARD_ACTION_EXCEPTIONS))
      problems.push(`${where} has a wildcard action`);
    if (asArray(statement.Resource).includes('*') && !excepted(WILDCARD_RESOURCE_EXCEPTIONS)) problems.push(`${where} has Resource "*"`);
    const principal = statement.Principal;
    if (principal === '*' || (principal && typeof principal === 'object' && asArray(principal.AWS).includes('*')))
      problems.push(`${where} allows any principal`);
    if (resourceType === 'AWS::Lambda::Permission' && !statement.SourceArn)
      problems.push(`${where} lets ${JSON.stringify(principal)} invoke without a SourceArn`);
  }
  for (const [resource, { Type: type, Properties: p = {} }] of Object.entries<any>(template.toJSON().Resources)) {
    if (type === 'AWS::IAM::Role' && p.ManagedPolicyArns)
      problems.push(
        `AWS::IAM::Role ${resource} attaches managed policies ${JSON.stringify(p.ManagedPolicyArns)} (grant what it needs instead)`,
      );
  }
  return problems;
}

describe('least privilege over every policy in the template', () => {
  it.each([
    ['default config', {}],
    ['an existing secret and an alarm email', { livekit: { existingSecretName: 'prod/livekit' }, alarms: { email: 'oncall@example.com' } }],
  ])('finds no wildcard action, resource or principal beyond the listed exceptions (%s)', (_name, input) => {
    const { template } = synthPipeline(input);
    expect(allStatements(template).length).toBeGreaterThan(10);
    expect(violations(template)).toEqual([]);
  });

  it('walks identity, resource and key policies and Lambda permissions', () => {
    const types = new Set(allStatements(synthPipeline().template).map((found) => found.resourceType));
    expect([...types].sort()).toEqual(
      expect.arrayContaining([
        'AWS::IAM::Policy',
        'AWS::KMS::Key',
        'AWS::Lambda::Permission',
        'AWS::SNS::TopicPolicy',
        'AWS::SQS::QueuePolicy',
      ]),
    );
  });

  it('catches a wildcard action, a wildcard resource, an open resource policy and a managed policy (the walker can fail)', () => {
    const stack = new Stack(new App(), 'Bad');
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['arn:aws:s3:::bucket/*'] }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: ['*'] }));
    role.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole'));
    const queue = new sqs.Queue(stack, 'Queue');
    queue.addToResourcePolicy(
      new iam.PolicyStatement({ principals: [new iam.AnyPrincipal()], actions: ['sqs:SendMessage'], resources: [queue.queueArn] }),
    );
    const problems = violations(Template.fromStack(stack));
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/s3:\*.*wildcard action/),
        expect.stringMatching(/sqs:SendMessage.*Resource "\*"/),
        expect.stringMatching(/QueuePolicy.*any principal/),
        expect.stringMatching(/managed policies/),
      ]),
    );
  });

  it('gives every exception a reason', () => {
    for (const exception of [...WILDCARD_RESOURCE_EXCEPTIONS, ...WILDCARD_ACTION_EXCEPTIONS])
      expect(exception.reason.length).toBeGreaterThan(30);
  });
});
