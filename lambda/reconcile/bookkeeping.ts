/**
 * The reconciler's memory between runs (a Lambda keeps none), in the state table under
 * `RECONCILE#` keys (contracts/table-schema.ts), every item with a TTL:
 * - `RECONCILE#VERIFIED` / `<write time ms, 15 digits>#<run id>#<chunk>`: the verification log,
 *   one item per run that fully verified rooms (a few chunks when a run verified thousands), each
 *   room with the time of its full check (its ListParticipants compared with local state) and the
 *   local `fingerprint` at that moment. Read back over a retention window and merged (latest per
 *   room), it drives the round-robin order (oldest first), "changed since last verified", and the
 *   coverage metric. One write per run instead of one per room: writes follow the bytes a run
 *   verified (about 44 a room), not the number of rooms.
 * - `RECONCILE#PENDING` / `<repair id>`: a difference seen and not yet resolved: `eventType`,
 *   `entityId`, `roomSid` and `roomName` (when the difference belongs to a room), `firstSeenAt`,
 *   `lastSeenAt`, `observations`, the `scope` whose check can resolve it, and `repairedAt` once a
 *   run claimed it (a conditional write, so two overlapping runs send and count it once).
 *   `npm run missed` reads these records: fields are only ever added.
 * Each is one partition, read with one paginated Query per run.
 */
import { randomBytes } from 'node:crypto';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { queryAll } from '../process/queries';
import { keys } from '../../contracts/table-schema';
import type { MissedEventType } from './repairs';

export interface RoomVerification {
  readonly roomSid: string;
  readonly lastVerifiedAt: number;
  readonly fingerprint: string;
}

/** A difference between LiveKit and local state: which repair it calls for, and where it was seen. */
export interface Difference {
  readonly repairId: string;
  readonly eventType: MissedEventType;
  readonly entityId: string;
  /** What has to be checked for this difference to be seen again or resolved (`rooms`, `room#<sid>`, `egress#<id>`, `ingress`). */
  readonly scope: string;
  /** The room instance it was seen in (participants, tracks, rooms, egress). For participants and tracks a different one restarts it. */
  readonly roomSid?: string;
  /** The room's name, for people reading the bookkeeping (`npm run missed`). */
  readonly roomName?: string;
}

/** A difference as the bookkeeping holds it between runs. */
export interface PendingDifference extends Difference {
  readonly firstSeenAt: number;
  readonly lastSeenAt: number;
  readonly observations: number;
  readonly repairedAt?: number;
}

export interface BookkeepingOptions {
  readonly ddb: DynamoDBDocumentClient;
  readonly tableName: string;
  /** How long a pending difference outlives its last update (seconds). */
  readonly ttlSeconds: number;
  /**
   * How far back the verification log is read (ms), `verificationRetentionMs`: a room last
   * verified earlier reads as never verified. Log items expire a little after it.
   */
  readonly verificationRetentionMs: number;
}

/** The least number of runs the verification log is read back over, whatever the coverage window. */
export const MIN_VERIFICATION_RETENTION_RUNS = 60;

/**
 * How far back the verification log is read: twice the coverage window (`reconcile.fullCheckMinutes`),
 * and at least 60 runs (an hour at the default 1-minute interval). The coverage metric needs its
 * window; round-robin needs every room's last verification for as long as the budget takes to go
 * round, which the window holds up to 60 x (budget - 3) active rooms (a longer round already shows
 * as coverage under 50%). Counted in runs, not minutes, because the read is: each run in the window
 * is one item to read. docs/reconciler.md ("Bookkeeping") gives the cost.
 */
export function verificationRetentionMs(coverageWindowMs: number, intervalMs: number): number {
  return Math.max(2 * coverageWindowMs, MIN_VERIFICATION_RETENTION_RUNS * intervalMs);
}

/** Log items expire this long after they leave the window (TTL deletion is lazy: never relied on). */
const VERIFICATION_TTL_MARGIN_SECONDS = 600;

/**
 * The most bytes of `rooms` in one log item: well under DynamoDB's 400 KB item limit, with room for
 * the keys and other attributes. About 6,800 rooms at 44 bytes each.
 */
export const VERIFICATION_CHUNK_MAX_BYTES = 300_000;

/**
 * One item of the verification log as stored: `at` (ms) the run's earliest verification, `rooms`
 * compact JSON `[[roomSid, ms after at, fingerprint], ...]`: about 44 bytes a room (a 15-character
 * LiveKit sid, a 16-character fingerprint, a run's offsets under 100 s).
 */
export interface VerificationChunk {
  readonly at: number;
  readonly rooms: string;
}

