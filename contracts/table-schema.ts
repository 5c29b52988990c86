/**
 * The state table's key schema: the one definition the CDK construct, the tests and the local
 * runtime all build the table from, so deployed and local tables cannot drift apart. The key
 * values themselves are built only by the helpers below (`keys`), never by string concatenation
 * elsewhere, because the key schema is a public interface (docs/state-model.md).
 */
import { createHash } from 'node:crypto';

/**
 * The version of the key schema, a public interface (docs/state-model.md, "Key schema"): the key
 * attributes, the index names and keys, and the key values `keys` builds. Consumers query the
 * table by them. Adding an index or an item kind is compatible and keeps it; changing a key
 * attribute, an index or the shape of a key value is a breaking change that raises it (and the
 * package's major version, with a migration).
 */
export const TABLE_SCHEMA_VERSION = 1;

export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds; DynamoDB TTL deletes housekeeping items some time after this instant. */
  ttlAttribute: 'expiresAt',
  /** The table's stream: every entity write with the item before and after, the change feed's source. */
  streamViewType: 'NEW_AND_OLD_IMAGES',
  indexes: {
    /**
     * Sparse "open" index: an entity has `gsi1pk`/`gsi1sk` only while it is not terminal, so a
     * Query here lists exactly the live rooms, a room's present participants, the open egresses.
     */
    open: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
    /** Every session (present and ended) of one identity in one room name. */
    identity: { name: 'gsi2', partitionKey: 'gsi2pk', sortKey: 'gsi2sk' },
  },
} as const;

export type TableIndexName = (typeof TABLE_SCHEMA.indexes)[keyof typeof TABLE_SCHEMA.indexes]['name'];

/** Every key attribute is a string. */
export const KEY_ATTRIBUTES: readonly string[] = [
  TABLE_SCHEMA.partitionKey,
  TABLE_SCHEMA.sortKey,
  ...Object.values(TABLE_SCHEMA.indexes).flatMap((index) => [index.partitionKey, index.sortKey]),
];

/**
 * The CreateTable input for the schema (on-demand, every index projecting all attributes), as
 * DynamoDB Local and the SDK take it. The CDK construct builds the same table from `TABLE_SCHEMA`.
 */
export function createTableInput(tableName: string) {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST' as const,
    // The change feed: the publisher turns each entity write (old and new image) into its changes.
    StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE_SCHEMA.streamViewType },
    AttributeDefinitions: KEY_ATTRIBUTES.map((name) => ({ AttributeName: name, AttributeType: 'S' as const })),
    KeySchema: [
      { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' as const },
      { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' as const },
    ],
    GlobalSecondaryIndexes: Object.values(TABLE_SCHEMA.indexes).map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey, KeyType: 'HASH' as const },
        { AttributeName: index.sortKey, KeyType: 'RANGE' as const },
      ],
      Projection: { ProjectionType: 'ALL' as const },
    })),
  };
}

/** DynamoDB's limit on a partition key value, in bytes. */
const MAX_PARTITION_KEY_BYTES = 2048;

function eventRecordPk(eventId: string): string {
  const pk = `EVENT#${eventId}`;
  return Buffer.byteLength(pk) <= MAX_PARTITION_KEY_BYTES ? pk : `EVENT#sha256:${createHash('sha256').update(eventId).digest('hex')}`;
}

/** A time in ms as a sort key that orders as text as it does as a number (15 digits: past the year 30000). */
function logTime(ms: number): string {
  return String(Math.max(0, Math.floor(ms))).padStart(15, '0');
}

