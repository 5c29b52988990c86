import { readFileSync } from 'node:fs';
import { Logger, serializeError, withRequestId } from '../../../lambda/shared/logger';
import { repoPath } from '../../support/paths';

/*
 * The log line contract on-call relies on: errors with name, message and stack (and their cause),
 * and the Lambda request id on every line of an invocation, also when invocations overlap (the
 * local runtime runs several at once in one process).
 */
function capture(pipeline?: string): { logger: Logger; lines: () => Array<Record<string, any>>; raw: string[] } {
  const raw: string[] = [];
  return {
    logger: new Logger({ service: 'test', pipeline, level: 'debug', sink: (line) => raw.push(line) }),
    lines: () => raw.map((line) => JSON.parse(line)),
    raw,
  };
}

describe('Logger', () => {
  it('writes an error with its name, message and stack, and not its cause (a wrapper may hide secret text there)', () => {
    const { logger, lines } = capture();
    const cause = new SyntaxError('Unexpected token in {"APIkey":"a-secret"}');
    const error = new Error('could not read the LiveKit API keys', { cause });
    error.name = 'KeyStoreUnavailableError';
    logger.error('LiveKit API keys unavailable; asking LiveKit to retry', { error });
    const [line] = lines();
    expect(line.error).toMatchObject({ name: 'KeyStoreUnavailableError', message: 'could not read the LiveKit API keys' });
    expect(line.error.stack).toContain('KeyStoreUnavailableError: could not read the LiveKit API keys');
    expect(line.error.stack).toMatch(/logger\.test\.ts:\d+/);
    expect(JSON.stringify(line)).not.toContain('a-secret');
  });

  it('serialises any Error field, and keeps the SDK status code', () => {
    const { logger, lines } = capture();
    const sdk = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
    logger.warn('step failed', { failure: sdk });
    expect(lines()[0].failure).toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded', httpStatusCode: 400 });
    expect(serializeError(new Error('x')).stack).toBeDefined();
  });

  it('puts the request id on every line of an invocation, and none outside one', async () => {
    const { logger, lines } = capture();
    const child = logger.child({ eventId: 'EV_1' });
    const handler = withRequestId(async (event: { n: number }) => {
      logger.info('start', { n: event.n });
      await new Promise((resolve) => setTimeout(resolve, 5 * event.n));
      child.warn('middle');
      await Promise.resolve();
      logger.error('end', { error: new Error('boom') });
      return event.n;
    });
    logger.info('before');
    // Overlapping invocations: each line names its own.
    const results = await Promise.all([handler({ n: 3 }, { awsRequestId: 'req-a' }), handler({ n: 1 }, { awsRequestId: 'req-b' })]);
    expect(results).toEqual([3, 1]);
    logger.info('after');
    const all = lines();
    expect(all[0]).not.toHaveProperty('requestId');
    expect(all[all.length - 1]).not.toHaveProperty('requestId');
    const inside = all.slice(1, -1);
    expect(inside).toHaveLength(6);
    for (const line of inside) expect(['req-a', 'req-b']).toContain(line.requestId);
    expect(inside.filter((line) => line.requestId === 'req-a').map((line) => line.message)).toEqual(['start', 'middle', 'end']);
    expect(inside.filter((line) => line.requestId === 'req-b').map((line) => line.message)).toEqual(['start', 'middle', 'end']);
    expect(inside.find((line) => line.message === 'middle')).toMatchObject({ eventId: 'EV_1' });
  });

  it('names the pipeline on every line, its children too (the metric filters take their Pipeline dimension from it)', () => {
    const { logger, lines, raw } = capture('lkw-prod');
    logger.info('event enqueued', { eventId: 'EV_1' });
    logger.child({ eventId: 'EV_2' }).warn('webhook rejected', { reason: 'unknown_key' });
    expect(lines().map((line) => line.pipeline)).toEqual(['lkw-prod', 'lkw-prod']);
    // Short and early in the line: it is paid for on every line.
    expect(raw[0]).toMatch(/^\{"level":"info","time":"[^"]+","service":"test","pipeline":"lkw-prod","message":"event enqueued"/);
  });

  it('writes no pipeline field without one (tests, scripts)', () => {
    const { logger, lines } = capture();
    logger.info('x');
    expect(lines()[0]).not.toHaveProperty('pipeline');
  });

  it('runs a handler without a context (tests, scripts) without a request id', async () => {
    const { logger, lines } = capture();
    await withRequestId(async () => logger.info('x'))(undefined);
    expect(lines()[0]).not.toHaveProperty('requestId');
  });
});

describe('the Lambda entry points', () => {
  it('bind the request id: ingest, process and reconcile export a handler wrapped by withRequestId', () => {
    for (const file of ['ingest/handler.ts', 'process/handler.ts', 'reconcile/handler.ts']) {
      const source = readFileSync(repoPath('lambda', file), 'utf8');
      expect(source).toMatch(/export const handler = withRequestId\(/);
    }
  });

  it('name the pipeline (PIPELINE_NAME) on every log line and every EMF metric', () => {
    for (const file of ['ingest/handler.ts', 'process/handler.ts', 'publish/handler.ts', 'reconcile/handler.ts']) {
      const source = readFileSync(repoPath('lambda', file), 'utf8');
      expect(source).toContain('pipelineNameEnv()');
      for (const logger of source.match(/new Logger\(\{[^}]*\}\)/g) ?? []) expect(logger).toMatch(/\bpipeline\b/);
      expect(source).not.toMatch(/new EmfMetricsSink\(\)/);
    }
  });

  it('the ingest handler logs with the invocation request id (a rejected request, no AWS call)', async () => {
    Object.assign(process.env, {
      QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/q',
      LIVEKIT_KEYS_SECRET_ID: 'livekit-keys',
      MAX_BODY_BYTES: '65536',
      CLOCK_TOLERANCE_SECONDS: '30',
      KEY_CACHE_SECONDS: '300',
      PIPELINE_NAME: 'lkw-prod',
      LOG_LEVEL: 'info',
      AWS_REGION: 'eu-west-1',
    });
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      let handler!: (event: unknown, context: { awsRequestId: string }) => Promise<{ statusCode: number }>;
      jest.isolateModules(() => {
        handler = require('../../../lambda/ingest/handler').handler;
      });
      const response = await handler(
        {
          version: '2.0',
          routeKey: '$default',
          rawPath: '/webhook',
          rawQueryString: '',
          headers: {},
          body: '{}',
          isBase64Encoded: false,
          requestContext: { http: { method: 'POST', path: '/webhook' } },
        },
        { awsRequestId: 'c0ffee00-1111-2222-3333-444455556666' },
      );
      expect(response.statusCode).toBe(401);
    } finally {
      spy.mockRestore();
    }
    const lines = written
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line));
    const rejected = lines.find((line) => line.message === 'webhook rejected');
    expect(rejected).toMatchObject({
      requestId: 'c0ffee00-1111-2222-3333-444455556666',
      reason: 'missing_token',
      statusCode: 401,
      // The SignatureProbes filter's Pipeline dimension: the construct's PIPELINE_NAME.
      pipeline: 'lkw-prod',
    });
  });
});
