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
import { keys, TABLE_SCHEMA } from '../../contracts/table-schema';

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
  /** `participant.kind` as stored in `participantKind` (protojson name; STANDARD when absent). */
  readonly kind: string;
  /** The stored event's id and `createdAt` (s). */
  readonly lastEventId?: string;
  readonly lastEventCreatedAt?: number;
}

/** A published track, as the open index holds it. */
export interface LocalTrack {
  readonly sid: string;
  readonly participantSid: string;
  readonly identity?: string;
  readonly roomSid?: string;
  readonly roomName?: string;
  readonly lastEventId?: string;
  readonly lastEventCreatedAt?: number;
}

/**
 * LiveKit's `numParticipants` leaves out AGENT and EGRESS participants (livekit/livekit
 * pkg/rtc/room.go `updateProto`, pkg/rtc/participant.go `IsDependent`); our count must too.
 */
export const countsInNumParticipants = (participant: Pick<LocalParticipant, 'kind'>): boolean =>
  participant.kind !== 'AGENT' && participant.kind !== 'EGRESS';

export interface LocalEgress {
  readonly egressId: string;
  readonly roomName?: string;
  readonly status: string;
  /** Egress `updatedAt` (ns) as stored, from the revision. */
  readonly version: bigint;
}

/** An active ingress session: one publishing session of an ingress, keyed by LiveKit's resource id. */
export interface LocalIngressSession {
  readonly ingressId: string;
  /** `state.resourceId` of the session's events (else `state.startedAt`), as the processor derives it. */
  readonly sessionId: string;
  readonly roomName?: string;
}

export interface LocalState {
  readonly rooms: Map<string, LocalRoom>;
  /** Live participants by room sid. */
  readonly participantsByRoom: Map<string, LocalParticipant[]>;
  readonly egresses: Map<string, LocalEgress>;
  /** Active ingress sessions by `ingressSessionKey`. */
  readonly ingressSessions: Map<string, LocalIngressSession>;
  /** Published tracks by participant sid. */
  readonly tracksByParticipant: Map<string, LocalTrack[]>;
}

