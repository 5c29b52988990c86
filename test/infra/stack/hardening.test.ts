import { synthPipeline } from '../../support/synth';

/*
 * Hardening over the whole synthesised stack: encryption at rest and explicit retention for every
 * resource that stores something, and secrets never in environment variables (that they never
 * reach a log line is test/unit/shared/secrets-never-logged.test.ts).
 */
const resources = (template: ReturnType<typeof synthPipeline>['template'], type: string) =>
  Object.entries<any>(template.findResources(type)).map(([id, r]) => ({ id, p: r.Properties ?? {} }));

describe('encryption at rest and explicit retention', () => {
  const { template, config } = synthPipeline({ logRetentionDays: 90 });

  it('gives every log group the configured retention, and no function an implicit (never-expiring) log group', () => {
    const groups = resources(template, 'AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThanOrEqual(3);
    for (const { p } of groups) expect(p.RetentionInDays).toBe(90);
    for (const { id, p } of resources(template, 'AWS::Lambda::Function'))
      expect([id, p.LoggingConfig?.LogGroup]).toEqual([id, expect.anything()]);
    template.resourceCountIs('Custom::LogRetention', 0);
  });

  it('encrypts every queue and sets its retention', () => {
    const queues = resources(template, 'AWS::SQS::Queue');
    // The event queue, its DLQ, and the stream publisher's on-failure queue.
    expect(queues).toHaveLength(3);
    for (const { p } of queues) {
      expect(p.SqsManagedSseEnabled === true || p.KmsMasterKeyId !== undefined).toBe(true);
      expect(p.MessageRetentionPeriod).toBeGreaterThan(0);
    }
  });

  it('encrypts every topic with KMS', () => {
    for (const { p } of resources(template, 'AWS::SNS::Topic')) expect(p.KmsMasterKeyId).toBeDefined();
  });

  it('encrypts the state table (DynamoDB always encrypts at rest; SSESpecification picks the AWS managed KMS key)', () => {
    for (const { p } of resources(template, 'AWS::DynamoDB::Table')) {
      expect(p.SSESpecification).toEqual({ SSEEnabled: true });
      expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(p.TimeToLiveSpecification?.Enabled).toBe(true);
    }
  });

  it('bounds the bus archive retention', () => {
    for (const { p } of resources(template, 'AWS::Events::Archive')) expect(p.RetentionDays).toBeGreaterThan(0);
  });

  it('rotates every KMS key', () => {
    for (const { p } of resources(template, 'AWS::KMS::Key')) expect(p.EnableKeyRotation).toBe(true);
  });

  it('keeps the DLQ at least as long as the queue', () => {
    const [dlq, queue] = ['DeadLetterQueue', 'Queue'].map(
      (name) => resources(template, 'AWS::SQS::Queue').find(({ id }) => id.startsWith(`Events${name}`))!.p,
    );
    expect(dlq.MessageRetentionPeriod).toBe(config.queue.dlqRetentionDays * 86_400);
    expect(dlq.MessageRetentionPeriod).toBeGreaterThanOrEqual(queue.MessageRetentionPeriod);
  });
});

describe('secrets', () => {
  it.each([
    ['a created secret', {}],
    ['an existing secret', { livekit: { existingSecretName: 'prod/livekit' } }],
  ])('puts only references to secrets in function environments, never values (%s)', (_name, input) => {
    const { template } = synthPipeline(input);
    for (const { id, p } of resources(template, 'AWS::Lambda::Function')) {
      for (const [name, value] of Object.entries<any>(p.Environment?.Variables ?? {})) {
        if (!/SECRET|PASSWORD|TOKEN|CREDENTIAL|PRIVATE/i.test(name)) continue;
        // A reference (Ref/GetAtt/Join to an ARN), never a literal value.
        const text = JSON.stringify(value);
        expect([id, name, typeof value === 'object' && /arn:|"Ref"|Fn::GetAtt/.test(text)]).toEqual([id, name, true]);
        expect(name).toMatch(/_(ID|ARN|NAME)$/);
      }
    }
  });
});
