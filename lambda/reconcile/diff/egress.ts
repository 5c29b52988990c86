/**
 * Egress, from one `ListEgress({ active: true })` (every page) and a lookup by id for each egress we
 * hold as open that it does not list (never read "absent from a listing" as "gone"):
 * - active remotely, no item locally → missed `egress_started`;
 * - further along remotely (STARTING → ACTIVE → ENDING) → missed `egress_updated`;
 * - open locally, terminal remotely → missed `egress_ended` with LiveKit's EgressInfo (report 2:
 *   room deleted under a Room Composite egress);
 * - open locally, unknown to LiveKit (its records expire after ~24 h) → reported, never invented.
 */
import type { EgressInfo } from '@livekit/protocol';
import { BudgetExhaustedError } from '../api-gate';
import { EGRESS_LIVE_RANK, EGRESS_TERMINAL, egressStatusName } from '../egress-status';
import { isNotFound } from '../livekit-api';
import { existingEgressIds } from '../local-state';
import { egressRepair, repairId } from '../repairs';
import { DiffContext, pool } from './context';

/**
 * Observes a missed egress event; LiveKit's EgressInfo is the whole repair. `phase` (the status an
 * `egress_updated` reached) is part of the repair id, so each step forward is its own repair.
 */
function observeEgress(
  ctx: DiffContext,
  eventType: 'egress_started' | 'egress_updated' | 'egress_ended',
  info: EgressInfo,
  phase?: string,
): void {
  ctx.observe({
    repairId: repairId(eventType, info.egressId, phase),
    eventType,
    entityId: info.egressId,
    scope: `egress#${info.egressId}`,
    roomSid: info.roomId || undefined,
    roomName: info.roomName,
    build: async () => egressRepair(eventType, info, ctx.nowSeconds(), phase),
  });
}

export async function diffEgress(ctx: DiffContext, activeEgress: readonly EgressInfo[]): Promise<void> {
  const { local, report } = ctx;
  const activeById = new Map(activeEgress.map((info) => [info.egressId, info]));
  const unknown = [...activeById.keys()].filter((id) => !local.egresses.has(id));
  try {
    const existing = await existingEgressIds(ctx.ddb, ctx.tableName, unknown);
    for (const id of unknown) {
      ctx.check(`egress#${id}`);
      report.egressesChecked++;
      if (existing.has(id)) continue;
      observeEgress(ctx, 'egress_started', activeById.get(id)!);
    }
  } catch (error) {
    ctx.fail('read egress items', error);
  }
  const missing: string[] = [];
  for (const egress of local.egresses.values()) {
    const remote = activeById.get(egress.egressId);
    if (!remote) {
      missing.push(egress.egressId);
      continue;
    }
    ctx.check(`egress#${egress.egressId}`);
    report.egressesChecked++;
    const status = egressStatusName(remote);
    if ((EGRESS_LIVE_RANK[status] ?? 0) > (EGRESS_LIVE_RANK[egress.status] ?? 0)) {
      observeEgress(ctx, 'egress_updated', remote, status);
    }
  }
  await pool(missing, ctx.concurrency, async (egressId) => {
    if (!ctx.gate.canStart()) return false;
    try {
      const [info] = await ctx.gate.call('ListEgress', () => ctx.livekit.listEgress({ egressId }));
      if (!info) throw new Error(`ListEgress(${egressId}) answered no item`);
      ctx.check(`egress#${egressId}`);
      report.egressesChecked++;
      if (!EGRESS_TERMINAL.has(egressStatusName(info))) return true;
      observeEgress(ctx, 'egress_ended', info);
    } catch (error) {
      if (error instanceof BudgetExhaustedError) return false;
      if (isNotFound(error)) {
        // LiveKit keeps ended egress records ~24 h; without one we cannot know the status, and never invent one.
        report.unknownEgresses.push(egressId);
        ctx.logger.warn('open egress unknown to LiveKit; its end cannot be repaired', { egressId });
        return true;
      }
      ctx.fail(`ListEgress(${egressId})`, error);
    }
    return true;
  });
}
