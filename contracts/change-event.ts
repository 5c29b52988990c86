/**
 * How state changes look on the EventBridge bus. Kept free of SDK imports so the CDK app (rules,
 * the archive's pattern) and consumers can import it cheaply.
 */

/**
 * The version of the change event, a public interface (docs/state-model.md, "The change feed"):
 * `source`, the `detail-type`s and the detail's fields. Adding a detail type or a detail field is
 * compatible and keeps it; renaming or removing one, or changing a field's meaning, is a breaking
 * change that raises it (and the package's major version).
 */
export const CHANGE_EVENT_VERSION = 1;

/** `source` of every change event the publisher puts on the bus. */
export const CHANGE_EVENT_SOURCE = 'livekit.webhooks';

/** Every `detail-type` the publisher puts on the bus. */
export const CHANGE_DETAIL_TYPES = [
  'room.started',
  'room.finished',
  'participant.joined',
  'participant.left',
  'participant.connection_aborted',
  'track.published',
  'track.unpublished',
  'egress.started',
  'egress.updated',
  'egress.ended',
  'ingress.started',
  'ingress.ended',
  // A later terminal event won with other content: the entity's final state (docs/state-model.md).
  'room.corrected',
  'participant.corrected',
  'track.corrected',
  'egress.corrected',
  'ingress.corrected',
  // An auto-egress that failed to start (no egress id), under its room.
  'egress.start_failed',
] as const;

/** A change's `detail-type`. */
export type ChangeDetailType = (typeof CHANGE_DETAIL_TYPES)[number];
