/**
 * The processor's claim-check module alone: the body check (UTF-8 bytes, not characters) and how
 * the S3 store names a missing object. S3 itself is mocked at the SDK here; the real engine is in
 * test/integration/process/claim-check.test.ts.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, NoSuchKey, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { claimCheckKey } from '../../../contracts/queue-message';
import { claimCheckMismatch, ClaimCheckMissingError, ClaimCheckPointer, s3ClaimCheckStore } from '../../../lambda/process/claim-check';

function pointerTo(text: string): ClaimCheckPointer {
  const sha256 = createHash('sha256').update(text, 'utf8').digest('hex');
  return { bucket: 'claim-checks', key: claimCheckKey(sha256), bytes: Buffer.byteLength(text), sha256 };
}

describe('claimCheckMismatch', () => {
  const body = '{"id":"EV_1","event":"participant_joined","participant":{"name":"Zoë ☃"}}';

  test('the body the pointer names matches, counted in UTF-8 bytes rather than characters', () => {
    expect(body.length).not.toBe(Buffer.byteLength(body));
    expect(claimCheckMismatch(pointerTo(body), body)).toBeUndefined();
  });

  test('another length is named as such', () => {
    expect(claimCheckMismatch(pointerTo(body), body + ' ')).toBe(
      `the object has ${Buffer.byteLength(body) + 1} bytes, the pointer says ${Buffer.byteLength(body)}`,
    );
  });

  test('the same length with other bytes is a hash mismatch', () => {
    const other = body.replace('Zoë', 'Zoé');
    expect(Buffer.byteLength(other)).toBe(Buffer.byteLength(body));
    expect(claimCheckMismatch(pointerTo(body), other)).toMatch(/^the object's SHA-256 is [0-9a-f]{64}, the pointer says [0-9a-f]{64}$/);
  });
});

describe('s3ClaimCheckStore', () => {
  const s3 = mockClient(S3Client);
  afterEach(() => s3.reset());
  const check = pointerTo('{}');

  test('NoSuchKey is a missing object; other S3 errors are passed on as they are (transient to the processor)', async () => {
    const store = s3ClaimCheckStore(new S3Client({ region: 'us-east-1' }));
    const slowDown = new S3ServiceException({
      name: 'SlowDown',
      $fault: 'server',
      message: 'Please reduce your request rate.',
      $metadata: {},
    });
    s3.on(GetObjectCommand)
      .rejectsOnce(new NoSuchKey({ message: 'The specified key does not exist.', $metadata: {} }))
      .rejectsOnce(slowDown);

    await expect(store.fetch(check)).rejects.toBeInstanceOf(ClaimCheckMissingError);
    await expect(store.fetch(check)).rejects.toBe(slowDown);
  });

  test('asks for the bucket and key the pointer names, and at most one byte more than its length', async () => {
    s3.on(GetObjectCommand).rejects(new Error('offline'));
    await expect(s3ClaimCheckStore(new S3Client({ region: 'us-east-1' })).fetch(check)).rejects.toThrow('offline');
    expect(s3.commandCalls(GetObjectCommand)[0].args[0].input).toEqual({ Bucket: 'claim-checks', Key: check.key, Range: 'bytes=0-2' });
  });
});
