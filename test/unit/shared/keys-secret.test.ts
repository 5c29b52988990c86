import { KeysSecretError, parseKeysSecret } from '../../../lambda/shared/keys-secret';

/** The one parser of the LiveKit keys secret, shared by ingest (key-store.ts) and the reconciler (handler.ts pickKeyPair). */
describe('parseKeysSecret', () => {
  it('reads the pairs in the secret order (the first is the reconciler default)', () => {
    expect([...parseKeysSecret('{"new":"s2","old":"s1"}')]).toEqual([
      ['new', 's2'],
      ['old', 's1'],
    ]);
  });

  it('reads {} as no pair (not configured yet), not as broken', () => {
    expect(parseKeysSecret('{}').size).toBe(0);
  });

  it.each([
    ['not json', 'is not a JSON object'],
    ['', 'is not a JSON object'],
    ['[]', 'must be a JSON object'],
    ['"k"', 'must be a JSON object'],
    ['null', 'must be a JSON object'],
    ['{"k":1}', 'empty or non-string entry for "k"'],
    ['{"k":""}', 'empty or non-string entry for "k"'],
    ['{"":"s"}', 'empty or non-string entry for ""'],
    ['{"good":"s","bad":""}', 'empty or non-string entry for "bad"'],
  ])('refuses %j, naming the expected shape', (text, message) => {
    expect(() => parseKeysSecret(text)).toThrow(KeysSecretError);
    expect(() => parseKeysSecret(text)).toThrow(message);
  });
});
