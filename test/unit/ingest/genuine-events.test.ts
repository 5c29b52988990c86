import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { BODY_LOCATION_S3, claimCheckKey, parseClaimCheck } from '../../../contracts/queue-message';
import { sqsSafeBody } from '../../../lambda/shared/sqs-safe-body';
import { DEFAULT_CONFIG } from '../../../lib/config';
import { LOG_METRICS } from '../../../lib/monitoring';
import { matchesFilterPattern } from '../../support/metric-filter';
import { ANSWER_BOUND_MS, KEY_WAIT_MS, SQS_SEND_DEADLINE_MS } from '../../../lambda/ingest/ingest-handler';
import { bodySha256 } from '../../../simulator/signing';
import { emojiBody, largeMetadataBody, metadataOfBytes, nonCharacterBody, participantJoinedBody } from '../../support/genuine-bodies';
import {
  apiEvent,
  CLAIM_CHECK_BUCKET,
  EVENT,
  handMadeToken,
  KEY,
  loadHandler,
  nowSeconds,
  rawToken,
  SECRET,
  signed,
  sqsSize,
} from './handler-harness';

/*
 * Issue 11, ingest side, through the real Lambda handler (handler.ts, AWS clients mocked): every
 * body a real LiveKit can send is accepted and stored, never answered 4xx; Secrets Manager being
 * down costs no answer more than a bounded wait; and the smaller holes in the token checks.
 */

const DEFAULT_CAP = { MAX_BODY_BYTES: String(DEFAULT_CONFIG.ingest.maxBodyBytes) };
const SQS_MAX = 1_048_576;
/** SQS refuses these in a message body; the local emulator also refuses surrogates (astral characters). */
const NOT_FOR_SQS_OR_EMULATOR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD]/;

describe('case 1: genuine events larger than the old 64 KiB cap', () => {
  it('accepts a participant_joined with 40 KB room metadata, 40 KB participant metadata and attributes, and enqueues it byte for byte', async () => {
    const h = loadHandler({ env: DEFAULT_CAP });
    h.validateLikeSqs();
    const body = largeMetadataBody();
    expect(Buffer.byteLength(body.text)).toBeGreaterThan(64 * 1024);

    const response = await h.handler(apiEvent({ body: body.text, headers: await signed(body.text) }));

    expect(response.statusCode).toBe(200);
    expect(h.sent()).toHaveLength(1);
    expect(h.sent()[0].MessageBody).toBe(body.text);
  });

  it('answers a genuine event over ingest.maxBodyBytes with 503 (LiveKit retries), never a 4xx, and enqueues nothing', async () => {
    const h = loadHandler({ env: { MAX_BODY_BYTES: '65536' } });
    const body = largeMetadataBody();

    const response = await h.handler(apiEvent({ body: body.text, headers: await signed(body.text) }));

    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBeUndefined();
    expect(JSON.parse(response.body!)).toEqual({ error: 'event_too_large' });
    expect(h.sent()).toHaveLength(0);
    expect(h.logs()).toContainEqual(
      expect.objectContaining({ level: 'error', message: 'event not stored; asking LiveKit to retry', reason: 'event_too_large' }),
    );
  });

  it('stores the body in the claim-check bucket when it fits the cap but the SQS message (escaped body + attributes) would not', async () => {
    const h = loadHandler({ env: DEFAULT_CAP, claimCheckBucket: CLAIM_CHECK_BUCKET });
    h.validateLikeSqs();
    // 330,000 U+FFFF: 990 KB as received, 1.98 MB once escaped as \uffff for SQS.
    const body = participantJoinedBody({ metadata: '\uFFFF'.repeat(330_000) });
    expect(Buffer.byteLength(body.text)).toBeLessThan(SQS_MAX);

    const response = await h.handler(apiEvent({ body: body.text, headers: await signed(body.text) }));

    expect(response.statusCode).toBe(200);
    const [put] = h.puts();
    // The object is the body as it would have been enqueued: escaped, the same JSON.
    expect(put.Body.toString('utf8')).toBe(sqsSafeBody(body.text));
    expect(JSON.parse(put.Body.toString('utf8'))).toEqual(JSON.parse(body.text));
    expect(parseClaimCheck(h.sent()[0].MessageBody)).toMatchObject({ bytes: put.Body.length });
  });

  it('without a claim-check bucket, answers 503 event_too_large (not 4xx) when the SQS message would not fit', async () => {
    const h = loadHandler({ env: DEFAULT_CAP });
    h.validateLikeSqs();
    const body = participantJoinedBody({ metadata: '\uFFFF'.repeat(330_000) });
    expect(Buffer.byteLength(body.text)).toBeLessThan(DEFAULT_CONFIG.ingest.maxBodyBytes);

    const response = await h.handler(apiEvent({ body: body.text, headers: await signed(body.text) }));

    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body!)).toEqual({ error: 'event_too_large' });
    expect(h.sent()).toHaveLength(0);
    expect(h.puts()).toHaveLength(0);
  });

  it('still answers 401 to an unsigned oversized body (the size is no reason to skip the signature)', async () => {
    const h = loadHandler({ env: { MAX_BODY_BYTES: '65536' } });
    const body = largeMetadataBody();
    const response = await h.handler(apiEvent({ body: body.text, headers: await signed('{"id":"EV_other","event":"room_started"}') }));
    expect(response.statusCode).toBe(401);
    expect(h.sent()).toHaveLength(0);
  });
});

