/**
 * Egress status names, defined once for the processor, the reconciler and the simulator
 * (livekit/protocol protobufs/livekit_egress.proto `EgressStatus`; livekit/livekit
 * pkg/service/egress.go and livekit/egress send `egress_updated` for ACTIVE/ENDING and
 * `egress_ended` for the terminal ones). Plain strings, so the process function's bundle does not
 * need @livekit/protocol for them.
 */

/** Live statuses in the order an egress goes through them (STARTING → ACTIVE → ENDING). */
export const EGRESS_LIVE_RANK: Readonly<Record<string, number>> = Object.freeze({ EGRESS_STARTING: 1, EGRESS_ACTIVE: 2, EGRESS_ENDING: 3 });

/** Statuses after which nothing changes; `egress_ended` carries one of them. */
export const EGRESS_TERMINAL: ReadonlySet<string> = new Set(['EGRESS_COMPLETE', 'EGRESS_FAILED', 'EGRESS_ABORTED', 'EGRESS_LIMIT_REACHED']);
