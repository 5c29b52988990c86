/**
 * The contract between whoever enqueues an event (the ingest Lambda, the reconciler) and the
 * processor. The message body is the webhook event's JSON exactly as LiveKit sent it (ingest) or as
 * the reconciler synthesized it; these attributes carry what routing and logging need without
 * parsing the body again.
 *
 * An event too large for an SQS message (1 MiB, the escaped body plus the attributes) is stored
 * out of band: its body goes to the claim-check bucket and the message carries a `ClaimCheck`
 * pointer as its body, with the attribute `bodyLocation` = `s3`. Every other attribute is the same.
 */
export const MESSAGE_ATTRIBUTE = {
  eventId: 'eventId',
  eventType: 'eventType',
  roomName: 'roomName',
  /** `webhook` (LiveKit delivered it) or `reconciler` (synthesized from LiveKit's server API). */
  source: 'source',
  /** Milliseconds since the epoch when ingest (or the reconciler) accepted the event. */
  receivedAt: 'receivedAt',
  /** Absent: the body is the event. `s3`: the body is a `ClaimCheck` naming where the event is. */
  bodyLocation: 'bodyLocation',
} as const;

export type EventSource = 'webhook' | 'reconciler';

/** The `bodyLocation` attribute's value for a body stored in the claim-check bucket. */
export const BODY_LOCATION_S3 = 's3';

/**
 * The message body of a claim-checked event: where the event's body is, and what it must be. The
 * stored object is the body exactly as it would have been enqueued (the signed text, with the
 * characters SQS refuses written as JSON `\u` escapes), UTF-8.
 */
export interface ClaimCheck {
  readonly claimCheck: {
    readonly bucket: string;
    /** `events/<sha256 of the body, hex>.json`: the same body (a LiveKit retry) is the same object. */
    readonly key: string;
    /** The body's UTF-8 length. */
    readonly bytes: number;
    /** SHA-256 of the body's UTF-8 bytes, hex. */
    readonly sha256: string;
  };
}

/** Where claim-checked bodies are stored in the bucket. */
export const CLAIM_CHECK_PREFIX = 'events/';

/** The object key of a body with this SHA-256 (hex). */
export const claimCheckKey = (sha256Hex: string): string => `${CLAIM_CHECK_PREFIX}${sha256Hex}.json`;

/**
 * A parsed `ClaimCheck` body, or undefined when the text is not one (wrong shape, a key outside
 * `CLAIM_CHECK_PREFIX`, a malformed hash or length).
 */
export function parseClaimCheck(text: string): ClaimCheck['claimCheck'] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const check = (value as Partial<ClaimCheck> | null)?.claimCheck;
  if (typeof check !== 'object' || check === null) return undefined;
  const { bucket, key, bytes, sha256 } = check as Record<string, unknown>;
  if (typeof bucket !== 'string' || bucket === '') return undefined;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
  if (key !== claimCheckKey(sha256)) return undefined;
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) return undefined;
  return { bucket, key, bytes, sha256 };
}