describe('case 1b: the claim check, for a genuine event whose SQS message would exceed 1 MiB', () => {
  /** A participant_joined over 1 MiB as received: both metadata at 600,000 bytes of JSON. */
  const overOneMiB = () =>
    participantJoinedBody({
      roomMetadata: metadataOfBytes(600_000, 'room'),
      metadata: metadataOfBytes(600_000, 'participant'),
      attributes: { role: 'host' },
    });
  const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes);
  const withBucket = () => {
    const h = loadHandler({ env: DEFAULT_CAP, claimCheckBucket: CLAIM_CHECK_BUCKET });
    h.validateLikeSqs();
    return h;
  };

  it('puts the body under events/<sha256>.json (checksummed) and enqueues a ClaimCheck with the same attributes plus bodyLocation=s3', async () => {
    const h = withBucket();
    const body = overOneMiB();
    expect(Buffer.byteLength(body.text)).toBeGreaterThan(SQS_MAX);

    const response = await h.handler(apiEvent({ body: body.text, headers: await signed(body.text) }));

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body!)).toEqual({ ok: true, id: body.id });
    expect(h.puts()).toHaveLength(1);
    const put = h.puts()[0];
    const stored = Buffer.from(put.Body);
    expect(stored.toString('utf8')).toBe(body.text);
    const hex = sha256(stored).digest('hex');
    expect(put).toMatchObject({
      Bucket: CLAIM_CHECK_BUCKET,
      Key: claimCheckKey(hex),
      ContentType: 'application/json',
      ChecksumSHA256: sha256(stored).digest('base64'),
    });

    expect(h.sent()).toHaveLength(1);
    const message = h.sent()[0];
    expect(parseClaimCheck(message.MessageBody)).toEqual({
      bucket: CLAIM_CHECK_BUCKET,
      key: claimCheckKey(hex),
      bytes: stored.length,
      sha256: hex,
    });
    expect(sqsSize(message)).toBeLessThan(4_096);
    const attributes = Object.fromEntries(Object.entries<any>(message.MessageAttributes).map(([name, v]) => [name, v.StringValue]));
    expect(attributes).toEqual({
      eventId: body.id,
      eventType: 'participant_joined',
      roomName: expect.any(String),
      source: 'webhook',
      receivedAt: expect.stringMatching(/^\d+$/),
      bodyLocation: BODY_LOCATION_S3,
    });
    expect(h.logs()).toContainEqual(
      expect.objectContaining({ level: 'info', message: 'event enqueued', claimCheck: true, bytes: stored.length, eventId: body.id }),
    );
  });

  it('writes the same object for a retry of the same event (content-addressed)', async () => {
    const h = withBucket();
    const body = overOneMiB();
    const headers = await signed(body.text);
    for (let i = 0; i < 2; i++) expect((await h.handler(apiEvent({ body: body.text, headers }))).statusCode).toBe(200);
    expect(h.puts().map((put) => put.Key)).toEqual([h.puts()[0].Key, h.puts()[0].Key]);
  });

  it('admits the largest genuine event under LiveKit default limits with the default ingest.maxBodyBytes', async () => {
    const h = withBucket();
    // Metadata that is JSON of escaped strings doubles under protojson's escaping: 512 KiB of '"'
    // in each metadata and 64 KiB in the attributes is the worst case LiveKit's limits allow.
    const body = participantJoinedBody({
      roomMetadata: '"'.repeat(512 * 1024),
      metadata: '"'.repeat(512 * 1024),
      attributes: { k: '"'.repeat(64 * 1024 - 1) },
    });
    expect(Buffer.byteLength(body.text)).toBeGreaterThan(2 * 1_048_576);
    expect(Buffer.byteLength(body.text)).toBeLessThanOrEqual(DEFAULT_CONFIG.ingest.maxBodyBytes);

    const response = await h.handler(apiEvent({ body: body.text, headers: await signed(body.text) }));

    expect(response.statusCode).toBe(200);
    expect(h.puts()).toHaveLength(1);
  });

  it('still answers 503 event_too_large above ingest.maxBodyBytes, storing nothing', async () => {
    const h = loadHandler({ env: { MAX_BODY_BYTES: String(SQS_MAX) }, claimCheckBucket: CLAIM_CHECK_BUCKET });
    const body = overOneMiB();
    const response = await h.handler(apiEvent({ body: body.text, headers: await signed(body.text) }));
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body!)).toEqual({ error: 'event_too_large' });
    expect(h.puts()).toHaveLength(0);
    expect(h.sent()).toHaveLength(0);
  });

  it('answers 503 not_stored and enqueues nothing when S3 refuses the put, logging the line the 5xx metric filter counts', async () => {
    const h = withBucket();
    h.s3.rejects(Object.assign(new Error('Access Denied'), { name: 'AccessDenied' }));
    const body = overOneMiB();

    const response = await h.handler(apiEvent({ body: body.text, headers: await signed(body.text) }));

    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBeUndefined();
    expect(JSON.parse(response.body!)).toEqual({ error: 'not_stored' });
    expect(h.sent()).toHaveLength(0);
    expect(h.logs()).toContainEqual(
      expect.objectContaining({ level: 'error', message: 'event not stored; asking LiveKit to retry', claimCheck: true }),
    );
  });

  it('answers 503 not_stored when the put succeeded but SQS refuses the claim check', async () => {
    const h = withBucket();
    h.sqs.rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    const body = overOneMiB();
    const response = await h.handler(apiEvent({ body: body.text, headers: await signed(body.text) }));
    expect(response.statusCode).toBe(503);
    expect(h.puts()).toHaveLength(1);
  });

  it('answers 503 at the send deadline when S3 hangs, and a put that finishes later starts no send', async () => {
    const h = withBucket();
    let finishPut!: () => void;
    h.s3.callsFake(() => new Promise((resolve) => (finishPut = () => resolve({ ETag: '"e"' }))));
    const body = overOneMiB();
    const response = await answerAtDeadline(
      h.handler,
      apiEvent({ body: body.text, headers: await signed(body.text) }),
      () => h.puts().length > 0,
      SQS_SEND_DEADLINE_MS,
    );
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body!)).toEqual({ error: 'not_stored' });
    finishPut();
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(h.sent()).toHaveLength(0);
  }, 10_000);

  it('bounds the put and the send together: a slow put leaves the send only the rest of the one deadline', async () => {
    const h = withBucket();
    // The put takes 1 s of fake time, then SQS hangs: the answer comes 1.5 s after the put began, not 2.5 s.
    h.s3.callsFake(() => new Promise((resolve) => setTimeout(() => resolve({ ETag: '"e"' }), 1_000)));
    h.sqs.callsFake(() => new Promise(() => undefined));
    const body = overOneMiB();
    const response = await answerAtDeadline(
      h.handler,
      apiEvent({ body: body.text, headers: await signed(body.text) }),
      () => h.puts().length > 0,
      SQS_SEND_DEADLINE_MS,
    );
    expect(response.statusCode).toBe(503);
    expect(h.sent()).toHaveLength(1);
    expect(KEY_WAIT_MS + SQS_SEND_DEADLINE_MS).toBe(ANSWER_BOUND_MS);
  }, 10_000);
});

