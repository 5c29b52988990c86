/**
 * Egress statuses as @livekit/protocol's enum, for the reconciler and the simulator (the names, and
 * which are live or terminal, are in lambda/shared/egress-status.ts).
 */
import { EgressInfo, EgressStatus } from '@livekit/protocol';
export { EGRESS_LIVE_RANK, EGRESS_TERMINAL } from '../shared/egress-status';

/** The live statuses as enum values (what `ListEgress({ active: true })` returns). */
export const EGRESS_LIVE_STATUSES: ReadonlySet<EgressStatus> = new Set([
  EgressStatus.EGRESS_STARTING,
  EgressStatus.EGRESS_ACTIVE,
  EgressStatus.EGRESS_ENDING,
]);

/** The status name of an EgressInfo (`EGRESS_ACTIVE`), or the number for one this library does not know. */
export const egressStatusName = (info: EgressInfo): string => EgressStatus[info.status] ?? String(info.status);
