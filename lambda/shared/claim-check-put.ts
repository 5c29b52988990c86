/**
 * Storing an event too large for an SQS message (contracts/queue-message.ts): its body goes to the
 * claim-check bucket under its SHA-256, and the caller enqueues the returned pointer instead. One
 * home for ingest (a LiveKit webhook) and the reconciler (a repair built from LiveKit's API, which
 * carries the same room and participant objects and so can be as large).
 */
import { createHash } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ClaimCheck, claimCheckKey } from '../../contracts/queue-message';

/** The claim-check bucket and a client for it. */
export interface ClaimCheckBucket {
  readonly s3: S3Client;
  readonly bucket: string;
}

/**
 * Puts `body` (UTF-8) under `claimCheckKey(sha256)` and returns the pointer to enqueue. The same
 * body (a LiveKit retry, a repair sent again) is the same object, so a put whose send then failed
 * leaves nothing a retry duplicates; the bucket's lifecycle rule removes it. S3 verifies the
 * upload against the same SHA-256 (`ChecksumSHA256`), which the processor checks again on reading.
 */
export async function putClaimCheck(store: ClaimCheckBucket, body: string, abortSignal?: AbortSignal): Promise<ClaimCheck> {
  const bytes = Buffer.from(body, 'utf8');
  const digest = createHash('sha256').update(bytes).digest();
  const sha256 = digest.toString('hex');
  const pointer: ClaimCheck = { claimCheck: { bucket: store.bucket, key: claimCheckKey(sha256), bytes: bytes.length, sha256 } };
  await store.s3.send(
    new PutObjectCommand({
      Bucket: store.bucket,
      Key: pointer.claimCheck.key,
      Body: bytes,
      ContentType: 'application/json',
      ChecksumSHA256: digest.toString('base64'),
    }),
    abortSignal ? { abortSignal } : {},
  );
  return pointer;
}