describe('case 2: characters SQS (or the local emulator) refuses', () => {
  it.each([
    ['U+FFFE and U+FFFF in the name, metadata and attributes', nonCharacterBody],
    ['emoji and other characters outside the BMP', emojiBody],
  ])('accepts %s, enqueuing a body with the same JSON meaning and only characters SQS and the emulator accept', async (_name, make) => {
    const h = loadHandler({ env: DEFAULT_CAP });
    h.validateLikeSqs();
    const body = make();

    const response = await h.handler(apiEvent({ body: body.text, headers: await signed(body.text) }));

    expect(response.statusCode).toBe(200);
    expect(h.sent()).toHaveLength(1);
    const queued = h.sent()[0];
    expect(queued.MessageBody).not.toMatch(NOT_FOR_SQS_OR_EMULATOR);
    expect(JSON.parse(queued.MessageBody)).toEqual(JSON.parse(body.text));
    for (const value of Object.values<any>(queued.MessageAttributes)) expect(value.StringValue).not.toMatch(NOT_FOR_SQS_OR_EMULATOR);
  });

  it('gives a room name with U+FFFF an SQS-safe roomName attribute', async () => {
    const h = loadHandler({ env: DEFAULT_CAP });
    h.validateLikeSqs();
    const body = participantJoinedBody({ roomName: 'lobby \uFFFF 🎉' });
    expect((await h.handler(apiEvent({ body: body.text, headers: await signed(body.text) }))).statusCode).toBe(200);
    expect(h.sent()[0].MessageAttributes.roomName.StringValue).toBe('lobby \\uffff \\ud83c\\udf89');
  });
});

