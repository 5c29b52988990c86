import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { createIngestHandler } from '../../../lambda/ingest/ingest-handler';
import { Logger } from '../../../lambda/shared/logger';
import { fixture, signWebhook } from '../../../simulator/signing';
import { repoPath } from '../../support/paths';

/*
 * Secrets never reach a log line: the ingest paths that hold the LiveKit API secret, run with every
 * outcome, and a scan of every logger call in lambda/ (that function environments hold only
 * references to secrets is test/infra/stack/hardening.test.ts).
 */
describe('secrets in log lines', () => {
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
