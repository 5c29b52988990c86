/**
 * Webhook event bodies shaped as LiveKit's protojson sends them (int64 as strings, enums as names),
 * and the SQS record Lambda's event source wraps one in: the events the tests, the bench and the
 * demo feed the pipeline by hand (the simulator makes its own from its model).
 */
import type { SQSRecord } from 'aws-lambda';
import { randomUUID } from 'crypto';
import type { WebhookEvent } from '../lambda/process/webhook-event';

export interface RoomRef {
  sid: string;
  name: string;
}
export interface ParticipantRef {
  sid: string;
  identity: string;
}

let counter = 0;
export const eventId = () => `EV_${(++counter).toString(36)}${randomUUID().slice(0, 8)}`;

export const roomStarted = (room: RoomRef, createdAt: number, id = eventId()): WebhookEvent => ({
  id,
  event: 'room_started',
  createdAt: String(createdAt),
  room: { sid: room.sid, name: room.name, creationTime: String(createdAt), emptyTimeout: 300 },
});

export const roomFinished = (room: RoomRef, createdAt: number, id = eventId()): WebhookEvent => ({
  id,
  event: 'room_finished',
  createdAt: String(createdAt),
  room: { sid: room.sid, name: room.name, creationTime: String(createdAt - 60) },
});

export const participantJoined = (room: RoomRef, p: ParticipantRef, createdAt: number, version = 2, id = eventId()): WebhookEvent => ({
  id,
  event: 'participant_joined',
  createdAt: String(createdAt),
  room: { sid: room.sid, name: room.name },
  participant: {
    sid: p.sid,
    identity: p.identity,
    state: 'ACTIVE',
    joinedAt: String(createdAt),
    joinedAtMs: String(createdAt * 1000),
    version,
  },
});

export const participantLeft = (
  room: RoomRef,
  p: ParticipantRef,
  createdAt: number,
  version = 5,
  id = eventId(),
  joinedAt = createdAt - 30,
): WebhookEvent => ({
  id,
  event: 'participant_left',
  createdAt: String(createdAt),
  room: { sid: room.sid, name: room.name },
  participant: {
    sid: p.sid,
    identity: p.identity,
    state: 'DISCONNECTED',
    joinedAt: String(joinedAt),
    joinedAtMs: String(joinedAt * 1000),
    version,
  },
});

/** A track event; `unixMicro` is the track's version (an unpublish is newer than the publish of the same second). */
const trackEvent = (
  type: 'track_published' | 'track_unpublished',
  room: RoomRef,
  p: ParticipantRef,
  trackSid: string,
  createdAt: number,
  unixMicro: number,
  id: string,
): WebhookEvent => ({
  id,
  event: type,
  createdAt: String(createdAt),
  room: { sid: room.sid, name: room.name },
  participant: { sid: p.sid, identity: p.identity },
  track: { sid: trackSid, type: 'AUDIO', source: 'MICROPHONE', version: { unixMicro: String(unixMicro) } },
});

export const trackPublished = (room: RoomRef, p: ParticipantRef, trackSid: string, createdAt: number, id = eventId()): WebhookEvent =>
  trackEvent('track_published', room, p, trackSid, createdAt, createdAt * 1_000_000, id);

export const trackUnpublished = (room: RoomRef, p: ParticipantRef, trackSid: string, createdAt: number, id = eventId()): WebhookEvent =>
  trackEvent('track_unpublished', room, p, trackSid, createdAt, createdAt * 1_000_000 + 7, id);

const ns = (seconds: number) => (BigInt(seconds) * 1_000_000_000n).toString();

export const egressEvent = (
  type: 'egress_started' | 'egress_updated' | 'egress_ended',
  room: RoomRef,
  egressId: string,
  status: string,
  createdAt: number,
  id = eventId(),
): WebhookEvent => ({
  id,
  event: type,
  createdAt: String(createdAt),
  room: { sid: room.sid, name: room.name },
  egressInfo: {
    egressId,
    roomId: room.sid,
    roomName: room.name,
    status,
    startedAt: ns(createdAt - 1),
    updatedAt: ns(createdAt),
    ...(type === 'egress_ended' ? { endedAt: ns(createdAt) } : {}),
  },
});

export const ingressEvent = (
  type: 'ingress_started' | 'ingress_ended',
  roomName: string,
  ingressId: string,
  resourceId: string,
  createdAt: number,
  id = eventId(),
): WebhookEvent => ({
  id,
  event: type,
  createdAt: String(createdAt),
  ingressInfo: {
    ingressId,
    roomName,
    state: {
      status: type === 'ingress_started' ? 'ENDPOINT_PUBLISHING' : 'ENDPOINT_INACTIVE',
      resourceId,
      startedAt: ns(createdAt - 1),
      updatedAt: ns(createdAt),
    },
  },
});

/** An SQS record as Lambda's event source delivers it, for a body and the ingest message attributes. */
export function sqsRecord(
  body: string | WebhookEvent,
  options: {
    source?: 'webhook' | 'reconciler';
    messageId?: string;
    receiveCount?: number;
    /** `receivedAt` (ms): when ingest accepted the event. Default now. */
    receivedAt?: number;
    /** SQS `SentTimestamp` (ms): when the message entered the queue (a redrive resets it). Default `receivedAt`. */
    sentAt?: number;
  } = {},
): SQSRecord {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const receivedAt = options.receivedAt ?? Date.now();
  const sentAt = options.sentAt ?? receivedAt;
  const parsed = typeof body === 'string' ? undefined : body;
  const attr = (value: string) => ({ stringValue: value, stringListValues: [], binaryListValues: [], dataType: 'String' });
  return {
    messageId: options.messageId ?? randomUUID(),
    receiptHandle: `rh-${randomUUID()}`,
    body: text,
    attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      SentTimestamp: String(sentAt),
      SenderId: 'AROAEXAMPLE:ingest',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: parsed
      ? {
          eventId: attr(parsed.id),
          eventType: attr(parsed.event),
          ...(parsed.room?.name ? { roomName: attr(parsed.room.name) } : {}),
          source: attr(options.source ?? 'webhook'),
          receivedAt: { ...attr(String(receivedAt)), dataType: 'Number' },
        }
      : {},
    md5OfBody: 'not-checked',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:events',
    awsRegion: 'us-east-1',
  };
}
