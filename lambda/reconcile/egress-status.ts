/**
 * Egress statuses, defined once for the reconciler and the simulator (livekit/protocol
 * protobufs/livekit_egress.proto `EgressStatus`; livekit/livekit pkg/service/egress.go and
 * livekit/egress send `egress_updated` for ACTIVE/ENDING and `egress_ended` for the terminal ones).
 */
import { EgressInfo, EgressStatus } from '@livekit/protocol';

/** Live statuses in the order an egress goes through them (STARTING → ACTIVE → ENDING). */
export const EGRESS_LIVE_RANK: Readonly<Record<string, number>> = Object.freeze({ EGRESS_STARTING: 1, EGRESS_ACTIVE: 2, EGRESS_ENDING: 3 });

/** Statuses after which nothing changes; `egress_ended` carries one of them. */
export const EGRESS_TERMINAL: ReadonlySet<string> = new Set(['EGRESS_COMPLETE', 'EGRESS_FAILED', 'EGRESS_ABORTED', 'EGRESS_LIMIT_REACHED']);

/** The live statuses as enum values (what `ListEgress({ active: true })` returns). */
export const EGRESS_LIVE_STATUSES: ReadonlySet<EgressStatus> = new Set([EgressStatus.EGRESS_STARTING, EgressStatus.EGRESS_ACTIVE, EgressStatus.EGRESS_ENDING]);

/** The status name of an EgressInfo (`EGRESS_ACTIVE`), or the number for one this library does not know. */
export const egressStatusName = (info: EgressInfo): string => EgressStatus[info.status] ?? String(info.status);
