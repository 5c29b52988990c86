import { CfnElement } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { CLAIM_CHECK_PREFIX } from '../../../contracts/queue-message';
import { claimCheckExpirationDays } from '../../../lib/claim-checks';
import { parseConfig } from '../../../lib/config';
import { PipelineStack } from '../../../lib/pipeline-stack';
import { synthPipeline, unacknowledgedNagFindings } from '../../support/synth';

/*
 * The claim-check bucket: private and TLS-only, encrypted, unversioned, emptied once no message
 * can point at an object, and reachable only by ingest (put) and the processor (get), on
 * `events/*` only.
 */
describe('claim-check bucket', () => {
  const { template, stack, config } = synthPipeline();
  const bucketId = stack.getLogicalId(stack.pipeline.claimCheckBucket.node.defaultChild as CfnElement);
  const bucket = () => template.toJSON().Resources[bucketId];
  const roleOf = (fn: { role?: { node: { defaultChild?: unknown } } }) => stack.getLogicalId(fn.role!.node.defaultChild as CfnElement);

  /** Every IAM statement in the template that names the bucket, with the roles its policy is attached to. */
  const bucketStatements = () =>
    Object.values<any>(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
      policy.Properties.PolicyDocument.Statement.filter((s: any) => JSON.stringify(s.Resource).includes(bucketId)).map((s: any) => ({
        roles: policy.Properties.Roles.map((r: any) => r.Ref),
        actions: [].concat(s.Action),
        resources: [].concat(s.Resource),
      })),
    );
  const eventsObjects = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/${CLAIM_CHECK_PREFIX}*`]] };

  it('is one bucket, blocking every kind of public access, encrypted with S3-managed keys, unversioned', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    const p = bucket().Properties;
    expect(p.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(p.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(p.VersioningConfiguration).toBeUndefined();
  });

  it('refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Principal: { AWS: '*' },
          }),
        ]),
      },
    });
  });

  it('expires events/ objects a day after the longest a message can live through one DLQ redrive (a redrive sends it as new)', () => {
    expect(config.queue).toMatchObject({ retentionDays: 4, dlqRetentionDays: 14 });
    expect(bucket().Properties.LifecycleConfiguration.Rules).toEqual([
      { Id: 'ExpireClaimChecks', Prefix: CLAIM_CHECK_PREFIX, ExpirationInDays: 29, Status: 'Enabled' },
    ]);
    const custom = synthPipeline({ queue: { retentionDays: 2, dlqRetentionDays: 7 } });
    const [customBucket] = Object.values<any>(custom.template.findResources('AWS::S3::Bucket'));
    expect(customBucket.Properties.LifecycleConfiguration.Rules[0].ExpirationInDays).toBe(15);
    // Before the redrive: at most the DLQ's retention from the first enqueue; after it, as long again.
    expect(claimCheckExpirationDays(custom.config.queue)).toBe(2 * 7 + 1);
    expect(claimCheckExpirationDays({ maxReceiveCount: 5, retentionDays: 14, dlqRetentionDays: 14 })).toBe(29);
  });

  it('follows removalPolicy: retained by default; destroy deletes it, emptied first', () => {
    expect(bucket()).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    const destroy = synthPipeline({ removalPolicy: 'destroy' }).template;
    const [destroyed] = Object.values<any>(destroy.findResources('AWS::S3::Bucket'));
    expect(destroyed).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    destroy.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
  });

  it('lets ingest and the reconciler only put, and the processor only get (and list, so a missing key reads 404, not 403), objects on events/* only; no other role touches the bucket', () => {
    const ingestRole = roleOf(stack.pipeline.functions.ingest);
    const processRole = roleOf(stack.pipeline.functions.process);
    const reconcileRole = roleOf(stack.pipeline.functions.reconcile);
    const statements = bucketStatements();
    expect(statements).toHaveLength(4);
    expect(statements).toEqual(
      expect.arrayContaining([
        { roles: [ingestRole], actions: ['s3:PutObject'], resources: [eventsObjects] },
        { roles: [reconcileRole], actions: ['s3:PutObject'], resources: [eventsObjects] },
        { roles: [processRole], actions: ['s3:GetObject'], resources: [eventsObjects] },
        { roles: [processRole], actions: ['s3:ListBucket'], resources: [{ 'Fn::GetAtt': [bucketId, 'Arn'] }] },
      ]),
    );
  });

  it("gives ingest and the reconciler (where to put) and the processor (the one bucket it accepts pointers to) the bucket's name in CLAIM_CHECK_BUCKET; no other function", () => {
    for (const description of ['^Verifies LiveKit', '^Applies']) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp(description),
        Environment: { Variables: Match.objectLike({ CLAIM_CHECK_BUCKET: { Ref: bucketId } }) },
      });
    }
    const named = Object.values<any>(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => fn.Properties.Environment?.Variables?.CLAIM_CHECK_BUCKET !== undefined,
    );
    expect(named.map((fn) => fn.Properties.Environment.Variables.RECONCILE_INTERVAL_MINUTES !== undefined).sort()).toEqual([
      false,
      false,
      true,
    ]);
  });

  it('leaves no cdk-nag finding unacknowledged with removalPolicy destroy (the auto-delete custom resource)', () => {
    const findings = unacknowledgedNagFindings(
      (app) =>
        new PipelineStack(app, 'NagDestroy', {
          config: parseConfig({ livekit: { url: 'https://x.livekit.cloud' }, removalPolicy: 'destroy' }),
        }),
    );
    expect(findings).toEqual([]);
  });
});
