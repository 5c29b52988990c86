/**
 * What an SQS message may hold, and how to make a JSON body fit it without changing its meaning.
 *
 * SQS refuses a message whose body has a character outside `#x9 | #xA | #xD | #x20-#xD7FF |
 * #xE000-#xFFFD | #x10000-#x10FFFF` (InvalidMessageContents), and one larger than the queue's
 * maximum message size, counted as the body's UTF-8 bytes plus each message attribute's name,
 * type and value. LiveKit's bodies are protojson, which writes U+FFFE and U+FFFF (and emoji)
 * raw: a participant named with one of them cannot be enqueued as is, on any retry.
 *
 * In JSON text such a character can only stand inside a string (outside strings JSON allows
 * only ASCII), and a JSON string may spell any UTF-16 code unit as `\uXXXX`, so escaping is
 * lossless: `JSON.parse(sqsSafeBody(text))` deep-equals `JSON.parse(text)`.
 */

/** SQS's largest message (also the `aws-cdk-lib` Queue default, and fauxqs's): 1 MiB. */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

/** Every UTF-16 code unit outside SQS's set, surrogates included: astral characters are escaped as their two halves. */
const UNSAFE_OR_ASTRAL = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD]/g;
/** Code points outside SQS's set (a lone surrogate is one); astral characters are kept. */
const UNSAFE = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export interface SqsSafeOptions {
  /**
   * Also escape characters outside the BMP (default true). SQS accepts them; the local SQS
   * emulator (fauxqs) does not. Escaping them always keeps the deployed and local paths one
   * path, at 12 bytes instead of 4 per such character, which the size check counts.
   */
  readonly escapeAstral?: boolean;
}

const escapeUnit = (unit: string): string => {
  let out = '';
  for (let i = 0; i < unit.length; i++) out += '\\u' + unit.charCodeAt(i).toString(16).padStart(4, '0');
  return out;
};

/**
 * `json` with every character SQS (or, by default, the local emulator) refuses written as a JSON
 * `\uXXXX` escape; the same string when there is none. Input must be JSON text: outside a JSON
 * string only ASCII may appear, so every escaped character is inside one and means the same.
 */
export function sqsSafeBody(json: string, options: SqsSafeOptions = {}): string {
  const pattern = options.escapeAstral === false ? UNSAFE : UNSAFE_OR_ASTRAL;
  pattern.lastIndex = 0;
  if (!pattern.test(json)) return json;
  pattern.lastIndex = 0;
  return json.replace(pattern, escapeUnit);
}

/**
 * A message attribute value SQS (and the emulator) accepts: the same escaping as the body. An
 * attribute is informational (routing, logs, on-call tools), so a room name with U+FFFF reads
 * as `\uffff` there; the body keeps the exact name.
 */
export function sqsSafeAttribute(value: string): string {
  return sqsSafeBody(value);
}

/** The size SQS counts for a message: the body's UTF-8 bytes, and each String attribute's name, type and value. */
export function sqsMessageBytes(body: string, attributes: Readonly<Record<string, string>>): number {
  let bytes = Buffer.byteLength(body, 'utf8');
  for (const [name, value] of Object.entries(attributes))
    bytes += Buffer.byteLength(name, 'utf8') + 'String'.length + Buffer.byteLength(value, 'utf8');
  return bytes;
}
