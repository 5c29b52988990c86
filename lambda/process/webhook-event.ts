/**
 * The webhook event as LiveKit's protojson puts it in the queue: camelCase names, int64 as
 * strings, enums as names, zero values omitted (so every field is optional). Only the fields the
 * state model reads are typed; the rest is kept as it came in `info`.
 */

export interface RoomJson {
  sid?: string;
  name?: string;
  creationTime?: string;
  [field: string]: unknown;
}

export interface ParticipantJson {
  sid?: string;
  identity?: string;
  name?: string;
  state?: string;
  kind?: string;
  joinedAt?: string;
  joinedAtMs?: string;
  version?: number;
  [field: string]: unknown;
}

export interface TrackJson {
  sid?: string;
  type?: string;
  source?: string;
  version?: { unixMicro?: string; ticks?: number };
  [field: string]: unknown;
}

export interface EgressJson {
  egressId?: string;
  roomId?: string;
  roomName?: string;
  status?: string;
  startedAt?: string;
  updatedAt?: string;
  endedAt?: string;
  [field: string]: unknown;
}

export interface IngressJson {
  ingressId?: string;
  roomName?: string;
  state?: { status?: string; startedAt?: string; endedAt?: string; updatedAt?: string; resourceId?: string; roomId?: string };
  [field: string]: unknown;
}

export interface WebhookEvent {
  id: string;
  event: string;
  createdAt?: string;
  room?: RoomJson;
  participant?: ParticipantJson;
  track?: TrackJson;
  egressInfo?: EgressJson;
  ingressInfo?: IngressJson;
  [field: string]: unknown;
}

/** The event can never be processed, whatever the retry: it belongs in the DLQ. */
export class InvalidEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

/** Parses a queue body. Throws `InvalidEventError` unless it is a JSON object with string `id` and `event`. */
export function parseWebhookEvent(body: string): WebhookEvent {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new InvalidEventError('body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidEventError('body is not a JSON object');
  const candidate = value as Record<string, unknown>;
  if (typeof candidate.id !== 'string' || candidate.id === '') throw new InvalidEventError('body has no string "id"');
  if (typeof candidate.event !== 'string' || candidate.event === '') throw new InvalidEventError('body has no string "event"');
  for (const field of ['room', 'participant', 'track', 'egressInfo', 'ingressInfo']) {
    const part = candidate[field];
    if (part !== undefined && (typeof part !== 'object' || part === null || Array.isArray(part))) {
      throw new InvalidEventError(`"${field}" is not an object`);
    }
  }
  if (candidate.createdAt !== undefined && !isIntString(candidate.createdAt)) throw new InvalidEventError('"createdAt" is not an integer');
  return candidate as WebhookEvent;
}

export function isIntString(value: unknown): boolean {
  return (typeof value === 'string' && /^-?\d+$/.test(value)) || (typeof value === 'number' && Number.isInteger(value));
}
