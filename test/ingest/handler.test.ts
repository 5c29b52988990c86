import { bodySha256, signWebhook } from '../support/livekit-signing';
import { apiEvent, EVENT, handMadeToken, KEY, KEYS_JSON, loadHandler, NEXT_KEY, NEXT_SECRET, nowSeconds, QUEUE_URL, RequestOptions, SECRET, signed } from './handler-harness';

/*
 * The ingest Lambda handler, called the way API Gateway calls it, with requests signed exactly as
 * LiveKit signs them. The AWS clients are mocked (this is a unit test of one module); what matters
 * is the SendMessage command that was, or was not, sent.
 */

const MAX_BODY_BYTES = 4096;

describe('ingest handler: genuine events', () => {
  it('enqueues the exact body LiveKit signed, with the event id, type, room and source as attributes', async () => {
    const h = loadHandler();
    const response = await h.handler(apiEvent({ headers: await signed(EVENT) }));

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body!)).toEqual({ ok: true, id: 'EV_jT6Y4xyzXsjM' });
    expect(h.sent()).toHaveLength(1);
    const input = h.sent()[0];
    expect(input.QueueUrl).toBe(QUEUE_URL);
    expect(input.MessageBody).toBe(EVENT.toString('utf8'));
    expect(input.MessageAttributes).toEqual({
      eventId: { DataType: 'String', StringValue: 'EV_jT6Y4xyzXsjM' },
      eventType: { DataType: 'String', StringValue: 'track_unpublished' },
      roomName: { DataType: 'String', StringValue: '974b6e04-0617-4ae7-90f9-7202e5e998e9' },
      source: { DataType: 'String', StringValue: 'webhook' },
      receivedAt: { DataType: 'String', StringValue: expect.stringMatching(/^\d{13}$/) },
    });
  });

  it('verifies a base64-encoded body over its decoded bytes and enqueues the decoded text', async () => {
    const h = loadHandler();
    const response = await h.handler(apiEvent({ base64: true, headers: await signed(EVENT) }));
    expect(response.statusCode).toBe(200);
    expect(h.sent()[0].MessageBody).toBe(EVENT.toString('utf8'));
  });

  it('reads the Authorization header whatever its case', async () => {
    const h = loadHandler();
    const token = await signWebhook(EVENT, KEY, SECRET);
    const response = await h.handler(apiEvent({ headers: { AuThOrIzAtIoN: token } }));
    expect(response.statusCode).toBe(200);
    expect(h.sent()).toHaveLength(1);
  });

  it('accepts events signed by either of two configured key pairs (rotation)', async () => {
    const h = loadHandler();
    const first = await h.handler(apiEvent({ headers: await signed(EVENT, KEY, SECRET) }));
    const second = await h.handler(apiEvent({ headers: await signed(EVENT, NEXT_KEY, NEXT_SECRET) }));
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(h.sent()).toHaveLength(2);
  });

  it('accepts a key added to the secret after the cache was filled, without waiting for the cache to expire', async () => {
    const h = loadHandler({ secrets: [JSON.stringify({ [KEY]: SECRET }), KEYS_JSON] });
    expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
    const response = await h.handler(apiEvent({ headers: await signed(EVENT, NEXT_KEY, NEXT_SECRET) }));
    expect(response.statusCode).toBe(200);
    expect(h.secretReads()).toBe(2);
  });

  it('tolerates a sender clock a little ahead or behind (token expired 10 s ago, tolerance 30 s)', async () => {
    const h = loadHandler();
    const token = await handMadeToken({ iss: KEY, exp: nowSeconds() - 10, nbf: nowSeconds() - 310, sha256: bodySha256(EVENT) });
    expect((await h.handler(apiEvent({ headers: { authorization: token } }))).statusCode).toBe(200);
  });

  it('reads the secret once per cache period, not once per request', async () => {
    const h = loadHandler();
    for (let i = 0; i < 5; i++) await h.handler(apiEvent({ headers: await signed(EVENT) }));
    expect(h.secretReads()).toBe(1);
  });
});

describe('ingest handler: failures on our side answer 503 so LiveKit retries', () => {
  it('answers 503 when SQS does not take the message', async () => {
    const h = loadHandler();
    h.sqs.rejects(Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable' }));
    const response = await h.handler(apiEvent({ headers: await signed(EVENT) }));
    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '1' });
    expect(h.sqs.calls()).toHaveLength(1);
  });

  it('answers 503, not 401, when the keys cannot be read', async () => {
    const h = loadHandler({ secrets: [new Error('AccessDenied')] });
    const response = await h.handler(apiEvent({ headers: await signed(EVENT) }));
    expect(response.statusCode).toBe(503);
    expect(h.sent()).toHaveLength(0);
  });

  it('answers 503, not 401, when the secret holds no keys yet', async () => {
    const h = loadHandler({ secrets: ['{}'] });
    const response = await h.handler(apiEvent({ headers: await signed(EVENT) }));
    expect(response.statusCode).toBe(503);
    expect(h.sent()).toHaveLength(0);
  });

  it('keeps accepting events with the cached keys when a refresh fails', async () => {
    const h = loadHandler({ secrets: [JSON.stringify({ [KEY]: SECRET }), new Error('Throttling')] });
    expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
    // An unknown key forces a refresh, which fails: the known key must keep working.
    await h.handler(apiEvent({ headers: await signed(EVENT, 'APIunknown', SECRET) }));
    expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
    expect(h.sent()).toHaveLength(2);
  });
});

