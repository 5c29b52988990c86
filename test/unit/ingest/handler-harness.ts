/**
 * The ingest Lambda's `handler.ts`, loaded fresh (fresh key cache, fresh clients) with its AWS
 * clients mocked, and API Gateway HTTP API (payload v2) events to call it with. A unit-test
 * harness of one module: what matters is the SendMessage command that was, or was not, sent.
 */
import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { fixture, signWebhook } from '../../../simulator/signing';

export const KEY = 'APIprimary';
export const SECRET = 'primary-secret-at-least-32-characters-long';
export const NEXT_KEY = 'APIrotated';
export const NEXT_SECRET = 'rotated-secret-at-least-32-characters-long';
export const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/webhooks';
export const EVENT = fixture('livekit-track-unpublished.json');
export const KEYS_JSON = JSON.stringify({ [KEY]: SECRET, [NEXT_KEY]: NEXT_SECRET });

/**
 * What one GetSecretValue answers: the secret text, an error, a call that never answers, or the
 * text a function returns when the call is made (a secret the test edits, as an operator does).
 */
// eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- 'hang' names the sentinel for the reader
export type SecretAnswer = string | Error | 'hang' | (() => string);

export interface Loaded {
  handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
  /** Inputs of every SendMessage the handler sent. */
  sent: () => Array<Record<string, any>>;
  /** Inputs of every PutObject the handler sent to the claim-check bucket. */
  puts: () => Array<Record<string, any>>;
  s3: ReturnType<typeof mockClient>;
  secretReads: () => number;
  sqs: ReturnType<typeof mockClient>;
  secrets: ReturnType<typeof mockClient>;
  /** Lines the handler logged (JSON-parsed), captured from stdout. */
  logs: () => Array<Record<string, any>>;
  /** SQS as it validates a body: refuses characters outside its allowed set and messages over 1 MiB. */
  validateLikeSqs: () => void;
}

export interface LoadOptions {
  /** One answer per GetSecretValue call; the last one repeats. */
  secrets?: SecretAnswer[];
  env?: Record<string, string>;
  /** Sets CLAIM_CHECK_BUCKET (unset otherwise: no claim-check store, as before the bucket existed). */
  claimCheckBucket?: string;
}

export const CLAIM_CHECK_BUCKET = 'livekit-claim-checks-test';
/** The pipeline's name, as the construct sets PIPELINE_NAME. */
export const PIPELINE = 'lkw-test';

/** SQS's allowed body characters (#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF). */
const SQS_REFUSED = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** The bytes SQS counts for a message: body plus each attribute's name, type and value. */
export function sqsSize(input: Record<string, any>): number {
  let size = Buffer.byteLength(input.MessageBody);
  for (const [name, value] of Object.entries<any>(input.MessageAttributes ?? {})) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType) + Buffer.byteLength(value.StringValue ?? '');
  }
  return size;
}

