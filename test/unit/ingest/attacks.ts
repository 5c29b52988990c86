/**
 * Every attack the ingest handler is tested against (test/unit/ingest/handler.test.ts runs each one
 * through the real handler), grouped by class. The security table of docs/security.md is rendered from this
 * list by `attackTable()`, and a test fails when that copy differs: the counts there are
 * the tests', not a claim.
 */
import { bodySha256 } from '../../../simulator/signing';
import { EVENT, handMadeToken, KEY, nowSeconds, rawToken, RequestOptions, SECRET, signed } from './handler-harness';

export interface Attack {
  readonly attackClass: string;
  readonly name: string;
  readonly status: number;
  readonly reason: string;
  readonly request: () => Promise<RequestOptions>;
}

/** The harness's `MAX_BODY_BYTES`. */
export const ATTACK_MAX_BODY_BYTES = 4096;

const otherBody = Buffer.from(JSON.stringify({ id: 'EV_other', event: 'room_started', room: { sid: 'RM_x', name: 'x' } }));
const changedByOneByte = Buffer.from(EVENT);
changedByOneByte[changedByOneByte.indexOf('track_unpublished')] = 'T'.charCodeAt(0);
const signedBody = async (body: string | Buffer, base64 = false): Promise<RequestOptions> => ({
  body,
  base64,
  headers: await signed(body),
});
const oversized = Buffer.from(JSON.stringify({ id: 'EV_big', event: 'room_started', pad: 'x'.repeat(ATTACK_MAX_BODY_BYTES) }));
const hash = bodySha256(EVENT);
const withBadUtf8 = (bad: number[]) =>
  Buffer.concat([Buffer.from('{"id":"EV_utf8","event":"room_started","room":{"name":"r'), Buffer.from(bad), Buffer.from('"}}')]);
const token = async () => (await signed(EVENT)).authorization;

