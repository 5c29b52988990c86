import { KeysSecretFormatError, parseKeysSecret } from '../../lambda/shared/keys-secret';

describe('parseKeysSecret', () => {
  it('reads every pair, in the order of the secret', () => {
    expect([...parseKeysSecret('{"a":"1","b":"2"}')]).toEqual([
      ['a', '1'],
      ['b', '2'],
    ]);
  });

  it('reads {} as an empty set (the secret the stack creates, not filled in yet)', () => {
    expect(parseKeysSecret('{}').size).toBe(0);
  });

  it.each([
    ['not json', 'not a JSON object'],
    ['[]', 'not a JSON object'],
    ['null', 'not a JSON object'],
    ['"k"', 'not a JSON object'],
    ['{"k":1}', 'empty or non-string entry for "k"'],
    ['{"k":""}', 'empty or non-string entry for "k"'],
    ['{"":"s"}', 'empty or non-string entry for ""'],
  ])('rejects %s with a message that says what is wrong', (text, message) => {
    expect(() => parseKeysSecret(text)).toThrow(KeysSecretFormatError);
    expect(() => parseKeysSecret(text)).toThrow(message);
  });

  it('never quotes a secret value in its message', () => {
    expect(() => parseKeysSecret('{"k":"s3cr3t","x":2}')).toThrow(expect.objectContaining({ message: expect.not.stringContaining('s3cr3t') }));
  });
});