/**
 * The handler's answer to `event` on jest's fake clock, for answers that come from a deadline: the
 * clock moves only once `waiting()` says the handler waits on what hangs (after its real async work,
 * such as verifying the JWT), stops 1 ms short of `deadlineMs` to check that no answer came yet,
 * then reaches it. The answer comes at the deadline, not earlier, without spending it in real time.
 */
async function answerAtDeadline(
  handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>,
  event: APIGatewayProxyEventV2,
  waiting: () => boolean,
  deadlineMs: number,
): Promise<APIGatewayProxyStructuredResultV2> {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  try {
    let answered = false;
    const answer = handler(event).finally(() => {
      answered = true;
    });
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    while (!waiting() && !answered) await turn();
    expect(answered).toBe(false);
    await jest.advanceTimersByTimeAsync(deadlineMs - 1);
    // Whatever real async work a timer might have started gets its turns; still no answer.
    for (let i = 0; i < 20; i++) await turn();
    expect(answered).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    return await answer;
  } finally {
    jest.useRealTimers();
  }
}

describe('case 7: Secrets Manager down', () => {
  const knownThenDown = (down: 'hang' | Error) =>
    loadHandler({ secrets: [JSON.stringify({ [KEY]: SECRET }), down], env: { KEY_CACHE_SECONDS: '0' } });

  it.each([
    ['hangs', 'hang' as const],
    ['fails', new Error('ServiceUnavailable')],
  ])(
    'answers at once with the last good keys while a refresh %s, and does not call Secrets Manager per request',
    async (_name, down) => {
      const h = knownThenDown(down);
      expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
      // Every later request finds the key set past its cache period (0 s) while the refresh is down.
      for (let i = 0; i < 5; i++) expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
      expect(h.sent()).toHaveLength(6);
      expect(h.secretReads()).toBe(2);
    },
    10_000,
  );

  it('answers 503 within the bound on a cold start while Secrets Manager hangs', async () => {
    const h = loadHandler({ secrets: ['hang'] });
    const response = await answerAtDeadline(
      h.handler,
      apiEvent({ headers: await signed(EVENT) }),
      // The read's wait starts with the read, before the client's middleware reaches the secret.
      () => h.secretReads() > 0,
      KEY_WAIT_MS,
    );
    expect(response.statusCode).toBe(503);
    expect(h.logs()).toContainEqual(expect.objectContaining({ message: 'LiveKit API keys unavailable; asking LiveKit to retry' }));
  }, 10_000);

  it('answers 503 at once on a cold start while Secrets Manager fails, backing off instead of calling it on every request', async () => {
    const h = loadHandler({ secrets: [new Error('AccessDenied')] });
    for (let i = 0; i < 3; i++) expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(503);
    expect(h.secretReads()).toBe(1);
  }, 10_000);

  it('answers 503 when SQS hangs: the send is cut at its deadline even if the client ignores the abort', async () => {
    const h = loadHandler();
    h.sqs.callsFake(() => new Promise(() => undefined));
    const response = await answerAtDeadline(
      h.handler,
      apiEvent({ headers: await signed(EVENT) }),
      // The send's deadline starts before the send itself.
      () => h.sent().length > 0,
      SQS_SEND_DEADLINE_MS,
    );
    expect(response.statusCode).toBe(503);
    expect(JSON.parse(response.body!)).toEqual({ error: 'not_stored' });
  }, 10_000);

  it('documents a worst case of 2 s for an answer: the key wait plus the SQS deadline, both raced', () => {
    expect(KEY_WAIT_MS + SQS_SEND_DEADLINE_MS).toBe(ANSWER_BOUND_MS);
    expect(ANSWER_BOUND_MS).toBe(2_000);
  });

  it('says "not configured" (still 503, LiveKit retries) when the secret holds no key pair, with how to fix it once per read of the secret', async () => {
    const h = loadHandler({ secrets: ['{}'] });
    for (let i = 0; i < 5; i++) {
      const response = await h.handler(apiEvent({ headers: await signed(EVENT) }));
      expect(response.statusCode).toBe(503);
      expect(JSON.parse(response.body!)).toEqual({ error: 'keys_not_configured' });
    }
    const notConfigured = h.logs().filter((line) => line.message === 'LiveKit API keys not configured; asking LiveKit to retry');
    const withError = notConfigured.filter((line) => line.error !== undefined);
    expect(withError.length).toBeGreaterThanOrEqual(1);
    expect(withError.length).toBeLessThanOrEqual(h.secretReads());
    expect(withError[0]).toMatchObject({ level: 'error', error: { message: expect.stringContaining('{"<apiKey>": "<apiSecret>"}') } });
    expect(h.logs().map((line) => line.message)).not.toContain('LiveKit API keys unavailable; asking LiveKit to retry');
  });

  it('logs one line the NotConfigured metric filter counts per "not configured" 503, so the api-5xx page subtracts every one of them', async () => {
    // A fresh stack (secret `{}`) receiving LiveKit's events and JWT-shaped junk from anyone: every
    // answer is a 503, API Gateway counts each as a 5xx, and `api-5xx` is 5xx minus NotConfigured.
    const h = loadHandler({ secrets: ['{}'] });
    const junk = (i: number) =>
      `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: `APIjunk${i}`, exp: 9 })).toString('base64url')}.AAAA`;
    const requests = 30;
    let fiveXx = 0;
    for (let i = 0; i < requests; i++) {
      const headers = i % 2 === 0 ? await signed(EVENT) : { authorization: junk(i) };
      if (((await h.handler(apiEvent({ headers }))).statusCode ?? 0) >= 500) fiveXx++;
    }
    expect(fiveXx).toBe(requests);
    const counted = (pattern: string) => h.logs().filter((line) => matchesFilterPattern(pattern, line)).length;
    expect(counted(LOG_METRICS.notConfigured.pattern)).toBe(fiveXx);
    // Nothing of it counts as a failure that pages.
    expect(counted(LOG_METRICS.enqueueFailures.pattern)).toBe(0);
    expect(counted(LOG_METRICS.signatureFailures.pattern)).toBe(0);
  });
});

