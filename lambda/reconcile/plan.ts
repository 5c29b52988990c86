/**
 * Which rooms get a `ListParticipants` this run, in order, from one `ListRooms` and local state.
 * Pure, so the budget rules are tested on their own (test/reconcile/plan.test.ts).
 *
 * First, rooms with a reason to suspect a difference:
 *   - `count`: LiveKit's `numParticipants` differs from our count of present participants;
 *   - `changed`: our state of the room changed since its last verification (a webhook for the
 *     room arrived: the others of the same room's queue may have been dropped; report 1);
 *   - `pending`: a participant difference is waiting to be seen again (grace period);
 *   - `new`: LiveKit has the room and we do not (its participants are unknown too).
 * Then the other rooms that are due a full check (never verified, or last verified more than
 * `fullCheckMs` ago), round-robin: least recently verified first, because equal counts can hide a
 * missed join plus a missed leave. A room verified more recently, with nothing suspect, is not
 * checked: in a quiet steady state a run costs its three listings and nothing per room. Within
 * each group the least recently verified come first, so rooms the budget did not reach this run
 * lead the next.
 */
export type CheckReason = 'count' | 'changed' | 'pending' | 'new' | 'round-robin';

export interface RoomCandidate {
  readonly sid: string;
  readonly name: string;
  readonly remoteCount: number;
  readonly localCount: number;
  readonly knownLocally: boolean;
  /** 0 when never verified. */
  readonly lastVerifiedAt: number;
  /** Local fingerprint differs from the one recorded at the last verification (false if never verified). */
  readonly changedSinceVerified: boolean;
  readonly hasPending: boolean;
}

export interface PlannedCheck {
  readonly room: RoomCandidate;
  readonly reason: CheckReason;
}

export function reasonFor(room: RoomCandidate): CheckReason {
  if (room.hasPending) return 'pending';
  if (!room.knownLocally) return room.remoteCount > 0 ? 'new' : 'round-robin';
  if (room.remoteCount !== room.localCount) return 'count';
  if (room.changedSinceVerified) return 'changed';
  return 'round-robin';
}

const byAge = (a: PlannedCheck, b: PlannedCheck) => a.room.lastVerifiedAt - b.room.lastVerifiedAt || (a.room.sid < b.room.sid ? -1 : a.room.sid > b.room.sid ? 1 : 0);

export interface PlanOptions {
  readonly now: number;
  /** A room with nothing suspect is checked again once its last verification is this old. */
  readonly fullCheckMs: number;
}

/** The checks due, in the order they should be made; the caller stops when its budget is spent. */
export function planRoomChecks(candidates: readonly RoomCandidate[], { now, fullCheckMs }: PlanOptions): PlannedCheck[] {
  const checks = candidates.map((room) => ({ room, reason: reasonFor(room) }));
  const suspect = checks.filter((check) => check.reason !== 'round-robin').sort(byAge);
  const due = checks.filter((check) => check.reason === 'round-robin' && (check.room.lastVerifiedAt === 0 || check.room.lastVerifiedAt <= now - fullCheckMs)).sort(byAge);
  return [...suspect, ...due];
}
