import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { createIngestHandler } from '../../../lambda/ingest/ingest-handler';
import { Logger } from '../../../lambda/shared/logger';
import { fixture, signWebhook } from '../../../simulator/signing';
import { synthPipeline } from '../../support/synth';
import { repoPath } from '../../support/paths';

/*
 * Hardening over the whole synthesised stack: encryption at rest and explicit retention for every
 * resource that stores something, and secrets never in environment variables or log lines.
 */
const resources = (template: ReturnType<typeof synthPipeline>['template'], type: string) =>
  Object.entries<any>(template.findResources(type)).map(([id, r]) => ({ id, p: r.Properties ?? {} }));

describe('encryption at rest and explicit retention', () => {
  const { template, config } = synthPipeline({ logRetentionDays: 90 });

  it('gives every log group the configured retention, and no function an implicit (never-expiring) log group', () => {
    const groups = resources(template, 'AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThanOrEqual(3);
    for (const { p } of groups) expect(p.RetentionInDays).toBe(90);
    for (const { id, p } of resources(template, 'AWS::Lambda::Function')) expect([id, p.LoggingConfig?.LogGroup]).toEqual([id, expect.anything()]);
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
    const [dlq, queue] = ['DeadLetterQueue', 'Queue'].map((name) => resources(template, 'AWS::SQS::Queue').find(({ id }) => id.startsWith(`Events${name}`))!.p);
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

  it('never writes a LiveKit API secret to a log line, on any ingest path', async () => {
    const secret = 'the-api-secret-7f3c9a1b2d';
    const lines: string[] = [];
    const logger = new Logger({ service: 'ingest', level: 'debug', sink: (line) => lines.push(line) });
    const sqs = mockClient(SQSClient);
    const handler = (keys: string | Error) =>
      createIngestHandler({
        sqs: new SQSClient({ region: 'us-east-1' }),
        queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/events',
        loadKeys: async () => {
          if (keys instanceof Error) throw keys;
          return keys;
        },
        keyCacheSeconds: 300,
        maxBodyBytes: 65536,
        clockToleranceSeconds: 30,
        logger,
      });
    const body = fixture('livekit-track-unpublished.json');
    const request = (authorization: string, raw: Buffer | string = body) =>
      ({
        version: '2.0',
        routeKey: 'POST /webhook',
        rawPath: '/webhook',
        rawQueryString: '',
        headers: { authorization, 'content-type': 'application/webhook+json' },
        requestContext: { http: { method: 'POST', path: '/webhook' }, stage: '$default' },
        body: raw.toString(),
        isBase64Encoded: false,
      }) as any;
    const keys = JSON.stringify({ APIkey: secret });
    const good = await signWebhook(body, 'APIkey', secret);

    sqs.on(SendMessageCommand).resolves({ MessageId: 'm1' });
    expect((await handler(keys)(request(good))).statusCode).toBe(200);
    expect((await handler(keys)(request(await signWebhook(body, 'APIkey', 'wrong-secret')))).statusCode).toBe(401);
    expect((await handler(keys)(request(await signWebhook(body, 'APIother', secret)))).statusCode).toBe(401);
    expect((await handler(keys)(request(good, Buffer.concat([body, Buffer.from(' ')])))).statusCode).toBe(401);
    expect((await handler(new Error(`could not read ${keys}`))(request(good))).statusCode).toBe(503);
    expect((await handler('{}')(request(good))).statusCode).toBe(503);
    expect((await handler(JSON.stringify({ [secret]: secret }))(request(await signWebhook(body, secret, secret)))).statusCode).toBe(200);
    sqs.on(SendMessageCommand).rejects(new Error('SQS down'));
    expect((await handler(keys)(request(good))).statusCode).toBe(503);
    sqs.restore();

    expect(lines.length).toBeGreaterThanOrEqual(8);
    for (const line of lines) expect(line).not.toContain(secret);
  });

  it('passes no secret-named value to any logger call in lambda/', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts')) files.push(path);
      }
    };
    walk(repoPath('lambda'));
    const offenders: string[] = [];
    for (const file of files) {
      const source = readFileSync(file, 'utf8');
      // The fields argument of log.debug/info/warn/error(...) calls, up to the closing brace.
      for (const match of source.matchAll(/\.(?:debug|info|warn|error)\(\s*'[^']*',\s*(\{[^}]*\})/g)) {
        if (/\b\w*(secret|password|SecretString)\w*\b/i.test(match[1])) offenders.push(`${file}: ${match[0]}`);
      }
    }
    expect(files.length).toBeGreaterThan(5);
    expect(offenders).toEqual([]);
  });
});
