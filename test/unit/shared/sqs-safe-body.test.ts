import fc from 'fast-check';
import { sqsMessageBytes, sqsSafeAttribute, sqsSafeBody } from '../../../lambda/shared/sqs-safe-body';

/** SQS's allowed set, as code points. */
const SQS_ALLOWED = /^[\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
/** The local emulator's set: no surrogate code unit at all. */
const EMULATOR_ALLOWED = /^[\t\n\r\x20-\uD7FF\uE000-\uFFFD]*$/;

/** Strings weighted towards the characters that matter: refused ones, astral ones, lone surrogates, JSON's own escapes. */
const edgyString = fc
  .array(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 6 }),
      fc.constantFrom(
        '\uFFFE',
        '\uFFFF',
        '\u0000',
        '\u0008',
        '\u000B',
        '\u001F',
        '\uD800',
        '\uDFFF',
        '\uDBFF\uDFFF',
        '😀',
        '👩‍👩‍👧',
        '"',
        '\\',
        '\\u',
        '\u2028',
        '\t',
        '\r\n',
        '\uFFFD',
        '\uE000',
        '\uD7FF',
      ),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

const jsonValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    edgyString,
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(edgyString, tie('value'), { maxKeys: 4 }),
  ),
})).value;

/**
 * JSON text as protojson writes it: non-ASCII raw, U+FFFE/U+FFFF and emoji raw, and (unlike
 * JSON.stringify) lone surrogates raw too, so the function sees every case, not only the ones
 * JSON.stringify leaves.
 */
function rawJson(value: unknown, indent: boolean): string {
  const text = JSON.stringify(value, null, indent ? 2 : undefined);
  // Only a real escape: one preceded by an even number of backslashes.
  return text.replace(
    /(?<!\\)((?:\\\\)*)\\u(d[89a-f][0-9a-f]{2})/g,
    (_m, before: string, hex: string) => before + String.fromCharCode(parseInt(hex, 16)),
  );
}

describe('sqsSafeBody', () => {
  it('keeps the JSON meaning and leaves only characters SQS and the local emulator accept (property)', () => {
    fc.assert(
      fc.property(jsonValue, fc.boolean(), (value, indent) => {
        const body = rawJson(value, indent);
        const safe = sqsSafeBody(body);
        expect(JSON.parse(safe)).toEqual(JSON.parse(body));
        expect(safe).toMatch(EMULATOR_ALLOWED);
        expect(safe).toMatch(SQS_ALLOWED);
      }),
      { numRuns: 2_000 },
    );
  });

  it('with escapeAstral false keeps astral characters and still leaves only characters SQS accepts (property)', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const body = rawJson(value, false);
        const safe = sqsSafeBody(body, { escapeAstral: false });
        expect(JSON.parse(safe)).toEqual(JSON.parse(body));
        expect(safe).toMatch(SQS_ALLOWED);
      }),
      { numRuns: 1_000 },
    );
  });

  it('returns the very same text when nothing needs escaping (the queued body stays the signed bytes)', () => {
    const body = '{"id":"EV_1","event":"room_started","room":{"name":"Zoë – café \\u0000 \\"q\\""}}';
    expect(sqsSafeBody(body)).toBe(body);
  });

  it('escapes U+FFFE/U+FFFF as \\ufffe/\\uffff, emoji as their surrogate pair, a lone surrogate alone', () => {
    expect(sqsSafeBody('{"n":"a\uFFFEb\uFFFF"}')).toBe('{"n":"a\\ufffeb\\uffff"}');
    expect(sqsSafeBody('{"n":"😀"}')).toBe('{"n":"\\ud83d\\ude00"}');
    expect(sqsSafeBody('{"n":"😀"}', { escapeAstral: false })).toBe('{"n":"😀"}');
    expect(sqsSafeBody('{"n":"x\uD800y"}', { escapeAstral: false })).toBe('{"n":"x\\ud800y"}');
  });

  it('turns JSON.stringify escapes of lone surrogates into raw ones in the generator, and nothing else', () => {
    expect(rawJson({ a: '\\ud800', b: '\uD800' }, false)).toBe('{"a":"\\\\ud800","b":"\uD800"}');
  });

  it('escapes after a literal backslash without changing it (an escaped backslash then the character)', () => {
    const body = JSON.stringify({ n: '\\\uFFFF' });
    expect(JSON.parse(sqsSafeBody(body))).toEqual({ n: '\\\uFFFF' });
  });
});

describe('sqsSafeAttribute', () => {
  it('escapes what SQS refuses in an attribute value the same way', () => {
    expect(sqsSafeAttribute('lobby \uFFFF 🎉')).toBe('lobby \\uffff \\ud83c\\udf89');
    expect(sqsSafeAttribute('plain')).toBe('plain');
  });
});

describe('sqsMessageBytes', () => {
  it('counts the body in UTF-8 bytes plus each attribute name, its type "String" and its value', () => {
    expect(sqsMessageBytes('é😀', { eventId: 'EV_1', roomName: 'ü' })).toBe(2 + 4 + (7 + 6 + 4) + (8 + 6 + 2));
  });
});
