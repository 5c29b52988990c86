import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AccessToken } from 'livekit-server-sdk';

/*
 * Webhook signing as LiveKit does it, for whatever posts webhooks to the pipeline by hand: the
 * tests, the bench and the demo.
 */

/** base64 (standard, padded) SHA-256 of the exact bytes: the `sha256` claim LiveKit puts in its token. */
export function bodySha256(body: Buffer | string): string {
  return createHash('sha256').update(body).digest('base64');
}

/**
 * The `Authorization` header value LiveKit sends with a webhook: a bare HS256 JWT (no `Bearer `),
 * `iss` = API key, valid for 5 minutes, with the body's hash in `sha256`. Made with the same
 * `AccessToken` class LiveKit's own SDKs use.
 */
export async function signWebhook(body: Buffer | string, apiKey: string, apiSecret: string): Promise<string> {
  const token = new AccessToken(apiKey, apiSecret, { ttl: '5m' });
  token.sha256 = bodySha256(body);
  return token.toJwt();
}

/** A real event body as LiveKit sent it, byte for byte, from simulator/fixtures/. */
export function fixture(name: string): Buffer {
  return readFileSync(join(__dirname, 'fixtures', name));
}
