/**
 * Typed reads of the pipeline's state table: one method per access pattern of docs/state-model.md
 * ("Access patterns"), each one Query (paginated to the end) run by the same helpers the reconciler
 * and the on-call tools use (lambda/process/queries.ts). Entities come back as the change feed
 * shows them (`EntityState`: no table keys, `info` parsed). The table's indexes are eventually
 * consistent: a change is visible here within about a second of its write.
 *
 * The caller needs read access to the table and its indexes (`dynamodb:Query`).
 */
import type { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../lambda/process/document-client';
import {
  listActiveRooms,
  listIdentitySessions,
  listOpenEgresses,
  listPublishedTracks,
  listRoomParticipants,
  QueryTarget,
} from '../lambda/process/queries';
import { EntityItem, view } from '../lambda/process/state-model';
import type { EgressState, EntityState, ParticipantState, RoomState, TrackState } from './change-event';

export interface LiveKitStateClientOptions {
  /** The state table's name (the construct's `table.tableName`; `npm run local` prints it in its ready line). */
  readonly tableName: string;
  /** A DynamoDB client, or its configuration (region, endpoint, credentials). Default: the SDK's defaults. */
  readonly client?: DynamoDBClient | DynamoDBClientConfig;
}

/** A room, by sid or by name. A name may have more than one live instance for a moment (a room closed and reopened). */
export type RoomSelector = { readonly sid: string } | { readonly name: string };

export class LiveKitStateClient {
  private readonly target: QueryTarget;

  constructor(options: LiveKitStateClientOptions) {
    if (typeof options?.tableName !== 'string' || options.tableName === '')
      throw new TypeError('LiveKitStateClient needs the state table name (tableName)');
    const ddb: DynamoDBDocumentClient = createDocumentClient(options.client ?? {});
    this.target = { ddb, tableName: options.tableName };
  }

  /** Rooms that are not finished; with `name`, the live instance(s) of that room name (room name to room sid). */
  async activeRooms(name?: string): Promise<RoomState[]> {
    return states<RoomState>(await listActiveRooms(this.target, name));
  }

  /** Participants present in a room (joined, not left), by room sid or name. One session per participant sid: a rejoin shows as its new sid. */
  async participantsIn(room: RoomSelector): Promise<ParticipantState[]> {
    const sids = 'sid' in room ? [room.sid] : (await listActiveRooms(this.target, room.name)).map((item) => item.entityId);
    const perRoom = await Promise.all(sids.map((sid) => listRoomParticipants(this.target, sid)));
    return states<ParticipantState>(perRoom.flat());
  }

  /** Every session (present and ended) of `identity` in rooms named `roomName`, oldest join first. */
  async sessionsOf(roomName: string, identity: string): Promise<ParticipantState[]> {
    return states<ParticipantState>(await listIdentitySessions(this.target, roomName, identity));
  }

  /** Egresses not yet terminal (starting, active, ending); with `roomName`, of rooms of that name. */
  async openEgresses(roomName?: string): Promise<EgressState[]> {
    return states<EgressState>(await listOpenEgresses(this.target, roomName));
  }

  /** Tracks a participant (by sid) has published and not unpublished. */
  async publishedTracks(participantSid: string): Promise<TrackState[]> {
    return states<TrackState>(await listPublishedTracks(this.target, participantSid));
  }
}

/** Items as the change feed shows entities (`view`: the table's keys and revision left out, `info` parsed). */
function states<T extends EntityState>(items: readonly EntityItem[]): T[] {
  return items.map((item) => view(item) as T);
}