describe('forged key ids while the keys secret cannot be read again', () => {
  /** JWT-shaped, HS256 in its header, a made-up key id: what anyone on the internet can send. */
  const forged = (i: number) =>
    `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: `APIforged${i}`, exp: 9 })).toString('base64url')}.AAAA`;
  /** Past FORCED_KEY_REFRESH_MS (1 s): the key set read at the first request may no longer call a key unknown. */
  const setAges = () => new Promise((resolve) => setTimeout(resolve, 1_100));

  it('answers 503 (LiveKit retries: the key may have been added since), counted as UnknownKeyRetries, none of it a failure that pages', async () => {
    const h = loadHandler({ secrets: [JSON.stringify({ [KEY]: SECRET }), new Error('ThrottlingException')] });
    expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
    await setAges();
    let fiveXx = 0;
    for (let i = 0; i < 20; i++) {
      const response = await h.handler(apiEvent({ headers: { authorization: forged(i) } }));
      expect(response.statusCode).toBe(503);
      expect(JSON.parse(response.body!)).toEqual({ error: 'keys_unavailable' });
      fiveXx++;
    }
    // LiveKit's events, signed with a key of the set, go on being accepted meanwhile.
    expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
    const counted = (pattern: string) => h.logs().filter((line) => matchesFilterPattern(pattern, line)).length;
    expect(counted(LOG_METRICS.unknownKeyRetries.pattern)).toBe(fiveXx);
    expect(counted(LOG_METRICS.enqueueFailures.pattern)).toBe(0);
    expect(counted(LOG_METRICS.signatureFailures.pattern)).toBe(0);
    expect(counted(LOG_METRICS.notConfigured.pattern)).toBe(0);
  }, 10_000);

  it('on a fresh stack (secret `{}`) they stay "not configured" 503s, which page nobody', async () => {
    const h = loadHandler({ secrets: ['{}', new Error('ThrottlingException')] });
    expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(503);
    await setAges();
    for (let i = 0; i < 20; i++) {
      const response = await h.handler(apiEvent({ headers: { authorization: forged(i) } }));
      expect(JSON.parse(response.body!)).toEqual({ error: 'keys_not_configured' });
    }
    const counted = (pattern: string) => h.logs().filter((line) => matchesFilterPattern(pattern, line)).length;
    expect(counted(LOG_METRICS.notConfigured.pattern)).toBe(21);
    expect(counted(LOG_METRICS.enqueueFailures.pattern)).toBe(0);
    expect(counted(LOG_METRICS.unknownKeyRetries.pattern)).toBe(0);
  }, 10_000);
});

