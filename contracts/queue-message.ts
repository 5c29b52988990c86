/**
 * The contract between whoever enqueues an event (the ingest Lambda, the reconciler) and the
 * processor. The message body is the webhook event's JSON exactly as LiveKit sent it (ingest) or as
 * the reconciler synthesized it; these attributes carry what routing and logging need without
 * parsing the body again.
 */
export const MESSAGE_ATTRIBUTE = {
  eventId: 'eventId',
  eventType: 'eventType',
  roomName: 'roomName',
  /** `webhook` (LiveKit delivered it) or `reconciler` (synthesized from LiveKit's server API). */
  source: 'source',
  /** Milliseconds since the epoch when ingest (or the reconciler) accepted the event. */
  receivedAt: 'receivedAt',
} as const;

export type EventSource = 'webhook' | 'reconciler';
