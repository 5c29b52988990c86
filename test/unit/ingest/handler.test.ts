import { readFileSync } from 'node:fs';
import { bodySha256, signWebhook } from '../../../simulator/signing';
import { FORCED_KEY_REFRESH_MS } from '../../../lambda/ingest/ingest-handler';
import { ATTACK_MAX_BODY_BYTES, ATTACKS, attackTable } from './attacks';
import {
  apiEvent,
  EVENT,
  handMadeToken,
  KEY,
  KEYS_JSON,
  loadHandler,
  movableClock,
  NEXT_KEY,
  NEXT_SECRET,
  nowSeconds,
  QUEUE_URL,
  SECRET,
  signed,
} from './handler-harness';
import { repoPath } from '../../support/paths';

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
    const clock = movableClock();
    try {
      const h = loadHandler({ secrets: [JSON.stringify({ [KEY]: SECRET }), KEYS_JSON] });
      expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
      // The key goes into the secret after that read; LiveKit uses it a second later.
      clock.advance(FORCED_KEY_REFRESH_MS);
      const response = await h.handler(apiEvent({ headers: await signed(EVENT, NEXT_KEY, NEXT_SECRET) }));
      expect(response.statusCode).toBe(200);
      expect(h.secretReads()).toBe(2);
    } finally {
      clock.restore();
    }
  });

  it('accepts a new key a second after the operator added it, even after a forged request with a made-up key id (no 401 window in a rotation)', async () => {
    const clock = movableClock();
    try {
      let secret = JSON.stringify({ [KEY]: SECRET });
      const h = loadHandler({ secrets: [() => secret] });
      expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
      const forged = await h.handler(apiEvent({ headers: await signed(EVENT, 'APIforged', 'forged-secret-at-least-32-characters') }));
      expect(JSON.parse(forged.body!)).toEqual({ error: 'unknown_key' });
      clock.advance(1_000);
      secret = KEYS_JSON;
      clock.advance(1_000);
      const response = await h.handler(apiEvent({ headers: await signed(EVENT, NEXT_KEY, NEXT_SECRET) }));
      expect(response.statusCode).toBe(200);
    } finally {
      clock.restore();
    }
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
    // No Retry-After: LiveKit would take it as its wait and give up after 4 s instead of 15 s.
    expect(response.headers?.['retry-after']).toBeUndefined();
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
    const clock = movableClock();
    try {
      const h = loadHandler({ secrets: [JSON.stringify({ [KEY]: SECRET }), new Error('Throttling')] });
      expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
      // An unknown key a second later forces a refresh, which fails: 503 for it (we cannot tell), and the known key keeps working.
      clock.advance(FORCED_KEY_REFRESH_MS);
      expect((await h.handler(apiEvent({ headers: await signed(EVENT, 'APIunknown', SECRET) }))).statusCode).toBe(503);
      expect(h.secretReads()).toBe(2);
      expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
      expect(h.sent()).toHaveLength(2);
    } finally {
      clock.restore();
    }
  });
});

describe('ingest handler: every attack gets its contract status, nothing is enqueued, no log line is amplified', () => {
  const h = loadHandler();
  beforeEach(() => h.sqs.resetHistory());

  it.each(ATTACKS.map((a) => [a.attackClass, a.name, a.reason, a.status, a] as const))(
    '%s: %s → %s, %i',
    async (_class, _name, reason, status, attack) => {
      const before = h.logs().length;
      const response = await h.handler(apiEvent(await attack.request()));
      expect(response.statusCode).toBe(status);
      expect(JSON.parse(response.body!).error).toBe(reason);
      expect(h.sent()).toHaveLength(0);
      // An attacker controls the token and the body, not the size of what we log about them.
      for (const line of h.logs().slice(before)) expect(JSON.stringify(line).length).toBeLessThan(1_000);
    },
  );

  it("says which check failed on a 401, but not the verifier's detail", async () => {
    const response = await h.handler(apiEvent({ headers: await signed(EVENT, 'APIunknown', SECRET) }));
    expect(JSON.parse(response.body!)).toEqual({ error: 'unknown_key' });
  });

  it('covers at least 40 cases in 10 classes', () => {
    expect(ATTACKS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(ATTACKS.map((a) => a.attackClass)).size).toBeGreaterThanOrEqual(10);
    expect(MAX_BODY_BYTES).toBe(ATTACK_MAX_BODY_BYTES);
  });

  it('still accepts the genuine event after all of them (the bad inputs did not poison the cache)', async () => {
    expect((await h.handler(apiEvent({ headers: await signed(EVENT) }))).statusCode).toBe(200);
  });
});

describe('the security table in docs/security.md', () => {
  it('is the one rendered from the attack list (regenerate with `npx tsx test/unit/ingest/attacks.ts`)', () => {
    const securityDoc = readFileSync(repoPath('docs', 'security.md'), 'utf8');
    expect(securityDoc).toContain(attackTable());
  });
});