/** A fresh handler module (fresh key cache), with its AWS clients mocked. */
export function loadHandler(options: LoadOptions = {}): Loaded {
  const answers = options.secrets ?? [KEYS_JSON];
  delete process.env.CLAIM_CHECK_BUCKET;
  if (options.claimCheckBucket !== undefined) process.env.CLAIM_CHECK_BUCKET = options.claimCheckBucket;
  Object.assign(process.env, {
    QUEUE_URL,
    LIVEKIT_KEYS_SECRET_ID: 'livekit-keys',
    MAX_BODY_BYTES: '4096',
    CLOCK_TOLERANCE_SECONDS: '30',
    KEY_CACHE_SECONDS: '300',
    PIPELINE_NAME: PIPELINE,
    LOG_LEVEL: 'debug',
    AWS_REGION: 'eu-west-1',
    ...options.env,
  });
  const lines: string[] = [];
  let loaded!: Loaded;
  jest.isolateModules(() => {
    const sqsModule = require('@aws-sdk/client-sqs');
    const smModule = require('@aws-sdk/client-secrets-manager');
    const s3Module = require('@aws-sdk/client-s3');
    const s3 = mockClient(s3Module.S3Client);
    s3.on(s3Module.PutObjectCommand).resolves({ ETag: '"e"' } as never);
    const sqs = mockClient(sqsModule.SQSClient);
    sqs.on(sqsModule.SendMessageCommand).resolves({ MessageId: 'm-1' } as never);
    const secrets = mockClient(smModule.SecretsManagerClient);
    let reads = 0;
    secrets.on(smModule.GetSecretValueCommand).callsFake(() => {
      const answer = answers[Math.min(reads++, answers.length - 1)];
      if (answer === 'hang') return new Promise(() => undefined);
      if (answer instanceof Error) return Promise.reject(answer);
      return Promise.resolve({ SecretString: typeof answer === 'function' ? answer() : answer });
    });
    const write = process.stdout.write.bind(process.stdout);
    const { handler } = require('../../../lambda/ingest/handler');
    const capture = async (event: APIGatewayProxyEventV2) => {
      // The handler logs to stdout; keep its lines (and only its lines) for assertions.
      process.stdout.write = (chunk: string | Uint8Array) => {
        const text = String(chunk);
        if (text.startsWith('{')) lines.push(...text.trim().split('\n'));
        else write(chunk);
        return true;
      };
      try {
        return await handler(event);
      } finally {
        process.stdout.write = write;
      }
    };
    loaded = {
      handler: capture,
      sent: () => sqs.commandCalls(sqsModule.SendMessageCommand).map((call) => call.args[0].input),
      puts: () => s3.commandCalls(s3Module.PutObjectCommand).map((call) => call.args[0].input),
      s3,
      secretReads: () => reads,
      sqs,
      secrets,
      logs: () => lines.map((line) => JSON.parse(line)),
      validateLikeSqs: () => {
        sqs.on(sqsModule.SendMessageCommand).callsFake((input: Record<string, any>) => {
          if (SQS_REFUSED.test(input.MessageBody)) {
            throw Object.assign(new Error('Invalid characters found.'), { name: 'InvalidMessageContents' });
          }
          if (sqsSize(input) > 1_048_576)
            throw Object.assign(new Error('Message must be shorter than 1048576 bytes.'), { name: 'InvalidParameterValue' });
          return { MessageId: 'm-1' };
        });
      },
    };
  });
  return loaded;
}

/**
 * `Date.now` moved by the test, for what the handler times (the key store's ages of the key set).
 * Call it before `loadHandler`: the key store takes `Date.now` when it is built. The offset stays
 * within the tokens' clock tolerance, so signing and verifying are unaffected.
 */
export function movableClock(): { advance: (ms: number) => void; restore: () => void } {
  const real = Date.now.bind(Date);
  let offset = 0;
  const spy = jest.spyOn(Date, 'now').mockImplementation(() => real() + offset);
  return { advance: (ms) => (offset += ms), restore: () => spy.mockRestore() };
}

export interface RequestOptions {
  body?: Buffer | string;
  headers?: Record<string, string>;
  method?: string;
  path?: string;
  base64?: boolean;
}

/** An HTTP API (payload v2) event as API Gateway builds it for `POST /webhook`. */
export function apiEvent({
  body = EVENT,
  headers = {},
  method = 'POST',
  path = '/webhook',
  base64 = false,
}: RequestOptions): APIGatewayProxyEventV2 {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/webhook+json', 'user-agent': 'LiveKit', ...headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: 'LiveKit' },
      requestId: 'req',
      routeKey: '$default',
      stage: '$default',
      time: '',
      timeEpoch: 0,
    },
    body: base64 ? bytes.toString('base64') : bytes.toString('utf8'),
    isBase64Encoded: base64,
  };
}

export async function signed(body: Buffer | string, key = KEY, secret = SECRET): Promise<Record<string, string>> {
  return { authorization: await signWebhook(body, key, secret) };
}

/** A token LiveKit would never send, for the cases the SDK's AccessToken cannot make. */
export async function handMadeToken(
  claims: Record<string, unknown>,
  secret = SECRET,
  header: Record<string, unknown> = { alg: 'HS256' },
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader(header as { alg: string });
  return jwt.sign(new TextEncoder().encode(secret));
}

/**
 * An HS256 JWT whose payload is the exact JSON text given, correctly signed: for claims no JSON
 * serializer writes (`"exp":1e400`, which JSON.parse reads as Infinity).
 */
export function rawToken(payloadJson: string, secret = SECRET): string {
  const part = (text: string) => Buffer.from(text).toString('base64url');
  const signingInput = `${part('{"alg":"HS256","typ":"JWT"}')}.${part(payloadJson)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