/** One run's verifications as log items, in order, each `rooms` at most `maxBytes` (one room never split). */
export function encodeVerifications(
  verifications: readonly RoomVerification[],
  maxBytes: number = VERIFICATION_CHUNK_MAX_BYTES,
): VerificationChunk[] {
  if (verifications.length === 0) return [];
  const at = verifications.reduce((min, v) => Math.min(min, v.lastVerifiedAt), Infinity);
  const chunks: VerificationChunk[] = [];
  let entries: string[] = [];
  let bytes = 2; // the brackets
  for (const v of verifications) {
    const entry = JSON.stringify([v.roomSid, v.lastVerifiedAt - at, v.fingerprint]);
    if (entries.length > 0 && bytes + 1 + Buffer.byteLength(entry) > maxBytes) {
      chunks.push({ at, rooms: `[${entries.join(',')}]` });
      entries = [];
      bytes = 2;
    }
    bytes += (entries.length > 0 ? 1 : 0) + Buffer.byteLength(entry);
    entries.push(entry);
  }
  chunks.push({ at, rooms: `[${entries.join(',')}]` });
  return chunks;
}

export function decodeVerifications(chunk: VerificationChunk): RoomVerification[] {
  const rooms = JSON.parse(chunk.rooms) as [string, number, string][];
  return rooms.map(([roomSid, offset, fingerprint]) => ({ roomSid, lastVerifiedAt: chunk.at + offset, fingerprint }));
}

/** Per room, its latest verification at or after `sinceMs` (overlapping runs each logged theirs). */
export function latestVerifications(verifications: Iterable<RoomVerification>, sinceMs: number): Map<string, RoomVerification> {
  const latest = new Map<string, RoomVerification>();
  for (const v of verifications) {
    if (v.lastVerifiedAt < sinceMs) continue;
    const known = latest.get(v.roomSid);
    if (!known || v.lastVerifiedAt >= known.lastVerifiedAt) latest.set(v.roomSid, v);
  }
  return latest;
}

