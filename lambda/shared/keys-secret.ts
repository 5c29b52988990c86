/**
 * The LiveKit keys secret, `{"<apiKey>": "<apiSecret>", ...}` (several pairs during a rotation):
 * its one parser, used by ingest (verifying signatures) and the reconciler (signing API calls), so
 * both accept and refuse exactly the same secrets.
 */

/** The secret is not a JSON object of non-empty string pairs: a broken secret, never "not configured". */
export class KeysSecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeysSecretError';
  }
}

/**
 * The key pairs, in the secret's order (the first is the reconciler's default). `{}` parses to an
 * empty map: the stack created the secret and nobody has filled it in yet, which callers treat as
 * "not configured", not as broken.
 */
export function parseKeysSecret(text: string): Map<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KeysSecretError('the LiveKit keys secret is not a JSON object {"<apiKey>": "<apiSecret>"} (not JSON)');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new KeysSecretError('the LiveKit keys secret must be a JSON object {"<apiKey>": "<apiSecret>"}');
  }
  const pairs = new Map<string, string>();
  for (const [apiKey, apiSecret] of Object.entries(value)) {
    if (typeof apiSecret !== 'string' || apiKey === '' || apiSecret === '') {
      throw new KeysSecretError(`the LiveKit keys secret has an empty or non-string entry for "${apiKey}"`);
    }
    pairs.set(apiKey, apiSecret);
  }
  return pairs;
}
