/**
 * The grace period and the repairs, after the diffs of a run:
 * - a pending difference whose scope was checked this run and that was not seen again is resolved
 *   (the event was in flight, or our repair has been applied), and forgotten;
 * - a difference is due once it was seen in at least two checks spanning more than the grace
 *   period (graceMs 0: at once); the others are recorded and wait;
 * - a due difference is claimed (a conditional write: two overlapping runs send and count it once),
 *   its repair built and enqueued; a failed enqueue gives the claim back, so a later run sends it.
 * Repairs go out in LiveKit's order: starts first, then tracks unpublished, participants left, and
 * `room_finished` last (LiveKit sends every `participant_left` before `room_finished`).
 */
import type { Logger } from '../shared/logger';
import type { Bookkeeping, PendingDifference } from './bookkeeping';
import { Observation, pool } from './diff/context';
import type { Enqueue } from './enqueue';
import type { RunReport } from './report';
import type { MissedEventType } from './repairs';

/** Parallel DynamoDB/SQS writes of the bookkeeping and repair steps. */
const BOOKKEEPING_CONCURRENCY = 8;

/** Order in which due repairs are sent (lower first). */
export const REPAIR_ORDER: Readonly<Record<MissedEventType, number>> = {
  room_started: 0,
  participant_joined: 1,
  track_published: 2,
  egress_started: 2,
  egress_updated: 3,
  ingress_started: 2,
  egress_ended: 4,
  ingress_ended: 4,
  track_unpublished: 5,
  participant_left: 6,
  room_finished: 7,
};

export interface SettleOptions {
  readonly bookkeeping: Bookkeeping;
  readonly enqueue: Enqueue;
  readonly logger: Logger;
  readonly report: RunReport;
  readonly graceMs: number;
  readonly now: number;
  readonly fail: (what: string, error: unknown) => void;
}

/** Which pending differences are resolved, which wait, which are due (pure). */
export function classify(
  observed: ReadonlyMap<string, Observation>,
  pending: ReadonlyMap<string, PendingDifference>,
  checked: ReadonlySet<string>,
  graceMs: number,
  now: number,
): { resolved: PendingDifference[]; waiting: PendingDifference[]; due: { observation: Observation; difference: PendingDifference }[] } {
  // Checked again and gone: the event was in flight. A repaired difference is kept until its TTL
  // (a day after the repair): it is the record `npm run missed` lists.
  const resolved = [...pending.values()].filter(
    (difference) => !difference.repairedAt && !observed.has(difference.repairId) && checked.has(difference.scope),
  );
  const waiting: PendingDifference[] = [];
  const due: { observation: Observation; difference: PendingDifference }[] = [];
  for (const observation of observed.values()) {
    const previous = pending.get(observation.repairId);
    if (previous?.repairedAt) continue;
    const restart =
      !previous || (observation.roomSid !== undefined && previous.roomSid !== undefined && previous.roomSid !== observation.roomSid);
    const firstSeenAt = restart ? now : previous.firstSeenAt;
    const observations = restart ? 1 : previous.observations + 1;
    const { repairId, eventType, entityId, scope, roomSid, roomName } = observation;
    const difference: PendingDifference = {
      repairId,
      eventType,
      entityId,
      scope,
      ...(roomSid ? { roomSid } : {}),
      ...(roomName ? { roomName } : {}),
      firstSeenAt,
      lastSeenAt: now,
      observations,
    };
    if (graceMs === 0 || (observations >= 2 && now - firstSeenAt > graceMs)) due.push({ observation, difference });
    else waiting.push(difference);
  }
  due.sort((a, b) => REPAIR_ORDER[a.observation.eventType] - REPAIR_ORDER[b.observation.eventType]);
  return { resolved, waiting, due };
}

export async function settle(
  observed: ReadonlyMap<string, Observation>,
  pending: ReadonlyMap<string, PendingDifference>,
  checked: ReadonlySet<string>,
  options: SettleOptions,
): Promise<void> {
  const { bookkeeping, report, now, fail } = options;
  const { resolved, waiting, due } = classify(observed, pending, checked, options.graceMs, now);
  report.resolvedInFlight = resolved.filter((difference) => !difference.repairedAt).length;
  await pool(resolved, BOOKKEEPING_CONCURRENCY, async (difference) => {
    await bookkeeping.resolve(difference.repairId).catch((error) => fail('bookkeeping', error));
  });
  report.pendingDifferences = waiting.length;
  await pool(waiting, BOOKKEEPING_CONCURRENCY, async (difference) => {
    await bookkeeping.observe(difference, now).catch((error) => fail('bookkeeping', error));
  });
  // One phase per repair order, so a room's lefts are enqueued before its room_finished.
  const phases = new Map<number, typeof due>();
  for (const item of due)
    phases.set(REPAIR_ORDER[item.observation.eventType], [...(phases.get(REPAIR_ORDER[item.observation.eventType]) ?? []), item]);
  for (const phase of [...phases.keys()].sort((a, b) => a - b)) {
    await pool(phases.get(phase)!, BOOKKEEPING_CONCURRENCY, async ({ observation, difference }) => {
      try {
        const repair = await observation.build();
        if (!repair) {
          await bookkeeping.resolve(observation.repairId);
          return true;
        }
        if (!(await bookkeeping.claim(difference, now))) return true;
        try {
          await options.enqueue(repair);
        } catch (error) {
          await bookkeeping.unclaim(repair.id).catch(() => undefined);
          throw error;
        }
        report.missed[repair.eventType] = (report.missed[repair.eventType] ?? 0) + 1;
        report.missedTotal++;
        report.repairs.push({ id: repair.id, eventType: repair.eventType, entityId: repair.entityId });
        options.logger.warn('missed event repaired', {
          eventId: repair.id,
          eventType: repair.eventType,
          room: repair.roomName,
          entityId: repair.entityId,
          firstSeenAt: new Date(difference.firstSeenAt).toISOString(),
        });
      } catch (error) {
        fail(`repair ${observation.eventType} ${observation.entityId}`, error);
      }
      return true;
    });
  }
}
