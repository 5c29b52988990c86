/** The verification log's pure parts: its encoding, its chunks, the merge, its window and its keys. */
import {
  decodeVerifications,
  encodeVerifications,
  latestVerifications,
  MIN_VERIFICATION_RETENTION_RUNS,
  RoomVerification,
  VERIFICATION_CHUNK_MAX_BYTES,
  verificationRetentionMs,
} from '../../../lambda/reconcile/bookkeeping';
import { keys } from '../../../contracts/table-schema';

const T0 = 1_771_351_800_000;

/** A LiveKit room sid (`RM_` + 12 characters) and a fingerprint as `roomFingerprint` makes them (16 characters). */
const verification = (i: number, at = T0 + i): RoomVerification => ({
  roomSid: `RM_${i.toString(36).padStart(12, '0')}`,
  lastVerifiedAt: at,
  fingerprint: `fp${i.toString(36).padStart(14, '0')}`,
});

const decodeAll = (chunks: ReturnType<typeof encodeVerifications>) => chunks.flatMap(decodeVerifications);

describe('encodeVerifications / decodeVerifications', () => {
  test('round-trips every field exactly, in order, whatever a sid or fingerprint holds', () => {
    const verifications = [
      verification(1, T0 + 19_999),
      verification(2, T0),
      { roomSid: 'RM_"quoted",[odd]\\', lastVerifiedAt: T0 + 7, fingerprint: '' },
      { roomSid: 'RM_ünïcødé✓', lastVerifiedAt: T0 + 3, fingerprint: 'a,b]' },
    ];
    const chunks = encodeVerifications(verifications);
    expect(chunks).toHaveLength(1);
    expect(chunks[0].at).toBe(T0);
    expect(decodeAll(chunks)).toEqual(verifications);
  });

  test('nothing verified is no item at all', () => {
    expect(encodeVerifications([])).toEqual([]);
  });

  test('about 44 bytes a room (45 at most): a 1,000-room run is one item of about 44 KB (44 write units, against 1,000 items before)', () => {
    const verifications = Array.from({ length: 1000 }, (_, i) => verification(i, T0 + i * 20));
    const [chunk, ...rest] = encodeVerifications(verifications);
    expect(rest).toEqual([]);
    const bytesPerRoom = Buffer.byteLength(chunk.rooms) / verifications.length;
    // ["RM_xxxxxxxxxxxx",19980,"fp00000000000000"], : 15 + 16 characters, 5 digits, 9 of JSON.
    expect(bytesPerRoom).toBeGreaterThan(40);
    expect(bytesPerRoom).toBeLessThanOrEqual(45);
  });

  test('splits a large run into chunks of at most the limit, never splitting a room, and the chunks decode to the whole run', () => {
    const verifications = Array.from({ length: 500 }, (_, i) => verification(i));
    const chunks = encodeVerifications(verifications, 2_000);
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks) {
      expect(Buffer.byteLength(chunk.rooms)).toBeLessThanOrEqual(2_000);
      expect(() => JSON.parse(chunk.rooms) as unknown).not.toThrow();
    }
    expect(decodeAll(chunks)).toEqual(verifications);
    // Filled: each chunk but the last had no room for the next room (a comma and its entry).
    chunks.slice(0, -1).forEach((chunk, k) => {
      const next = decodeVerifications(chunks[k + 1])[0];
      const nextBytes = Buffer.byteLength(JSON.stringify([next.roomSid, next.lastVerifiedAt - chunk.at, next.fingerprint]));
      expect(Buffer.byteLength(chunk.rooms) + 1 + nextBytes).toBeGreaterThan(2_000);
    });
  });

  test('the default limit keeps an item well under DynamoDB 400 KB: about 6,800 rooms a chunk', () => {
    const verifications = Array.from({ length: 14_000 }, (_, i) => verification(i));
    const chunks = encodeVerifications(verifications);
    expect(chunks).toHaveLength(3);
    for (const chunk of chunks) expect(Buffer.byteLength(chunk.rooms)).toBeLessThanOrEqual(VERIFICATION_CHUNK_MAX_BYTES);
    expect(decodeAll(chunks)).toEqual(verifications);
  });
});

describe('latestVerifications', () => {
  test('keeps, per room, the latest verification, whichever run logged it and in whatever order', () => {
    const a1 = { roomSid: 'A', lastVerifiedAt: T0 + 100, fingerprint: 'a1' };
    const a2 = { roomSid: 'A', lastVerifiedAt: T0 + 200, fingerprint: 'a2' };
    const b1 = { roomSid: 'B', lastVerifiedAt: T0 + 300, fingerprint: 'b1' };
    // An overlapping run that wrote its item later but verified A earlier does not win.
    const latest = latestVerifications([a2, b1, a1], T0);
    expect(latest).toEqual(
      new Map([
        ['A', a2],
        ['B', b1],
      ]),
    );
  });

  test('leaves out what is older than the window: such a room reads as never verified', () => {
    const old = { roomSid: 'A', lastVerifiedAt: T0 - 1, fingerprint: 'old' };
    const edge = { roomSid: 'B', lastVerifiedAt: T0, fingerprint: 'edge' };
    expect([...latestVerifications([old, edge], T0).keys()]).toEqual(['B']);
  });
});

describe('verificationRetentionMs', () => {
  test('twice the coverage window, and at least 60 runs', () => {
    const minute = 60_000;
    expect(verificationRetentionMs(30 * minute, minute)).toBe(60 * minute); // the defaults: an hour
    expect(verificationRetentionMs(5 * minute, minute)).toBe(MIN_VERIFICATION_RETENTION_RUNS * minute);
    expect(verificationRetentionMs(90 * minute, minute)).toBe(180 * minute);
    expect(verificationRetentionMs(30 * minute, 10 * minute)).toBe(600 * minute);
  });
});

describe('the log keys', () => {
  test('sort as text as they do by time, and the window starts at its since key', () => {
    const times = [0, 999, 1_000, T0 - 1, T0, T0 + 1, 10 * T0];
    const sks = times.map((t) => keys.reconcileVerified(t, 'ffffffffffff', 0).sk);
    expect([...sks].sort()).toEqual(sks);
    const since = keys.reconcileVerifiedSince(T0);
    expect(sks.filter((sk) => sk >= since)).toEqual(sks.slice(times.indexOf(T0)));
  });

  test('stay under RECONCILE#, the only leading keys the function may write', () => {
    expect(keys.reconcileVerified(T0, 'abc', 2)).toEqual({ pk: 'RECONCILE#VERIFIED', sk: '001771351800000#abc#002' });
    expect(keys.reconcileVerifiedPk.startsWith(keys.reconcilePrefix)).toBe(true);
  });
});