type BadInput = [name: string, reason: string, status: number, request: () => Promise<RequestOptions>];

const otherBody = Buffer.from(JSON.stringify({ id: 'EV_other', event: 'room_started', room: { sid: 'RM_x', name: 'x' } }));
const changedByOneByte = Buffer.from(EVENT);
changedByOneByte[changedByOneByte.indexOf('track_unpublished')] = 'T'.charCodeAt(0);
const signedBody = async (body: string | Buffer): Promise<RequestOptions> => ({ body, headers: await signed(body) });
const oversized = Buffer.from(JSON.stringify({ id: 'EV_big', event: 'room_started', pad: 'x'.repeat(MAX_BODY_BYTES) }));

const BAD_INPUTS: BadInput[] = [
  ['no Authorization header', 'missing_token', 401, async () => ({})],
  ['an empty Authorization header', 'missing_token', 401, async () => ({ headers: { authorization: '' } })],
  ['a garbled token', 'malformed_token', 401, async () => ({ headers: { authorization: 'not-a-jwt' } })],
  ['a token whose payload is not JSON', 'malformed_token', 401, async () => ({ headers: { authorization: 'eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln' } })],
  ['a token without iss', 'malformed_token', 401, async () => ({ headers: { authorization: await handMadeToken({ exp: nowSeconds() + 300, sha256: bodySha256(EVENT) }) } })],
  ['an expired token', 'invalid_token', 401, async () => ({ headers: { authorization: await handMadeToken({ iss: KEY, exp: nowSeconds() - 120, sha256: bodySha256(EVENT) }) } })],
  ['a token not valid before 2 minutes from now', 'invalid_token', 401, async () => ({ headers: { authorization: await handMadeToken({ iss: KEY, nbf: nowSeconds() + 120, exp: nowSeconds() + 420, sha256: bodySha256(EVENT) }) } })],
  ['a token that never expires', 'invalid_token', 401, async () => ({ headers: { authorization: await handMadeToken({ iss: KEY, sha256: bodySha256(EVENT) }) } })],
  ['a token signed with the wrong secret', 'invalid_token', 401, async () => ({ headers: await signed(EVENT, KEY, 'not-the-secret-but-just-as-long-as-it') })],
  ['a token for an unknown API key', 'unknown_key', 401, async () => ({ headers: await signed(EVENT, 'APIunknown', SECRET) })],
  ['an unsigned token (alg none)', 'invalid_token', 401, async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return { headers: { authorization: `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ iss: KEY, exp: nowSeconds() + 300, sha256: bodySha256(EVENT) })}.` } };
  }],
  ['a valid token without the sha256 claim', 'body_hash_mismatch', 401, async () => ({ headers: { authorization: await handMadeToken({ iss: KEY, exp: nowSeconds() + 300 }) } })],
  ['the body changed by one byte', 'body_hash_mismatch', 401, async () => ({ body: changedByOneByte, headers: await signed(EVENT) })],
  ['the hash of another body', 'body_hash_mismatch', 401, async () => ({ body: EVENT, headers: await signed(otherBody) })],
  ['a base64 body whose encoded text was signed', 'body_hash_mismatch', 401, async () => ({ body: EVENT, base64: true, headers: await signed(EVENT.toString('base64')) })],
  ['a body that is not JSON', 'body_not_json', 400, () => signedBody('id=EV_1&event=room_started')],
  ['a JSON array', 'not_an_event', 400, () => signedBody('[{"id":"EV_1","event":"room_started"}]')],
  ['JSON null', 'not_an_event', 400, () => signedBody('null')],
  ['JSON without id', 'not_an_event', 400, () => signedBody('{"event":"room_started","room":{"name":"a"}}')],
  ['JSON without event', 'not_an_event', 400, () => signedBody('{"id":"EV_1","room":{"name":"a"}}')],
  ['an id that is not a string', 'not_an_event', 400, () => signedBody('{"id":42,"event":"room_started"}')],
  ['an empty body', 'body_not_json', 400, () => signedBody('')],
  ['an oversized body', 'body_too_large', 413, () => signedBody(oversized)],
  ['an oversized base64 body', 'body_too_large', 413, async () => ({ body: oversized, base64: true, headers: await signed(oversized) })],
  ['GET on the webhook route', 'method_not_allowed', 405, async () => ({ method: 'GET', headers: await signed(EVENT) })],
  ['POST on another route', 'route_not_found', 404, async () => ({ path: '/hook', headers: await signed(EVENT) })],
];

describe('ingest handler: bad input gets the contract status and nothing is enqueued', () => {
  const h = loadHandler();
  beforeEach(() => h.sqs.resetHistory());

  it.each(BAD_INPUTS)('%s → %s, %i', async (_name, reason, status, request) => {
    const response = await h.handler(apiEvent(await request()));
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body!).error).toBe(reason);
    expect(h.sent()).toHaveLength(0);
  });

  it('says which check failed on a 401, but not the verifier\'s detail', async () => {
    const response = await h.handler(apiEvent({ headers: await signed(EVENT, 'APIunknown', SECRET) }));
    expect(JSON.parse(response.body!)).toEqual({ error: 'unknown_key' });
  });

  it('has at least 20 cases', () => {
    expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(20);
  });

  it('still accepts the genuine event after all of them (the bad inputs did not poison the cache)', async () => {
    expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
  });
});
