/**
 * The LiveKit keys secret, read the same way by the ingest (which verifies with every pair) and the
 * reconciler (which signs API calls with one): `{"<apiKey>": "<apiSecret>", ...}`. `{}` is valid
 * and means "not filled in yet" (the stack creates the secret empty); each caller decides what that
 * means for it.
 */

/** The secret's text is not a JSON object of non-empty string pairs. */
export class KeysSecretFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeysSecretFormatError';
  }
}

/** API key → API secret, in the secret's order. */
export type KeySet = ReadonlyMap<string, string>;

/** Parses the secret's text; anything but a JSON object of non-empty string pairs throws `KeysSecretFormatError`. */
export function parseKeysSecret(text: string): KeySet {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new KeysSecretFormatError('the LiveKit keys secret is not a JSON object {"<apiKey>": "<apiSecret>"} (it is not JSON)');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const kind = Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
    throw new KeysSecretFormatError(`the LiveKit keys secret is not a JSON object {"<apiKey>": "<apiSecret>"} (it is ${kind})`);
  }
  const keys = new Map<string, string>();
  for (const [apiKey, apiSecret] of Object.entries(value)) {
    if (typeof apiSecret !== 'string' || apiKey === '' || apiSecret === '') {
      throw new KeysSecretFormatError(`the LiveKit keys secret has an empty or non-string entry for "${apiKey}"`);
    }
    keys.set(apiKey, apiSecret);
  }
  return keys;
}
