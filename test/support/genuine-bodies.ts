/**
 * Webhook bodies a real LiveKit can send and a happy-path model forgets: metadata near LiveKit's
 * limits, characters SQS refuses in a message body, characters outside the BMP. Serialised the
 * way LiveKit's protojson does (compact, camelCase, int64 as strings, raw UTF-8, no escaping of
 * U+FFFE/U+FFFF or emoji), so each is a body LiveKit could sign.
 */
import { randomUUID } from 'node:crypto';

export interface GenuineBody {
  readonly id: string;
  readonly roomName: string;
  readonly roomSid: string;
  readonly identity: string;
  readonly participantSid: string;
  readonly name: string;
  readonly roomMetadata: string;
  readonly metadata: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** The exact body text. */
  readonly text: string;
}

/** `length` bytes of metadata an app could set: JSON text, so protojson escapes its quotes. */
export function metadataOfBytes(length: number, seed = 'm'): string {
  const unit = `{"k":"${seed}","v":"lorem ipsum dolor sit amet"},`;
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

export function participantJoinedBody(fields: {
  name?: string;
  roomMetadata?: string;
  metadata?: string;
  attributes?: Record<string, string>;
  roomName?: string;
  identity?: string;
}): GenuineBody {
  const tag = randomUUID().slice(0, 8);
  const createdAt = Math.floor(Date.now() / 1000);
  const id = `EV_${tag}`;
  const roomName = fields.roomName ?? `room-${tag}`;
  const roomSid = `RM_${tag}`;
  const identity = fields.identity ?? `user-${tag}`;
  const participantSid = `PA_${tag}`;
  const name = fields.name ?? 'Ada';
  const roomMetadata = fields.roomMetadata ?? '';
  const metadata = fields.metadata ?? '';
  const attributes = fields.attributes ?? {};
  const event = {
    event: 'participant_joined',
    room: {
      sid: roomSid,
      name: roomName,
      emptyTimeout: 300,
      creationTime: String(createdAt - 5),
      ...(roomMetadata ? { metadata: roomMetadata } : {}),
      numParticipants: 1,
    },
    participant: {
      sid: participantSid,
      identity,
      state: 'ACTIVE',
      joinedAt: String(createdAt),
      joinedAtMs: String(createdAt * 1000),
      name,
      ...(metadata ? { metadata } : {}),
      version: 2,
      permission: { canSubscribe: true, canPublish: true, canPublishData: true },
      ...(Object.keys(attributes).length ? { attributes } : {}),
    },
    id,
    createdAt: String(createdAt),
  };
  return { id, roomName, roomSid, identity, participantSid, name, roomMetadata, metadata, attributes, text: JSON.stringify(event) };
}

/**
 * Participant metadata 40 KB, room metadata 40 KB, and attributes: over the old 64 KiB cap, well
 * within LiveKit's limits (open-source defaults: 512 KiB of metadata each, 64 KiB of attributes;
 * livekit/livekit pkg/config/config.go `MaxMetadataSize`, `MaxAttributesSize`).
 */
export function largeMetadataBody(): GenuineBody {
  return participantJoinedBody({
    roomMetadata: metadataOfBytes(40_000, 'room'),
    metadata: metadataOfBytes(40_000, 'participant'),
    attributes: { role: 'host', profile: metadataOfBytes(8_000, 'profile'), 'lk.agent.state': 'listening' },
  });
}

/**
 * Room and participant metadata at open-source LiveKit's default limit (512 KiB each) and 60 KB of
 * attributes: a genuine `participant_joined` over SQS's 1 MiB message limit before any escaping.
 */
export function overSqsLimitBody(): GenuineBody {
  return participantJoinedBody({
    roomMetadata: metadataOfBytes(512 * 1024, 'room'),
    metadata: metadataOfBytes(512 * 1024, 'participant'),
    attributes: { role: 'host', profile: metadataOfBytes(60_000, 'profile') },
  });
}

/** U+FFFE and U+FFFF (SQS refuses both in a message body; protojson writes them raw) in the name, metadata and an attribute. */
export function nonCharacterBody(): GenuineBody {
  return participantJoinedBody({
    name: 'Ada \uFFFE Lovelace \uFFFF',
    metadata: '{"note":"\uFFFF\uFFFE"}',
    roomMetadata: 'room \uFFFF',
    attributes: { 'mark\uFFFE': 'value \uFFFF' },
  });
}

/** Characters outside the BMP (SQS takes them; the local SQS emulator refuses them). */
export function emojiBody(): GenuineBody {
  return participantJoinedBody({
    name: 'Zoë 🎉 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
    metadata: '{"mood":"😀👩‍👩‍👧‍👦🏳️‍🌈"}',
    roomMetadata: 'stand-up 🚀',
    attributes: { '🎧': '🔇 muted' },
  });
}
