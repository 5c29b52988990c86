/**
 * What we believe is live, read from the state table in one pass: a Scan of the sparse "open"
 * index (gsi1), which holds only live entities (active rooms, present participants, published
 * tracks, open egresses, active ingress sessions). Its cost follows the live state, not history,
 * and it is a handful of 1 MB pages even at tens of thousands of rooms, where one Query per room
 * would be thousands of requests per run. Index reads are eventually consistent; the grace period
 * covers that (a difference must persist across runs).
 */
import { createHash } from 'node:crypto';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { EntityItem } from '../process/state-model';
import { keys, TABLE_SCHEMA } from '../process/table-schema';

export interface LocalRoom {
  readonly sid: string;
  readonly name: string;
  readonly rev: string;
}

export interface LocalParticipant {
  readonly sid: string;
  readonly identity: string;
  readonly roomSid: string;
  readonly roomName: string;
  readonly rev: string;
}

export interface LocalEgress {
  readonly egressId: string;
  readonly roomName?: string;
  readonly status: string;
  /** Egress `updatedAt` (ns) as stored, from the revision. */
  readonly version: bigint;
}

export interface LocalState {
  readonly rooms: Map<string, LocalRoom>;
  /** Live participants by room sid. */
  readonly participantsByRoom: Map<string, LocalParticipant[]>;
  readonly egresses: Map<string, LocalEgress>;
}

const SCAN_SEGMENTS = 4;

export async function loadLocalState(ddb: DynamoDBDocumentClient, tableName: string): Promise<LocalState> {
  const open = TABLE_SCHEMA.indexes.open;
  const items: Record<string, unknown>[] = [];
  await Promise.all(
    Array.from({ length: SCAN_SEGMENTS }, async (_, segment) => {
      let ExclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const output = await ddb.send(
          new ScanCommand({
            TableName: tableName,
            IndexName: open.name,
            Segment: segment,
            TotalSegments: SCAN_SEGMENTS,
            FilterExpression: 'entityType IN (:room, :participant, :egress)',
            ProjectionExpression: 'entityType, entityId, roomSid, roomName, #identity, #status, rev',
            ExpressionAttributeNames: { '#identity': 'identity', '#status': 'status' },
            ExpressionAttributeValues: { ':room': 'room', ':participant': 'participant', ':egress': 'egress' },
            ExclusiveStartKey,
          }),
        );
        items.push(...(output.Items ?? []));
        ExclusiveStartKey = output.LastEvaluatedKey;
      } while (ExclusiveStartKey);
    }),
  );

  const rooms = new Map<string, LocalRoom>();
  const participantsByRoom = new Map<string, LocalParticipant[]>();
  const egresses = new Map<string, LocalEgress>();
  for (const item of items) {
    const id = String(item.entityId);
    if (item.entityType === 'room') {
      rooms.set(id, { sid: id, name: String(item.roomName ?? ''), rev: String(item.rev) });
    } else if (item.entityType === 'participant') {
      const participant: LocalParticipant = {
        sid: id,
        identity: String(item.identity),
        roomSid: String(item.roomSid),
        roomName: String(item.roomName),
        rev: String(item.rev),
      };
      const list = participantsByRoom.get(participant.roomSid) ?? [];
      list.push(participant);
      participantsByRoom.set(participant.roomSid, list);
    } else if (item.entityType === 'egress') {
      egresses.set(id, { egressId: id, roomName: item.roomName as string | undefined, status: String(item.status), version: revVersion(String(item.rev)) });
    }
  }
  return { rooms, participantsByRoom, egresses };
}

/** The entity's own version, the second part of its revision. */
export function revVersion(rev: string): bigint {
  const part = rev.split('.')[1];
  return part && /^\d+$/.test(part) ? BigInt(part) : 0n;
}

/**
 * A room's local participant state as one value: it changes whenever a participant of the room
 * joins, leaves or gets a newer revision. Stored at each full verification; a different value
 * next time means "local state changed since last verified".
 */
export function roomFingerprint(room: LocalRoom | undefined, participants: readonly LocalParticipant[] = []): string {
  const parts = [room?.rev ?? '-', ...participants.map((p) => `${p.sid}@${p.rev}`).sort()];
  return createHash('sha256').update(parts.join('|')).digest('base64url').slice(0, 16);
}

/** The stored entity item (full, with `info`), consistently read. */
export async function getEntity(ddb: DynamoDBDocumentClient, tableName: string, key: { pk: string; sk: string }): Promise<EntityItem | undefined> {
  return (await ddb.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item as EntityItem | undefined;
}

/** Which of these egress ids have an item at all (live or terminal). */
export async function existingEgressIds(ddb: DynamoDBDocumentClient, tableName: string, egressIds: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let start = 0; start < egressIds.length; start += 100) {
    let requestKeys: Record<string, unknown>[] | undefined = egressIds.slice(start, start + 100).map((id) => keys.egress(id));
    for (let round = 0; requestKeys && requestKeys.length > 0; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, 50 * round));
      const output = await ddb.send(
        new BatchGetCommand({ RequestItems: { [tableName]: { Keys: requestKeys, ProjectionExpression: 'entityId', ConsistentRead: true } } }),
      );
      for (const item of output.Responses?.[tableName] ?? []) found.add(String(item.entityId));
      requestKeys = output.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined;
      if (round > 8 && requestKeys?.length) throw new Error('BatchGetItem left keys unprocessed after 8 rounds');
    }
  }
  return found;
}
