/**
 * One Query per access pattern of the state table (docs/state-model.md). The reconciler, the
 * on-call tooling and apps use these instead of building keys themselves. Index queries are
 * eventually consistent (GSIs are); `getEventRecord` reads the base table consistently.
 * An applied event leaves no record of its own: the entity item names its winning event (`lastEventId`).
 */
import { DynamoDBDocumentClient, QueryCommand, QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { EntityItem } from './state-model';
import { keys, TABLE_SCHEMA } from '../../contracts/table-schema';

export interface QueryTarget {
  readonly ddb: DynamoDBDocumentClient;
  readonly tableName: string;
}

/** Every item a Query matches, page after page (the one paginated Query loop of the state table's readers). */
export async function queryAll<T = Record<string, unknown>>({ ddb }: QueryTarget, input: QueryCommandInput): Promise<T[]> {
  const items: T[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const output = await ddb.send(new QueryCommand({ ...input, ExclusiveStartKey }));
    items.push(...((output.Items ?? []) as T[]));
    ExclusiveStartKey = output.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

const open = TABLE_SCHEMA.indexes.open;
const identity = TABLE_SCHEMA.indexes.identity;

/** Every item of one partition of a secondary index. */
function queryPartition(
  target: QueryTarget,
  index: { readonly name: string; readonly partitionKey: string },
  pk: string,
): Promise<EntityItem[]> {
  return queryAll(target, {
    TableName: target.tableName,
    IndexName: index.name,
    KeyConditionExpression: '#pk = :pk',
    ExpressionAttributeNames: { '#pk': index.partitionKey },
    ExpressionAttributeValues: { ':pk': pk },
  });
}

/**
 * One partition of the open index whose sort keys start with the JSON-quoted room name and `#`
 * (active rooms, open egresses); with `roomName`, only the items of rooms of that name.
 */
function queryOpenByRoomName(target: QueryTarget, pk: string, roomName?: string): Promise<EntityItem[]> {
  if (roomName === undefined) return queryPartition(target, open, pk);
  return queryAll(target, {
    TableName: target.tableName,
    IndexName: open.name,
    KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
    ExpressionAttributeNames: { '#pk': open.partitionKey, '#sk': open.sortKey },
    ExpressionAttributeValues: { ':pk': pk, ':prefix': `${JSON.stringify(roomName)}#` },
  });
}

/** Rooms not finished; with `roomName`, the live instance(s) of that name (room name -> room sid). */
export function listActiveRooms(target: QueryTarget, roomName?: string): Promise<EntityItem[]> {
  return queryOpenByRoomName(target, keys.activeRoomsPk, roomName);
}

/** Participants in the room (by room sid) who joined and have not left. */
export function listRoomParticipants(target: QueryTarget, roomSid: string): Promise<EntityItem[]> {
  return queryPartition(target, open, keys.roomParticipantsPk(roomSid));
}

/** Every session (present or ended) of `identity` in rooms named `roomName`, oldest join first. */
export function listIdentitySessions(target: QueryTarget, roomName: string, identityName: string): Promise<EntityItem[]> {
  return queryPartition(target, identity, keys.identityPk(roomName, identityName));
}

/** Egresses whose last known status is not terminal (STARTING, ACTIVE, ENDING); with `roomName`, of rooms of that name. */
export function listOpenEgresses(target: QueryTarget, roomName?: string): Promise<EntityItem[]> {
  return queryOpenByRoomName(target, keys.openEgressesPk, roomName);
}

/** Tracks a participant (by sid) has published and not unpublished. */
export function listPublishedTracks(target: QueryTarget, participantSid: string): Promise<EntityItem[]> {
  return queryPartition(target, open, keys.participantTracksPk(participantSid));
}

export interface EventRecordView {
  /**
   * Absent: the event changed an entity (or was stale), was never processed, or its record
   * expired. Present only for events that could not become an entity: `outcome` is
   * `unknown_type` (body kept for a replay) or `rejected` (with `reason`).
   */
  readonly record?: Record<string, unknown>;
}

/** An event id's record (unknown type or rejected), with a consistent read. */
export async function getEventRecord(target: QueryTarget, eventId: string): Promise<EventRecordView> {
  const items = await queryAll<Record<string, unknown>>(target, {
    TableName: target.tableName,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': keys.eventRecord(eventId).pk },
    ConsistentRead: true,
  });
  return { record: items.find((item) => item.sk === 'EVENT') };
}
