/**
 * Ingress sessions (ingress id + `state.resourceId`, else `state.startedAt`, as the processor keys
 * them), from one `ListIngress` (every page) and a lookup by id for each ingress we hold as active
 * that the listing does not show (never read "absent from a listing" as "gone"):
 * - publishing remotely, no item locally → missed `ingress_started` with LiveKit's IngressInfo;
 * - active locally, not live remotely (inactive/complete/error, another session now, or the ingress
 *   deleted: `not_found` by id) → missed `ingress_ended`.
 * livekit-server (pkg/service/ioservice.go `UpdateIngressState`) sends `ingress_started` when the
 * status becomes PUBLISHING and `ingress_ended` when it becomes INACTIVE, COMPLETE or ERROR;
 * BUFFERING is only an update. So a session is live while BUFFERING or PUBLISHING.
 */
import { IngressInfo, IngressState, IngressState_Status } from '@livekit/protocol';
import { keys } from '../../../contracts/table-schema';
import { BudgetExhaustedError } from '../api-gate';
import { isNotFound } from '../livekit-api';
import { existingIngressSessions, getEntity, ingressSessionKey, LocalIngressSession } from '../local-state';
import { ingressEndedRepair, ingressFromStored, ingressSessionId, ingressStartedRepair, repairId } from '../repairs';
import { DiffContext, pool } from './context';
import { entityInfo } from '../../process/state-model';

const INGRESS_LIVE = new Set([IngressState_Status.ENDPOINT_BUFFERING, IngressState_Status.ENDPOINT_PUBLISHING]);

const isLive = (info: IngressInfo, sessionId: string): boolean =>
  ingressSessionId(info) === sessionId && INGRESS_LIVE.has(info.state?.status ?? IngressState_Status.ENDPOINT_INACTIVE);

export async function diffIngress(ctx: DiffContext, remoteIngress: readonly IngressInfo[]): Promise<void> {
  const { local } = ctx;
  const remoteById = new Map<string, IngressInfo>();
  const publishing: { ingressId: string; sessionId: string; info: IngressInfo }[] = [];
  for (const info of remoteIngress) {
    if (!info.ingressId) continue;
    remoteById.set(info.ingressId, info);
    const sessionId = ingressSessionId(info);
    if (sessionId !== undefined && info.state?.status === IngressState_Status.ENDPOINT_PUBLISHING)
      publishing.push({ ingressId: info.ingressId, sessionId, info });
  }
  const unknown = publishing.filter((session) => !local.ingressSessions.has(ingressSessionKey(session.ingressId, session.sessionId)));
  try {
    const existing = await existingIngressSessions(ctx.ddb, ctx.tableName, unknown);
    ctx.check('ingress');
    for (const { ingressId, sessionId, info } of unknown) {
      // An item at all (an ended session still listed as publishing: our end arrived first) is no missed start.
      if (existing.has(ingressSessionKey(ingressId, sessionId))) continue;
      ctx.observe({
        repairId: repairId('ingress_started', ingressId, sessionId),
        eventType: 'ingress_started',
        entityId: ingressSessionKey(ingressId, sessionId),
        scope: 'ingress',
        roomName: info.roomName,
        build: async () => ingressStartedRepair(info, ctx.nowSeconds()),
      });
    }
  } catch (error) {
    ctx.fail('read ingress items', error);
  }

  // Local sessions whose ingress the listing does not show: one lookup by id each, within the budget.
  const absent = [...new Set([...local.ingressSessions.values()].filter((s) => !remoteById.has(s.ingressId)).map((s) => s.ingressId))];
  const deleted = new Set<string>();
  await pool(absent, ctx.concurrency, async (ingressId) => {
    if (!ctx.gate.canStart()) return false;
    try {
      const [info] = await ctx.gate.call('ListIngress', () => ctx.livekit.listIngress({ ingressId }));
      if (info) remoteById.set(ingressId, info);
      else deleted.add(ingressId);
    } catch (error) {
      if (error instanceof BudgetExhaustedError) return false;
      if (isNotFound(error)) deleted.add(ingressId);
      else ctx.fail(`ListIngress(${ingressId})`, error);
    }
    return true;
  });

  for (const session of local.ingressSessions.values()) {
    const remote = remoteById.get(session.ingressId);
    if (!remote && !deleted.has(session.ingressId)) continue; // not compared this run
    const key = ingressSessionKey(session.ingressId, session.sessionId);
    ctx.check(`ingress#${key}`);
    if (remote && isLive(remote, session.sessionId)) continue;
    // LiveKit's own end state, when it still lists this very session (not live).
    const remoteEnd: IngressState | undefined = remote && ingressSessionId(remote) === session.sessionId ? remote.state : undefined;
    observeEnded(ctx, session, key, remoteEnd);
  }
  ctx.report.ingressSessionsChecked = new Set([
    ...publishing.map((p) => ingressSessionKey(p.ingressId, p.sessionId)),
    ...local.ingressSessions.keys(),
  ]).size;
}

function observeEnded(ctx: DiffContext, session: LocalIngressSession, key: string, remoteEnd: IngressState | undefined): void {
  ctx.observe({
    repairId: repairId('ingress_ended', session.ingressId, session.sessionId),
    eventType: 'ingress_ended',
    entityId: key,
    scope: `ingress#${key}`,
    roomName: session.roomName,
    build: async () => {
      const item = await getEntity(ctx.ddb, ctx.tableName, keys.ingress(session.ingressId, session.sessionId));
      if (!item || item.terminal) return undefined;
      const stored = ingressFromStored(entityInfo(item), session.ingressId);
      if (ingressSessionId(stored) !== session.sessionId) {
        // The repair would land on another session item: never guess.
        ctx.logger.warn('stored ingress session does not name its own session; its end cannot be repaired', {
          ingressId: session.ingressId,
          sessionId: session.sessionId,
        });
        return undefined;
      }
      return ingressEndedRepair(stored, session.sessionId, ctx.nowMs(), remoteEnd);
    },
  });
}