/** One partition of the bookkeeping, read consistently. */
function queryPartition(ddb: DynamoDBDocumentClient, tableName: string, pk: string): Promise<Record<string, unknown>[]> {
  return queryAll(
    { ddb, tableName },
    { TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': pk }, ConsistentRead: true },
  );
}

/** The optional `roomSid` / `roomName` of a pending record, as an update's SET clause and values. */
function roomFields(difference: Pick<PendingDifference, 'roomSid' | 'roomName'>): { set: string; values: Record<string, string> } {
  const set: string[] = [];
  const values: Record<string, string> = {};
  if (difference.roomSid) {
    set.push('roomSid = :roomSid');
    values[':roomSid'] = difference.roomSid;
  }
  if (difference.roomName) {
    set.push('roomName = :roomName');
    values[':roomName'] = difference.roomName;
  }
  return { set: set.map((clause) => `, ${clause}`).join(''), values };
}

export class Bookkeeping {
  constructor(private readonly options: BookkeepingOptions) {}

  private expiresAt(nowMs: number): number {
    return Math.floor(nowMs / 1000) + this.options.ttlSeconds;
  }

  /**
   * Per room, its latest verification within the retention window before `nowMs`; a room verified
   * earlier (or never) is absent, which the reconciler reads as never verified. One paginated
   * Query of the log items written in the window, eventually consistent (half the read units of a
   * consistent read, and the read that matters most, the previous run's item, is a minute old).
   * A read that misses a just-written item only makes its rooms look older than they are: at worst
   * one extra ListParticipants, or a `changed` signal read against an older fingerprint. Nothing is
   * repaired or left unrepaired on it (pending differences are read consistently).
   */
  async loadVerifications(nowMs: number): Promise<Map<string, RoomVerification>> {
    const sinceMs = nowMs - this.options.verificationRetentionMs;
    const items = await queryAll(
      { ddb: this.options.ddb, tableName: this.options.tableName },
      {
        TableName: this.options.tableName,
        KeyConditionExpression: 'pk = :pk AND sk >= :since',
        ExpressionAttributeValues: { ':pk': keys.reconcileVerifiedPk, ':since': keys.reconcileVerifiedSince(sinceMs) },
      },
    );
    return latestVerifications(
      items.flatMap((item) => decodeVerifications({ at: Number(item.at), rooms: String(item.rooms) })),
      sinceMs,
    );
  }

  async loadPending(): Promise<Map<string, PendingDifference>> {
    const items = await queryPartition(this.options.ddb, this.options.tableName, keys.reconcilePendingPk);
    return new Map(
      items.map((item) => [
        String(item.sk),
        {
          repairId: String(item.sk),
          eventType: item.eventType as MissedEventType,
          entityId: String(item.entityId),
          scope: String(item.scope),
          roomSid: item.roomSid as string | undefined,
          roomName: item.roomName as string | undefined,
          firstSeenAt: Number(item.firstSeenAt),
          lastSeenAt: Number(item.lastSeenAt),
          observations: Number(item.observations ?? 1),
          repairedAt: item.repairedAt === undefined ? undefined : Number(item.repairedAt),
        },
      ]),
    );
  }

  /**
   * Logs this run's verifications: one item, or one per `VERIFICATION_CHUNK_MAX_BYTES` of them, so
   * one write request per chunk whatever the number of rooms. The sort key's time is no earlier
   * than any verification in the item, so the window's Query (`sk >= since`) finds every one of
   * them still inside the window; the run id keeps two overlapping runs' items apart.
   */
  async saveVerifications(verifications: readonly RoomVerification[], nowMs: number): Promise<void> {
    const chunks = encodeVerifications(verifications);
    if (chunks.length === 0) return;
    const writtenAt = verifications.reduce((max, v) => Math.max(max, v.lastVerifiedAt), nowMs);
    const runId = randomBytes(6).toString('hex');
    const expiresAt = Math.ceil((writtenAt + this.options.verificationRetentionMs) / 1000) + VERIFICATION_TTL_MARGIN_SECONDS;
    await Promise.all(
      chunks.map((chunk, index) =>
        this.options.ddb.send(
          new PutCommand({
            TableName: this.options.tableName,
            Item: { ...keys.reconcileVerified(writtenAt, runId, index), at: chunk.at, rooms: chunk.rooms, expiresAt },
          }),
        ),
      ),
    );
  }

  /** Records (or restarts) an observation. Leaves `repairedAt` alone. */
  async observe(difference: PendingDifference, nowMs: number): Promise<void> {
    await this.options.ddb.send(
      new UpdateCommand({
        TableName: this.options.tableName,
        Key: keys.reconcilePending(difference.repairId),
        UpdateExpression:
          'SET eventType = :eventType, entityId = :entityId, #scope = :scope, firstSeenAt = :firstSeenAt, lastSeenAt = :lastSeenAt, observations = :observations, expiresAt = :expiresAt' +
          roomFields(difference).set,
        ExpressionAttributeNames: { '#scope': 'scope' },
        ExpressionAttributeValues: {
          ':eventType': difference.eventType,
          ':entityId': difference.entityId,
          ':scope': difference.scope,
          ':firstSeenAt': difference.firstSeenAt,
          ':lastSeenAt': difference.lastSeenAt,
          ':observations': difference.observations,
          ':expiresAt': this.expiresAt(nowMs),
          ...roomFields(difference).values,
        },
      }),
    );
  }

  /**
   * Marks the difference repaired if no run did yet; false when another run got there first.
   * Creates the item when it does not exist (a participant left implied by a missed room_finished).
   */
  async claim(difference: Omit<PendingDifference, 'repairedAt'>, nowMs: number): Promise<boolean> {
    try {
      await this.options.ddb.send(
        new UpdateCommand({
          TableName: this.options.tableName,
          Key: keys.reconcilePending(difference.repairId),
          UpdateExpression:
            'SET repairedAt = :now, eventType = :eventType, entityId = :entityId, #scope = :scope, firstSeenAt = if_not_exists(firstSeenAt, :firstSeenAt), lastSeenAt = :now, observations = :observations, expiresAt = :expiresAt' +
            roomFields(difference).set,
          ConditionExpression: 'attribute_not_exists(repairedAt)',
          ExpressionAttributeNames: { '#scope': 'scope' },
          ExpressionAttributeValues: {
            ':now': nowMs,
            ':eventType': difference.eventType,
            ':entityId': difference.entityId,
            ':scope': difference.scope,
            ':firstSeenAt': difference.firstSeenAt,
            ':observations': difference.observations,
            ':expiresAt': this.expiresAt(nowMs),
            ...roomFields(difference).values,
          },
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /** Undoes a claim whose repair could not be enqueued, so a later run sends it. */
  async unclaim(repairId: string): Promise<void> {
    await this.options.ddb.send(
      new UpdateCommand({ TableName: this.options.tableName, Key: keys.reconcilePending(repairId), UpdateExpression: 'REMOVE repairedAt' }),
    );
  }

  async resolve(repairId: string): Promise<void> {
    await this.options.ddb.send(new DeleteCommand({ TableName: this.options.tableName, Key: keys.reconcilePending(repairId) }));
  }
}
