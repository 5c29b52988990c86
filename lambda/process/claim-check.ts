/**
 * The processor's side of the claim check (contracts/queue-message.ts): an event too large for an
 * SQS message arrives as a pointer to its body in the claim-check bucket. This module fetches that
 * body and says what went wrong when it cannot; processor.ts decides what each failure means
 * (a missing or corrupt object can never apply; any other S3 error is retried).
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ClaimCheck } from '../../contracts/queue-message';

/** Where a claim-checked body is: the pointer `parseClaimCheck` validated. */
export type ClaimCheckPointer = ClaimCheck['claimCheck'];

/** Fetches a claim-checked body. */
export interface ClaimCheckStore {
  /**
   * The stored object's text (UTF-8). Throws `ClaimCheckMissingError` when the object does not
   * exist; any other error is taken as transient (the record is retried).
   */
  fetch(check: ClaimCheckPointer): Promise<string>;
}

/** The object is not in the bucket: expired by the bucket's lifecycle rule, or never written. */
export class ClaimCheckMissingError extends Error {
  constructor(readonly check: ClaimCheckPointer) {
    super(`claim-checked body s3://${check.bucket}/${check.key} does not exist`);
    this.name = 'ClaimCheckMissingError';
  }
}

/**
 * A store reading the bucket the pointer names with `GetObject`. S3 answers a missing key with
 * `NoSuchKey` (404) only to a caller that may also list the bucket (`s3:ListBucket`); without that
 * permission it answers 403 AccessDenied, which is retried like any other error and so ends in
 * the DLQ rather than being recorded as missing. `NoSuchBucket` is a misconfiguration, not a
 * missing object: retried too.
 */
export function s3ClaimCheckStore(s3: S3Client): ClaimCheckStore {
  return {
    async fetch(check) {
      try {
        // At most one byte more than the pointer says: enough to tell a longer object from the
        // body, without reading a damaged object of any size into the function's memory.
        const range = check.bytes > 0 ? `bytes=0-${check.bytes}` : undefined;
        const object = await s3.send(new GetObjectCommand({ Bucket: check.bucket, Key: check.key, Range: range }));
        if (!object.Body) throw new Error(`GetObject s3://${check.bucket}/${check.key} returned no body`);
        return await object.Body.transformToString('utf-8');
      } catch (error) {
        if ((error as Error).name === 'NoSuchKey') throw new ClaimCheckMissingError(check);
        throw error;
      }
    },
  };
}

/**
 * Why `text` is not the body the pointer names (its UTF-8 length, then its SHA-256), or undefined
 * when it is. A body is content-addressed (its key is its hash), so a mismatch means the object was
 * overwritten or damaged: no retry brings the original back.
 */
export function claimCheckMismatch(check: ClaimCheckPointer, text: string): string | undefined {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length !== check.bytes) return `the object has ${bytes.length} bytes, the pointer says ${check.bytes}`;
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== check.sha256) return `the object's SHA-256 is ${sha256}, the pointer says ${check.sha256}`;
  return undefined;
}