/** Key values, in one place. `#` separates parts; LiveKit ids never contain it. */
export const keys = {
  room: (roomSid: string) => ({ pk: `ROOM#${roomSid}`, sk: 'ROOM' }),
  participant: (participantSid: string) => ({ pk: `PARTICIPANT#${participantSid}`, sk: 'PARTICIPANT' }),
  track: (trackSid: string) => ({ pk: `TRACK#${trackSid}`, sk: 'TRACK' }),
  egress: (egressId: string) => ({ pk: `EGRESS#${egressId}`, sk: 'EGRESS' }),
  ingress: (ingressId: string, sessionId: string) => ({ pk: `INGRESS#${ingressId}`, sk: `SESSION#${sessionId}` }),
  /**
   * An event that changed no entity and must not be lost: an unknown type, or one rejected for
   * good. An id too long for a partition key (DynamoDB refuses one over 2,048 bytes, for good) is
   * keyed by its SHA-256 instead: LiveKit's ids are short, but a signed body can carry any id, and
   * a record that can never be written would send its event round the queue into the DLQ.
   */
  eventRecord: (eventId: string) => ({ pk: eventRecordPk(eventId), sk: 'EVENT' }),
  /**
   * Evidence for the reconciler (lambda/reconcile/evidence.ts), one item per room (sort key: room
   * sid): a webhook of that room reached us `LATE_ARRIVAL_MS` or more after LiveKit created it, so
   * it sat in LiveKit's serial room queue close to MaxAge and its neighbours may have been dropped.
   * Written by the processor only for late events (nothing in the common case); no `entityType`,
   * so it makes no change on the feed. Carries `expiresAt`.
   */
  lateArrivalsPk: 'EVIDENCE#LATE',
  lateArrival: (roomSid: string) => ({ pk: 'EVIDENCE#LATE', sk: roomSid }),
  /** A LiveKit auto-egress that failed to start (no egress id): a record under its room. */
  egressStartFailure: (roomSid: string, eventId: string) => ({ pk: `ROOM#${roomSid}`, sk: `EGRESS_START_FAILED#${eventId}` }),

  /** `gsi1pk` values of the open index. Room names can contain `#`, so they only ever end a key. */
  activeRoomsPk: 'ROOMS#ACTIVE',
  openEgressesPk: 'EGRESSES#OPEN',
  activeIngressesPk: 'INGRESSES#ACTIVE',
  roomParticipantsPk: (roomSid: string) => `ROOM#${roomSid}#PARTICIPANTS`,
  participantTracksPk: (participantSid: string) => `PARTICIPANT#${participantSid}#TRACKS`,
  /** `gsi2pk`: one identity in one room name (room names are reused; sids are not). */
  identityPk: (roomName: string, identity: string) => `IDENTITY#${JSON.stringify([roomName, identity])}`,

  /**
   * The reconciler's own bookkeeping (lambda/reconcile/), every key under `RECONCILE#` so its IAM
   * policy can allow writes to these items only (`dynamodb:LeadingKeys`). All carry `expiresAt`.
   */
  reconcilePrefix: 'RECONCILE#',
  /**
   * The verification log: one item per run that fully verified rooms, a few chunks when large
   * (lambda/reconcile/bookkeeping.ts). Sort key: the write time in ms, zero-padded to 15 digits so
   * text order is time order, then the run's random id (overlapping runs never share a key) and
   * the chunk number. Read by time window (`sk >= reconcileVerifiedSince(ms)`).
   */
  reconcileVerifiedPk: 'RECONCILE#VERIFIED',
  reconcileVerified: (writtenAtMs: number, runId: string, chunk: number) => ({
    pk: 'RECONCILE#VERIFIED',
    sk: `${logTime(writtenAtMs)}#${runId}#${String(chunk).padStart(3, '0')}`,
  }),
  /** The lowest sort key of the log items written at or after `ms`. */
  reconcileVerifiedSince: (ms: number) => logTime(ms),
  /** One item per difference seen but not yet resolved (sort key: the repair event id it would get). */
  reconcilePendingPk: 'RECONCILE#PENDING',
  reconcilePending: (repairId: string) => ({ pk: 'RECONCILE#PENDING', sk: repairId }),
} as const;

/**
 * A webhook that reached ingest at least this long after its `createdAt` counts as late: two thirds
 * of LiveKit's default MaxAge (30 s; livekit/protocol webhook/resource_url_notifier.go), the age at
 * which the events queued behind it in its room's queue start being dropped.
 */
export const LATE_ARRIVAL_MS = 20_000;

/**
 * Lateness beyond this is not a congested room queue: LiveKit drops what waited MaxAge (30 s by
 * default, raised by few operators) and retries for about 15 s more (go-retryablehttp backoff
 * 1+2+4+8 s). An event hours older than its arrival is a replay, a redrive of a stored message
 * with a fresh receipt time, or a clock problem, and says nothing about its room's recent events.
 */
export const LATE_ARRIVAL_MAX_MS = 10 * 60_000;

/** How long a late-arrival evidence item is kept (seconds): long enough for the next runs to see it. */
export const LATE_ARRIVAL_TTL_SECONDS = 24 * 3600;
