/**
 * How state changes look on the EventBridge bus. Kept free of SDK imports so the CDK app (rules,
 * the archive's pattern) and consumers can import it cheaply.
 */

/** `source` of every change event the processor puts on the bus. */
export const CHANGE_EVENT_SOURCE = 'livekit.webhooks';

/** Every `detail-type` the processor publishes. */
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
] as const;
