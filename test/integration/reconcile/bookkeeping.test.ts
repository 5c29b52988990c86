/**
 * The reconciler's verification log against DynamoDB Local: what runs write (one item per run, a
 * few chunks when large, counted in requests and in the write units DynamoDB reports) and what the
 * next run reads back (per room the latest verification within the window, nothing older).
 */
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { keys } from '../../../contracts/table-schema';
import { Bookkeeping, encodeVerifications, RoomVerification, verificationRetentionMs } from '../../../lambda/reconcile/bookkeeping';
import { useDynamoDbLocal } from '../../support/dynamodb';

const local = useDynamoDbLocal();

const T0 = 1_771_351_800_000;
const MINUTE = 60_000;
/** The window at the defaults (`reconcile.fullCheckMinutes` 30, `intervalMinutes` 1): an hour. */
const RETENTION_MS = verificationRetentionMs(30 * MINUTE, MINUTE);

/** A LiveKit room sid (`RM_` + 12 characters) and a fingerprint as `roomFingerprint` makes them (16 characters). */
const verification = (i: number, at: number, run = 'a'): RoomVerification => ({
  roomSid: `RM_${i.toString(36).padStart(12, '0')}`,
  lastVerifiedAt: at,
  fingerprint: `${run}${i.toString(36).padStart(15, '0')}`,
});

interface Writes {
  requests: number;
  units: number;
}

/**
 * The document client, with every write request counted and its consumed write units (which
 * DynamoDB Local reports as DynamoDB bills them: 1 per KB of item) added up.
 */
function countingClient(ddb: DynamoDBDocumentClient): { client: DynamoDBDocumentClient; writes: Writes } {
  const writes: Writes = { requests: 0, units: 0 };
  const send = async (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
    const write = /Put|Update|Delete|BatchWrite|TransactWrite/.test(command.constructor.name);
    if (write) {
      command.input.ReturnConsumedCapacity = 'TOTAL';
      writes.requests++;
    }
    const output = (await ddb.send(command as never)) as { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] };
    if (write) for (const consumed of [output.ConsumedCapacity ?? []].flat()) writes.units += consumed.CapacityUnits ?? 0;
    return output;
  };
  return { client: { send } as unknown as DynamoDBDocumentClient, writes };
}

async function setup() {
  const tableName = await local.engine.createStateTable();
  const { client, writes } = countingClient(local.engine.documentClient);
  const bookkeeping = new Bookkeeping({ ddb: client, tableName, ttlSeconds: 86_400, verificationRetentionMs: RETENTION_MS });
  const logItems = async () =>
    (
      await local.engine.documentClient.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.reconcileVerifiedPk },
        }),
      )
    ).Items ?? [];
  return { bookkeeping, writes, logItems };
}

const bySid = (verifications: readonly RoomVerification[]) => new Map(verifications.map((v) => [v.roomSid, v]));

describe('the verification log', () => {
  test("two runs' verifications merge to the latest per room, overlapping runs included", async () => {
    const { bookkeeping, logItems } = await setup();
    const run1 = [verification(1, T0), verification(2, T0 + 5)];
    const run2 = [verification(2, T0 + MINUTE, 'b'), verification(3, T0 + MINUTE + 5, 'b')];
    // A run that overran its minute, writing at the same moment as the next: its own item, and
    // its verification of room 2, older than run 2's, does not win.
    const overran = [verification(2, T0 + 30_000, 'c'), verification(4, T0 + 30_000, 'c')];
    await bookkeeping.saveVerifications(run1, T0 + 10);
    await bookkeeping.saveVerifications(run2, T0 + MINUTE + 10);
    await bookkeeping.saveVerifications(overran, T0 + MINUTE + 10);

    expect(await logItems()).toHaveLength(3);
    const loaded = await bookkeeping.loadVerifications(T0 + 2 * MINUTE);
    expect(loaded).toEqual(bySid([run1[0], run2[0], run2[1], overran[1]]));
  });

  test('a verification older than the window is not returned: its room reads as never verified', async () => {
    const { bookkeeping } = await setup();
    await bookkeeping.saveVerifications([verification(1, T0), verification(2, T0)], T0 + 20_000);
    await bookkeeping.saveVerifications([verification(2, T0 + 50 * MINUTE, 'b')], T0 + 50 * MINUTE);

    const loaded = await bookkeeping.loadVerifications(T0 + RETENTION_MS + 1);
    // Room 1 left the window (its item, written 20 s later, is still read: its verification is not returned).
    expect([...loaded.keys()]).toEqual([verification(2, 0).roomSid]);
    expect(loaded.get(verification(2, 0).roomSid)?.fingerprint).toBe(verification(2, 0, 'b').fingerprint);
    expect((await bookkeeping.loadVerifications(T0 + RETENTION_MS + 21_000)).size).toBe(1);
    expect((await bookkeeping.loadVerifications(T0 + 50 * MINUTE + RETENTION_MS + 1)).size).toBe(0);
  });

  test('a run verifying enough rooms to need several chunks writes one item per chunk and round-trips exactly', async () => {
    const { bookkeeping, writes, logItems } = await setup();
    const verifications = Array.from({ length: 15_000 }, (_, i) => verification(i, T0 + i));
    const chunks = encodeVerifications(verifications).length;
    expect(chunks).toBe(3);

    await bookkeeping.saveVerifications(verifications, T0 + 20_000);
    expect(writes.requests).toBe(chunks);
    const items = await logItems();
    expect(items).toHaveLength(chunks);
    // Every chunk is its own key, well under DynamoDB's 400 KB item limit, and expires after the window.
    for (const item of items) {
      expect(Buffer.byteLength(String(item.rooms))).toBeLessThanOrEqual(300_000);
      expect(item.expiresAt).toBeGreaterThan((T0 + 20_000 + RETENTION_MS) / 1000);
      expect(item.expiresAt).toBeLessThan((T0 + 20_000 + RETENTION_MS) / 1000 + 3600);
    }
    const loaded = await bookkeeping.loadVerifications(T0 + 30_000);
    expect(loaded.size).toBe(verifications.length);
    expect(loaded).toEqual(bySid(verifications));
  });

  test('the writes of a run are its chunks, not its rooms: 1,000 rooms are one request of about 44 write units', async () => {
    const { bookkeeping, writes } = await setup();
    const verifications = Array.from({ length: 1000 }, (_, i) => verification(i, T0 + 20 * i));
    await bookkeeping.saveVerifications(verifications, T0 + 20_000);
    expect(writes.requests).toBe(1);
    // DynamoDB bills a write by the KB: ~44 bytes a room, against one unit a room as items of their own.
    expect(writes.units).toBeGreaterThanOrEqual(40);
    expect(writes.units).toBeLessThanOrEqual(50);

    await bookkeeping.saveVerifications([], T0 + 80_000);
    expect(writes.requests).toBe(1);
  });
});
