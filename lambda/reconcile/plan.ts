/**
 * Which rooms get a `ListParticipants` this run, in order, from one `ListRooms`, local state and the
 * evidence we already have for free. Pure, so the rules are tested on their own
 * (test/unit/reconcile/plan.test.ts). The run spends its whole request budget down this list.
 *
 * First, rooms with evidence of a difference, strongest first:
 *   - `pending`: a participant or track difference is waiting to be seen again (grace period);
 *   - `new`: LiveKit has the room (with participants) and we do not;
 *   - `count`: LiveKit's `numParticipants` differs from our count of present participants that
 *     LiveKit counts (AGENT and EGRESS participants left out, livekit/livekit pkg/rtc/room.go
 *     `updateProto`), so agent and recorded rooms are not suspect for what they are;
 *   - `late`: a webhook of the room reached us long after LiveKit created it (close to LiveKit's
 *     MaxAge, 30 s by default): events behind it in the room's serial queue were likely dropped
 *     (report 1), and we have not verified the room since it arrived;
 *   - `unknown-reference`: local state names an entity of this room we never saw (a track of a
 *     participant we do not hold as present): its event was dropped;
 *   - `changed`: our state of the room changed since its last verification (a webhook arrived).
 * Then every other room, round-robin, least recently verified first: equal counts hide a leave and
 * a rejoin (a new sid) both dropped, a pattern users report on quick reconnects
 * (livekit/livekit#2399), so no room goes unverified for longer than the budget takes to go round.
 * Within each group the least recently verified come first, so rooms the budget did not reach this
 * run lead the next.
 */
export type CheckReason = 'pending' | 'new' | 'count' | 'late' | 'unknown-reference' | 'changed' | 'round-robin';

/** Strongest evidence first. */
const REASON_ORDER: readonly CheckReason[] = ['pending', 'new', 'count', 'late', 'unknown-reference', 'changed', 'round-robin'];

export interface RoomCandidate {
  readonly sid: string;
  readonly name: string;
  readonly remoteCount: number;
  /** Present participants we hold that LiveKit's `numParticipants` counts (no AGENT, no EGRESS). */
  readonly localCount: number;
  readonly knownLocally: boolean;
  /** 0 when never verified. */
  readonly lastVerifiedAt: number;
  /** Local fingerprint differs from the one recorded at the last verification (false if never verified). */
  readonly changedSinceVerified: boolean;
  readonly hasPending: boolean;
  /** A webhook of the room arrived late (see `late`), after the room's last verification. */
  readonly lateArrival?: boolean;
  /** Local state references an entity of this room we never saw. */
  readonly unknownReference?: boolean;
}

export interface PlannedCheck {
  readonly room: RoomCandidate;
  readonly reason: CheckReason;
}

export function reasonFor(room: RoomCandidate): CheckReason {
  if (room.hasPending) return 'pending';
  if (!room.knownLocally) return room.remoteCount > 0 ? 'new' : 'round-robin';
  if (room.remoteCount !== room.localCount) return 'count';
  if (room.lateArrival) return 'late';
  if (room.unknownReference) return 'unknown-reference';
  if (room.changedSinceVerified) return 'changed';
  return 'round-robin';
}

/** FNV-1a, 32 bits: a cheap, well-spread hash for a tie-break (not security). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * Every room, in the order it should be checked; the caller stops when its budget is spent.
 *
 * Rooms equally old (above all the never-verified ones, `lastVerifiedAt` 0, which include rooms
 * last verified before the bookkeeping's window) are ordered by a hash of their sid and `tieSalt`,
 * a value of the run: each run draws another order. A fixed order (by sid) would starve a project
 * whose round outlasts the window: rooms verified longest ago fall back to 0 and, their sids low,
 * would go ahead of the same high-sid rooms run after run. Without a salt, by sid.
 */
export function planRoomChecks(candidates: readonly RoomCandidate[], tieSalt?: string): PlannedCheck[] {
  const tieKey =
    tieSalt === undefined ? undefined : new Map(candidates.map((room) => [room.sid, fnv1a(`${tieSalt}#${room.sid}`)] as const));
  const bySid = (a: PlannedCheck, b: PlannedCheck) => (a.room.sid < b.room.sid ? -1 : a.room.sid > b.room.sid ? 1 : 0);
  const tie = (a: PlannedCheck, b: PlannedCheck) =>
    tieKey ? tieKey.get(a.room.sid)! - tieKey.get(b.room.sid)! || bySid(a, b) : bySid(a, b);
  const byAge = (a: PlannedCheck, b: PlannedCheck) => a.room.lastVerifiedAt - b.room.lastVerifiedAt || tie(a, b);
  const byEvidence = (a: PlannedCheck, b: PlannedCheck) => REASON_ORDER.indexOf(a.reason) - REASON_ORDER.indexOf(b.reason) || byAge(a, b);
  return candidates.map((room) => ({ room, reason: reasonFor(room) })).sort(byEvidence);
}