describe('case 8: token and body checks', () => {
  it.each([
    [
      'exp = 1e400 (JSON.parse reads Infinity: a token that never expires)',
      () => rawToken(`{"iss":"${KEY}","exp":1e400,"sha256":"${bodySha256(EVENT)}"}`),
    ],
    [
      'exp a day ahead (LiveKit tokens live 5 minutes)',
      () => handMadeToken({ iss: KEY, exp: nowSeconds() + 86_400, sha256: bodySha256(EVENT) }),
    ],
  ])('refuses a correctly signed token with %s', async (_name, token) => {
    const h = loadHandler();
    const response = await h.handler(apiEvent({ headers: { authorization: await token() } }));
    expect(response.statusCode).toBe(401);
    expect(JSON.parse(response.body!).error).toBe('invalid_token');
    expect(h.sent()).toHaveLength(0);
  });

  it('accepts a token that expires 5 minutes + the clock tolerance ahead (a LiveKit clock ahead of ours)', async () => {
    const h = loadHandler();
    const token = await handMadeToken({ iss: KEY, nbf: nowSeconds() + 25, exp: nowSeconds() + 300 + 25, sha256: bodySha256(EVENT) });
    expect((await h.handler(apiEvent({ headers: { authorization: token } }))).statusCode).toBe(200);
  });

  it.each(['Bearer ', 'bearer ', 'Bearer  '])(
    'refuses the token behind a %j prefix as malformed, for the key lookup and the verification alike',
    async (prefix) => {
      const h = loadHandler();
      const token = (await signed(EVENT)).authorization;
      const response = await h.handler(apiEvent({ headers: { authorization: `${prefix}${token}` } }));
      expect(response.statusCode).toBe(401);
      expect(JSON.parse(response.body!).error).toBe('malformed_token');
      expect(h.secretReads()).toBe(0);
    },
  );

  it('never echoes an unverified 7 KB iss into a log line', async () => {
    const h = loadHandler();
    const iss = 'A'.repeat(7_000);
    const response = await h.handler(
      apiEvent({ headers: { authorization: await handMadeToken({ iss, exp: nowSeconds() + 300, sha256: bodySha256(EVENT) }) } }),
    );
    expect(response.statusCode).toBe(401);
    const lines = h.logs();
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(JSON.stringify(line).length).toBeLessThan(1_000);
  });

  it.each([
    ['a byte that is never UTF-8 (0xFF)', Buffer.from([0xff])],
    ['a truncated sequence (0xE2 0x82)', Buffer.from([0xe2, 0x82])],
    ['an encoded surrogate (0xED 0xA0 0x80)', Buffer.from([0xed, 0xa0, 0x80])],
    ['an overlong encoding of "/" (0xC0 0xAF)', Buffer.from([0xc0, 0xaf])],
  ])('refuses a signed body with %s with 400 body_not_utf8, before anything is enqueued', async (_name, bad) => {
    const h = loadHandler();
    const body = Buffer.concat([Buffer.from('{"id":"EV_utf8","event":"room_started","room":{"name":"r'), bad, Buffer.from('"}}')]);
    const response = await h.handler(apiEvent({ body, base64: true, headers: await signed(body) }));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body!).error).toBe('body_not_utf8');
    expect(h.sent()).toHaveLength(0);
  });

  it('does not strip a byte-order mark silently: a BOM-prefixed body is not JSON', async () => {
    const h = loadHandler();
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), EVENT]);
    const response = await h.handler(apiEvent({ body, base64: true, headers: await signed(body) }));
    expect(response.statusCode).toBe(400);
    expect(h.sent()).toHaveLength(0);
  });
});

describe('the SQS message size the harness checks against', () => {
  it('counts body and attributes', () => {
    expect(sqsSize({ MessageBody: 'ab', MessageAttributes: { n: { DataType: 'String', StringValue: 'v' } } })).toBe(2 + 1 + 6 + 1);
  });
});
