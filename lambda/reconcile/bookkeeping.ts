/**
 * The reconciler's memory between runs (a Lambda keeps none), in the state table under
 * `RECONCILE#` keys (contracts/table-schema.ts), every item with a TTL:
 * - `RECONCILE#ROOMS` / `<roomSid>`: `lastVerifiedAt` (ms) of the room's last full check (its
 *   ListParticipants compared with local state) and the local `fingerprint` at that moment. Drives
 *   the round-robin order (oldest first), "changed since last verified", and the coverage metric.
 * - `RECONCILE#PENDING` / `<repair id>`: a difference seen and not yet resolved: `eventType`,
 *   `entityId`, `roomSid` and `roomName` (when the difference belongs to a room), `firstSeenAt`,
 *   `lastSeenAt`, `observations`, the `scope` whose check can resolve it, and `repairedAt` once a
 *   run claimed it (a conditional write, so two overlapping runs send and count it once).
 *   `npm run missed` reads these records: fields are only ever added.
 * Each is one partition, read with one paginated Query per run.
 */
import { BatchWriteCommand, BatchWriteCommandOutput, DeleteCommand, DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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
  /** How long an item outlives its last update (seconds). */
  readonly ttlSeconds: number;
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

  async loadVerifications(): Promise<Map<string, RoomVerification>> {
    const items = await queryPartition(this.options.ddb, this.options.tableName, keys.reconcileRoomsPk);
    return new Map(
      items.map((item) => [
        String(item.sk),
        {
          roomSid: String(item.sk),
          lastVerifiedAt: Number(item.lastVerifiedAt ?? 0),
          fingerprint: String((item.fingerprint as string | undefined) ?? ''),
        },
      ]),
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

  async saveVerifications(verifications: readonly RoomVerification[], nowMs: number): Promise<void> {
    const requests = verifications.map((v) => ({
      PutRequest: {
        Item: {
          ...keys.reconcileRoom(v.roomSid),
          lastVerifiedAt: v.lastVerifiedAt,
          fingerprint: v.fingerprint,
          expiresAt: this.expiresAt(nowMs),
        },
      },
    }));
    await this.batchWrite(requests);
  }

  /** Forgets rooms that are gone on both sides, so the partition does not grow with history. */
  async forgetRooms(roomSids: readonly string[]): Promise<void> {
    await this.batchWrite(roomSids.map((sid) => ({ DeleteRequest: { Key: keys.reconcileRoom(sid) } })));
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

  private async batchWrite(requests: Record<string, unknown>[]): Promise<void> {
    const chunks: Record<string, unknown>[][] = [];
    for (let start = 0; start < requests.length; start += 25) chunks.push(requests.slice(start, start + 25));
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        let pending: Record<string, unknown>[] | undefined = chunks[next++];
        for (let round = 0; pending && pending.length > 0; round++) {
          if (round > 8) throw new Error('BatchWriteItem left items unprocessed after 8 rounds');
          if (round > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));
          const output: BatchWriteCommandOutput = await this.options.ddb.send(
            new BatchWriteCommand({ RequestItems: { [this.options.tableName]: pending } }),
          );
          pending = output.UnprocessedItems?.[this.options.tableName];
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, chunks.length) }, worker));
  }
}