/** One key for an ingress session, as the open index sorts it: `<ingressId>#<sessionId>`. */
export const ingressSessionKey = (ingressId: string, sessionId: string): string => `${ingressId}#${sessionId}`;

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
            FilterExpression: 'entityType IN (:room, :participant, :track, :egress, :ingress)',
            ProjectionExpression:
              'entityType, entityId, roomSid, roomName, participantSid, #identity, #status, rev, sessionId, lastEventId, lastEventCreatedAt, participantKind',
            ExpressionAttributeNames: { '#identity': 'identity', '#status': 'status' },
            ExpressionAttributeValues: {
              ':room': 'room',
              ':participant': 'participant',
              ':track': 'track',
              ':egress': 'egress',
              ':ingress': 'ingress',
            },
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
  const ingressSessions = new Map<string, LocalIngressSession>();
  const tracksByParticipant = new Map<string, LocalTrack[]>();
  const lastEvent = (item: Record<string, unknown>) => ({
    ...(typeof item.lastEventId === 'string' ? { lastEventId: item.lastEventId } : {}),
    ...(typeof item.lastEventCreatedAt === 'number' ? { lastEventCreatedAt: item.lastEventCreatedAt } : {}),
  });
  for (const item of items) {
    const id = String(item.entityId);
    if (item.entityType === 'room') {
      rooms.set(id, { sid: id, name: String((item.roomName as string | undefined) ?? ''), rev: String(item.rev) });
    } else if (item.entityType === 'participant') {
      const participant: LocalParticipant = {
        sid: id,
        identity: String(item.identity),
        roomSid: String(item.roomSid),
        roomName: String(item.roomName),
        rev: String(item.rev),
        kind: typeof item.participantKind === 'string' ? item.participantKind : 'STANDARD',
        ...lastEvent(item),
      };
      const list = participantsByRoom.get(participant.roomSid) ?? [];
      list.push(participant);
      participantsByRoom.set(participant.roomSid, list);
    } else if (item.entityType === 'track' && typeof item.participantSid === 'string') {
      const track: LocalTrack = {
        sid: id,
        participantSid: item.participantSid,
        ...(typeof item.identity === 'string' ? { identity: item.identity } : {}),
        ...(typeof item.roomSid === 'string' ? { roomSid: item.roomSid } : {}),
        ...(typeof item.roomName === 'string' ? { roomName: item.roomName } : {}),
        ...lastEvent(item),
      };
      const list = tracksByParticipant.get(track.participantSid) ?? [];
      list.push(track);
      tracksByParticipant.set(track.participantSid, list);
    } else if (item.entityType === 'egress') {
      egresses.set(id, {
        egressId: id,
        roomName: item.roomName as string | undefined,
        status: String(item.status),
        version: revVersion(String(item.rev)),
      });
    } else if (item.entityType === 'ingress' && typeof item.sessionId === 'string') {
      const session: LocalIngressSession = { ingressId: id, sessionId: item.sessionId, roomName: item.roomName as string | undefined };
      ingressSessions.set(ingressSessionKey(id, item.sessionId), session);
    }
  }
  return { rooms, participantsByRoom, egresses, ingressSessions, tracksByParticipant };
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
export async function getEntity(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  key: { pk: string; sk: string },
): Promise<EntityItem | undefined> {
  return (await ddb.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item as EntityItem | undefined;
}

/** Which of `ids` have an item at all (live or terminal), each keyed by `keyOf`. */
async function existingIds(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  ids: readonly string[],
  keyOf: (id: string) => { pk: string; sk: string },
): Promise<Set<string>> {
  const found = await existingItems(ddb, tableName, ids.map(keyOf));
  return new Set(ids.filter((id) => found.has(itemKey(keyOf(id)))));
}

/** Which of these participant sids have an item at all (present, or a LEFT/ABORTED tombstone). */
export function existingParticipantSids(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  participantSids: readonly string[],
): Promise<Set<string>> {
  return existingIds(ddb, tableName, participantSids, keys.participant);
}

/** Which of these track sids have an item at all (published or unpublished). */
export function existingTrackSids(ddb: DynamoDBDocumentClient, tableName: string, trackSids: readonly string[]): Promise<Set<string>> {
  return existingIds(ddb, tableName, trackSids, keys.track);
}

/** Which of these egress ids have an item at all (live or terminal). */
export function existingEgressIds(ddb: DynamoDBDocumentClient, tableName: string, egressIds: readonly string[]): Promise<Set<string>> {
  return existingIds(ddb, tableName, egressIds, keys.egress);
}

/** Which of these ingress sessions have an item at all (active or ended), by `ingressSessionKey`. */
export async function existingIngressSessions(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  sessions: readonly { readonly ingressId: string; readonly sessionId: string }[],
): Promise<Set<string>> {
  const found = await existingItems(
    ddb,
    tableName,
    sessions.map((s) => keys.ingress(s.ingressId, s.sessionId)),
  );
  return new Set(
    sessions
      .filter((s) => found.has(itemKey(keys.ingress(s.ingressId, s.sessionId))))
      .map((s) => ingressSessionKey(s.ingressId, s.sessionId)),
  );
}

const itemKey = (key: { pk: string; sk: string }): string => `${key.pk}\u0000${key.sk}`;

/** Which of these keys have an item (consistent BatchGetItem, 100 keys a call, unprocessed keys retried). */
async function existingItems(
  ddb: DynamoDBDocumentClient,
  tableName: string,
  itemKeys: readonly { pk: string; sk: string }[],
): Promise<Set<string>> {
  const found = new Set<string>();
  for (let start = 0; start < itemKeys.length; start += 100) {
    let requestKeys: Record<string, unknown>[] | undefined = itemKeys.slice(start, start + 100).map((key) => ({ ...key }));
    for (let round = 0; requestKeys && requestKeys.length > 0; round++) {
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, 50 * round));
      const output = await ddb.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: {
              Keys: requestKeys,
              ProjectionExpression: '#pk, #sk',
              ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
              ConsistentRead: true,
            },
          },
        }),
      );
      for (const item of output.Responses?.[tableName] ?? []) found.add(itemKey({ pk: String(item.pk), sk: String(item.sk) }));
      requestKeys = output.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined;
      if (round > 8 && requestKeys?.length) throw new Error('BatchGetItem left keys unprocessed after 8 rounds');
    }
  }
  return found;
}
