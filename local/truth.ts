import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { QueryTarget } from '../lambda/process/queries';
import { listActiveRooms, listRoomParticipants } from '../lambda/process/queries';
import { entityInfo } from '../lambda/process/state-model';
import { keys } from '../contracts/table-schema';
import type { LiveKitSimulator } from '../simulator/livekit-simulator';
import type { NaiveReceiver } from '../simulator/naive-receiver';

/**
 * One comparable picture of "what is live now", built from the simulator's truth, from our state
 * table, or from the naive receiver's memory, so the demo and the end-to-end tests can say exactly
 * where a receiver's belief differs from LiveKit's.
 */
export interface StateSnapshot {
  /** `<room name>` of every active room. */
  readonly rooms: readonly string[];
  /** `<room name>/<identity>` of every participant present. */
  readonly participants: readonly string[];
  /** `<egress id>=<status>` for every egress the truth knows (terminal ones included). */
  readonly egress: readonly string[];
}

const sorted = (values: Iterable<string>) => [...values].sort();

export function truthSnapshot(sim: LiveKitSimulator): StateSnapshot {
  const rooms = sim.rooms().map((room) => room.name);
  return {
    rooms: sorted(rooms),
    participants: sorted(rooms.flatMap((room) => sim.participants(room).map((p) => `${room}/${p.identity}`))),
    egress: sorted(sim.egress().map((e) => `${e.egressId}=${egressStatusName(e.status)}`)),
  };
}

/**
 * Our state, through the documented access patterns (active rooms, participants of a room) plus a
 * read of each egress the truth knows, since terminal egress leave the open-egress index.
 */
export async function pipelineSnapshot(target: QueryTarget, egressIds: readonly string[]): Promise<StateSnapshot> {
  const rooms = await listActiveRooms(target);
  const participants: string[] = [];
  for (const room of rooms) {
    const roomName = String(room.roomName ?? entityInfo(room).name);
    for (const participant of await listRoomParticipants(target, room.entityId)) {
      participants.push(`${roomName}/${String(participant.identity)}`);
    }
  }
  const egress: string[] = [];
  for (const egressId of egressIds) {
    const { Item } = await target.ddb.send(
      new GetCommand({ TableName: target.tableName, Key: keys.egress(egressId), ConsistentRead: true }),
    );
    egress.push(`${egressId}=${Item ? String(Item.status) : 'unknown'}`);
  }
  return {
    rooms: sorted(rooms.map((room) => String(room.roomName ?? entityInfo(room).name))),
    participants: sorted(participants),
    egress: sorted(egress),
  };
}

export function naiveSnapshot(naive: NaiveReceiver, egressIds: readonly string[]): StateSnapshot {
  const state = naive.state();
  return {
    rooms: sorted(state.rooms.keys()),
    participants: sorted(
      [...state.participants].flatMap(([room, present]) => [...present.keys()].map((identity) => `${room}/${identity}`)),
    ),
    egress: sorted(egressIds.map((id) => `${id}=${state.egress.get(id) ?? 'unknown'}`)),
  };
}

export interface SnapshotDiff {
  /** In the truth, not in the receiver's state. */
  readonly missing: readonly string[];
  /** In the receiver's state, not in the truth. */
  readonly extra: readonly string[];
}

/** Where `actual` differs from `truth`, prefixed by kind (`room:`, `participant:`, `egress:`). */
export function diffSnapshots(truth: StateSnapshot, actual: StateSnapshot): SnapshotDiff {
  const flatten = (s: StateSnapshot) =>
    new Set([...s.rooms.map((r) => `room:${r}`), ...s.participants.map((p) => `participant:${p}`), ...s.egress.map((e) => `egress:${e}`)]);
  const want = flatten(truth);
  const got = flatten(actual);
  return { missing: [...want].filter((x) => !got.has(x)), extra: [...got].filter((x) => !want.has(x)) };
}

/** LiveKit's egress status names, indexed by the protobuf enum value. */
const EGRESS_STATUS = [
  'EGRESS_STARTING',
  'EGRESS_ACTIVE',
  'EGRESS_ENDING',
  'EGRESS_COMPLETE',
  'EGRESS_FAILED',
  'EGRESS_ABORTED',
  'EGRESS_LIMIT_REACHED',
];

function egressStatusName(status: unknown): string {
  return typeof status === 'number' ? (EGRESS_STATUS[status] ?? String(status)) : String(status);
}

/** Event ids the simulator delivered to `url` with a 2xx (not counting 4xx, which LiveKit also stops on). */
export function deliveredTo(sim: LiveKitSimulator, url: string): string[] {
  return sim
    .deliveries()
    .filter((d) => d.url === url && d.outcome === 'delivered' && d.status !== undefined && d.status < 300)
    .map((d) => d.eventId);
}

/** Resolves when every one of `eventIds` has been processed and its changes published (the local pipeline's view). */
export async function waitUntilApplied(
  pipeline: { waitUntilProcessed(eventIds: readonly string[], timeoutMs?: number): Promise<void> },
  eventIds: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  await pipeline.waitUntilProcessed(eventIds, timeoutMs);
}