const classes: Record<string, Array<Omit<Attack, 'attackClass'>>> = {
  'Missing or malformed token': [
    { name: 'no Authorization header', reason: 'missing_token', status: 401, request: async () => ({}) },
    {
      name: 'an empty Authorization header',
      reason: 'missing_token',
      status: 401,
      request: async () => ({ headers: { authorization: '' } }),
    },
    { name: 'a garbled token', reason: 'malformed_token', status: 401, request: async () => ({ headers: { authorization: 'not-a-jwt' } }) },
    {
      name: 'a token whose payload is not JSON',
      reason: 'malformed_token',
      status: 401,
      request: async () => ({ headers: { authorization: 'eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln' } }),
    },
    {
      name: 'a token without iss',
      reason: 'malformed_token',
      status: 401,
      request: async () => ({ headers: { authorization: await handMadeToken({ exp: nowSeconds() + 300, sha256: hash }) } }),
    },
  ],
  'Header tricks': [
    {
      name: 'a valid token behind "Bearer "',
      reason: 'malformed_token',
      status: 401,
      request: async () => ({ headers: { authorization: `Bearer ${await token()}` } }),
    },
    {
      name: 'a valid token behind "bearer "',
      reason: 'malformed_token',
      status: 401,
      request: async () => ({ headers: { authorization: `bearer ${await token()}` } }),
    },
    {
      name: 'two Authorization values joined by a comma (as API Gateway joins repeated headers)',
      reason: 'malformed_token',
      status: 401,
      request: async () => ({ headers: { authorization: `${await token()},${await token()}` } }),
    },
    {
      name: 'a valid token with a fourth segment',
      reason: 'malformed_token',
      status: 401,
      request: async () => ({ headers: { authorization: `${await token()}.e30` } }),
    },
    {
      name: 'a valid token with a space inside',
      reason: 'malformed_token',
      status: 401,
      request: async () => ({ headers: { authorization: (await token()).replace('.', ' .') } }),
    },
  ],
  'Forged signature': [
    {
      name: 'a token signed with the wrong secret',
      reason: 'invalid_token',
      status: 401,
      request: async () => ({ headers: await signed(EVENT, KEY, 'not-the-secret-but-just-as-long-as-it') }),
    },
    {
      name: 'an unsigned token (alg none)',
      reason: 'malformed_token',
      status: 401,
      request: async () => {
        const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
        return {
          headers: { authorization: `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ iss: KEY, exp: nowSeconds() + 300, sha256: hash })}.` },
        };
      },
    },
    {
      name: 'a valid token with its signature cut off',
      reason: 'invalid_token',
      status: 401,
      request: async () => ({ headers: { authorization: (await token()).replace(/\.[^.]*$/, '.') } }),
    },
  ],
  'Algorithm other than HS256 (LiveKit signs HS256 only)': [
    {
      name: 'HS384 signed with the right secret',
      reason: 'malformed_token',
      status: 401,
      request: async () => ({
        headers: { authorization: await handMadeToken({ iss: KEY, exp: nowSeconds() + 300, sha256: hash }, SECRET, { alg: 'HS384' }) },
      }),
    },
    {
      name: 'HS512 signed with the right secret',
      reason: 'malformed_token',
      status: 401,
      request: async () => ({
        headers: { authorization: await handMadeToken({ iss: KEY, exp: nowSeconds() + 300, sha256: hash }, SECRET, { alg: 'HS512' }) },
      }),
    },
    {
      name: 'HS512 with a made-up key id (refused before any read of the secret)',
      reason: 'malformed_token',
      status: 401,
      request: async () => ({
        headers: {
          authorization: await handMadeToken({ iss: 'APImadeUp', exp: nowSeconds() + 300, sha256: hash }, SECRET, { alg: 'HS512' }),
        },
      }),
    },
  ],
  'Wrong or unknown key': [
    {
      name: 'a token for an unknown API key',
      reason: 'unknown_key',
      status: 401,
      request: async () => ({ headers: await signed(EVENT, 'APIunknown', SECRET) }),
    },
    {
      name: 'an unknown 7 KB iss (never echoed whole into a log line)',
      reason: 'unknown_key',
      status: 401,
      request: async () => ({
        headers: { authorization: await handMadeToken({ iss: 'A'.repeat(7_000), exp: nowSeconds() + 300, sha256: hash }) },
      }),
    },
    {
      name: 'an unknown iss with control characters',
      reason: 'unknown_key',
      status: 401,
      request: async () => ({
        headers: { authorization: await handMadeToken({ iss: 'API\n{"level":"error"}', exp: nowSeconds() + 300, sha256: hash }) },
      }),
    },
  ],
  'Body hash mismatch': [
    {
      name: 'a valid token without the sha256 claim',
      reason: 'body_hash_mismatch',
      status: 401,
      request: async () => ({ headers: { authorization: await handMadeToken({ iss: KEY, exp: nowSeconds() + 300 }) } }),
    },
    {
      name: 'the body changed by one byte',
      reason: 'body_hash_mismatch',
      status: 401,
      request: async () => ({ body: changedByOneByte, headers: await signed(EVENT) }),
    },
    {
      name: 'the hash of another body',
      reason: 'body_hash_mismatch',
      status: 401,
      request: async () => ({ body: EVENT, headers: await signed(otherBody) }),
    },
    {
      name: 'a base64 body whose encoded text was signed',
      reason: 'body_hash_mismatch',
      status: 401,
      request: async () => ({ body: EVENT, base64: true, headers: await signed(EVENT.toString('base64')) }),
    },
  ],
  'Replay after expiry, not yet valid': [
    {
      name: 'an expired token (2 minutes ago)',
      reason: 'invalid_token',
      status: 401,
      request: async () => ({ headers: { authorization: await handMadeToken({ iss: KEY, exp: nowSeconds() - 120, sha256: hash }) } }),
    },
    {
      name: 'a token not valid before 2 minutes from now',
      reason: 'invalid_token',
      status: 401,
      request: async () => ({
        headers: { authorization: await handMadeToken({ iss: KEY, nbf: nowSeconds() + 120, exp: nowSeconds() + 420, sha256: hash }) },
      }),
    },
  ],
  'Huge or missing exp': [
    {
      name: 'a token without exp',
      reason: 'invalid_token',
      status: 401,
      request: async () => ({ headers: { authorization: await handMadeToken({ iss: KEY, sha256: hash }) } }),
    },
    {
      name: 'exp = 1e400 (parsed as Infinity)',
      reason: 'invalid_token',
      status: 401,
      request: async () => ({ headers: { authorization: rawToken(`{"iss":"${KEY}","exp":1e400,"sha256":"${hash}"}`) } }),
    },
    {
      name: 'exp a day ahead',
      reason: 'invalid_token',
      status: 401,
      request: async () => ({ headers: { authorization: await handMadeToken({ iss: KEY, exp: nowSeconds() + 86_400, sha256: hash }) } }),
    },
    {
      name: 'exp as a string',
      reason: 'invalid_token',
      status: 401,
      request: async () => ({ headers: { authorization: rawToken(`{"iss":"${KEY}","exp":"${nowSeconds() + 300}","sha256":"${hash}"}`) } }),
    },
  ],
  'Invalid UTF-8 body (signed)': [
    {
      name: 'a byte that is never UTF-8 (0xFF)',
      reason: 'body_not_utf8',
      status: 400,
      request: () => signedBody(withBadUtf8([0xff]), true),
    },
    { name: 'a truncated sequence', reason: 'body_not_utf8', status: 400, request: () => signedBody(withBadUtf8([0xe2, 0x82]), true) },
    {
      name: 'an encoded surrogate',
      reason: 'body_not_utf8',
      status: 400,
      request: () => signedBody(withBadUtf8([0xed, 0xa0, 0x80]), true),
    },
    { name: 'an overlong encoding', reason: 'body_not_utf8', status: 400, request: () => signedBody(withBadUtf8([0xc0, 0xaf]), true) },
  ],
  'Not an event (signed)': [
    { name: 'a body that is not JSON', reason: 'body_not_json', status: 400, request: () => signedBody('id=EV_1&event=room_started') },
    {
      name: 'a byte-order mark before the JSON',
      reason: 'body_not_json',
      status: 400,
      request: () => signedBody(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), EVENT]), true),
    },
    { name: 'an empty body', reason: 'body_not_json', status: 400, request: () => signedBody('') },
    { name: 'a JSON array', reason: 'not_an_event', status: 400, request: () => signedBody('[{"id":"EV_1","event":"room_started"}]') },
    { name: 'JSON null', reason: 'not_an_event', status: 400, request: () => signedBody('null') },
    {
      name: 'JSON without id',
      reason: 'not_an_event',
      status: 400,
      request: () => signedBody('{"event":"room_started","room":{"name":"a"}}'),
    },
    { name: 'JSON without event', reason: 'not_an_event', status: 400, request: () => signedBody('{"id":"EV_1","room":{"name":"a"}}') },
    {
      name: 'an id that is not a string',
      reason: 'not_an_event',
      status: 400,
      request: () => signedBody('{"id":42,"event":"room_started"}'),
    },
  ],
  Oversize: [
    { name: 'an oversized unsigned body', reason: 'missing_token', status: 401, request: async () => ({ body: oversized }) },
    {
      name: 'an oversized body signed for another body',
      reason: 'body_hash_mismatch',
      status: 401,
      request: async () => ({ body: oversized, headers: await signed(EVENT) }),
    },
    {
      name: 'an oversized signed body (genuine: LiveKit retries, never a 4xx)',
      reason: 'event_too_large',
      status: 503,
      request: () => signedBody(oversized),
    },
    { name: 'an oversized signed base64 body', reason: 'event_too_large', status: 503, request: () => signedBody(oversized, true) },
  ],
  'Other routes and methods': [
    {
      name: 'GET on the webhook route',
      reason: 'method_not_allowed',
      status: 405,
      request: async () => ({ method: 'GET', headers: await signed(EVENT) }),
    },
    {
      name: 'POST on another route',
      reason: 'route_not_found',
      status: 404,
      request: async () => ({ path: '/hook', headers: await signed(EVENT) }),
    },
  ],
};

export const ATTACKS: readonly Attack[] = Object.entries(classes).flatMap(([attackClass, attacks]) =>
  attacks.map((attack) => ({ attackClass, ...attack })),
);

/** The table of docs/security.md: one row per class, with its count and the answers it got (all from `ATTACKS`). */
export function attackTable(): string {
  const rows = Object.entries(classes).map(([attackClass, attacks]) => {
    const answers = [...new Set(attacks.map((a) => `\`${a.status} ${a.reason}\``))].join(', ');
    return `| ${attackClass} | ${attacks.length} | ${answers} |`;
  });
  return [
    '| Attack class | Cases | Answer (nothing enqueued in any case) |',
    '|---|---|---|',
    ...rows,
    `| **Total** | **${ATTACKS.length}** | no forgery enqueued; no 4xx for a genuine event |`,
  ].join('\n');
}

if (require.main === module) process.stdout.write(attackTable() + '\n');
