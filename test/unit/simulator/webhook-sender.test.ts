import { createHash } from 'node:crypto';
import { Room, WebhookEvent, EgressInfo } from '@livekit/protocol';
import { WebhookReceiver } from 'livekit-server-sdk';
import {
  LIVEKIT_CLOUD_PROFILE,
  OPEN_SOURCE_PROFILE,
  resolveDeliveryProfile,
  WebhookSender,
  WebhookSenderOptions,
} from '../../../simulator/webhook-sender';
import { deferred, TestReceiver } from '../../support/test-receiver';

const API_KEY = 'APItest';
const API_SECRET = 'test-secret-that-is-long-enough-for-hs256';

function roomEvent(type: string, room: string): WebhookEvent {
  return new WebhookEvent({ event: type, room: new Room({ sid: `RM_${room}`, name: room }) });
}

describe('WebhookSender', () => {
  let receiver: TestReceiver;
  let sender: WebhookSender | undefined;

  beforeEach(async () => {
    receiver = new TestReceiver();
    await receiver.start();
  });

  afterEach(async () => {
    await sender?.stop();
    sender = undefined;
    await receiver.stop();
  });

  function newSender(options: Partial<WebhookSenderOptions> = {}): WebhookSender {
    sender = new WebhookSender({
      urls: [receiver.url],
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      timeScale: 0.01,
      ...options,
    });
    return sender;
  }

  it('holds later events of a room behind a slow answer, but not events of another room', async () => {
    const gate = deferred();
    const s = newSender();
    const a1 = s.send(roomEvent('room_started', 'a'));
    receiver.respond = async (r) => {
      if (r.eventId === a1.id) await gate.promise;
      return { status: 200 };
    };
    const a2 = s.send(roomEvent('participant_joined', 'a'));
    const b1 = s.send(roomEvent('room_started', 'b'));

    await receiver.waitFor((r) => r.eventId === a1.id);
    expect((await s.settled(b1.id)).outcome).toBe('delivered');
    expect(receiver.eventIds('a')).toEqual([a1.id]);
    expect(s.deliveries({ eventId: a2.id })[0].outcome).toBe('queued');

    gate.resolve();
    await s.idle();
    expect(receiver.eventIds('a')).toEqual([a1.id, a2.id]);
    expect(s.stats().delivered).toBe(3);
  });

  it('queues egress and ingress events by their own id, not by room', async () => {
    const gate = deferred();
    const s = newSender();
    const roomEv = s.send(roomEvent('participant_joined', 'a'));
    receiver.respond = async (r) => {
      if (r.eventId === roomEv.id) await gate.promise;
      return { status: 200 };
    };
    const egress = new WebhookEvent({
      event: 'egress_ended',
      room: new Room({ sid: 'RM_a', name: 'a' }),
      egressInfo: new EgressInfo({ egressId: 'EG_1', roomName: 'a' }),
    });
    const egressEv = s.send(egress);
    expect(egressEv.key).toBe('EG_1');
    await receiver.waitFor((r) => r.eventId === egressEv.id);
    gate.resolve();
    await s.idle();
    expect(receiver.requests.map((r) => r.eventId)).toEqual([roomEv.id, egressEv.id]);
  });

  it('drops, unsent, an event that waited in its queue longer than maxAge', async () => {
    let now = 0;
    const gate = deferred();
    const s = newSender({ clock: () => now });
    const first = s.send(roomEvent('room_started', 'a'));
    receiver.respond = async (r) => {
      if (r.eventId === first.id) await gate.promise;
      return { status: 200 };
    };
    const stale1 = s.send(roomEvent('participant_joined', 'a'));
    const stale2 = s.send(roomEvent('participant_left', 'a'));
    await receiver.waitFor((r) => r.eventId === first.id);
    now += s.profile.maxAgeMs + 1;
    gate.resolve();
    await s.idle();

    expect(s.profile.maxAgeMs).toBe(300);
    expect(s.dropped('max_age').map((d) => d.eventId)).toEqual([stale1.id, stale2.id]);
    expect(s.dropped('max_age').every((d) => d.attempts.length === 0)).toBe(true);
    expect(receiver.eventIds()).toEqual([first.id]);
  });

  it('does not count time spent retrying an event against that event', async () => {
    let now = 0;
    const s = newSender({ clock: () => now });
    receiver.respond = (r) => {
      if (r.index === 0) {
        now += s.profile.maxAgeMs + 1;
        return { status: 500 };
      }
      return { status: 200 };
    };
    const only = s.send(roomEvent('room_started', 'a'));
    await s.idle();
    expect(s.deliveries({ eventId: only.id })[0]).toMatchObject({ outcome: 'delivered', status: 200 });
  });

  it('drops new events once maxDepth events are waiting in a queue', async () => {
    const gate = deferred();
    const s = newSender({ maxDepth: 2 });
    const inFlight = s.send(roomEvent('room_started', 'a'));
    receiver.respond = async (r) => {
      if (r.eventId === inFlight.id) await gate.promise;
      return { status: 200 };
    };
    const waiting = [s.send(roomEvent('participant_joined', 'a')), s.send(roomEvent('participant_joined', 'a'))];
    const overflow = [s.send(roomEvent('participant_joined', 'a')), s.send(roomEvent('participant_left', 'a'))];
    const other = s.send(roomEvent('room_started', 'b'));

    expect(s.dropped('max_depth').map((d) => d.eventId)).toEqual(overflow.map((e) => e.id));
    gate.resolve();
    await s.idle();
    expect(receiver.eventIds('a')).toEqual([inFlight.id, ...waiting.map((e) => e.id)]);
    expect(receiver.eventIds('b')).toEqual([other.id]);
  });

  it.each([400, 401, 403, 404, 501])('counts a %i answer as delivered and does not retry it', async (status) => {
    receiver.respond = () => ({ status });
    const s = newSender();
    const ev = s.send(roomEvent('participant_joined', 'a'));
    await s.idle();
    const [delivery] = s.deliveries({ eventId: ev.id });
    expect(delivery).toMatchObject({ outcome: 'delivered', status });
    expect(delivery.attempts).toHaveLength(1);
    expect(receiver.requests).toHaveLength(1);
  });

  it('retries 500 and 503 with exponential backoff until an answer is not retryable', async () => {
    const answers = [500, 503, 502, 200];
    receiver.respond = (r) => ({ status: answers[r.index] });
    const s = newSender();
    const ev = s.send(roomEvent('participant_joined', 'a'));
    await s.idle();
    const [delivery] = s.deliveries({ eventId: ev.id });
    expect(delivery).toMatchObject({ outcome: 'delivered', status: 200 });
    expect(delivery.attempts.map((a) => a.status)).toEqual(answers);
    // 1 s, 2 s, 4 s at timeScale 0.01
    expect(delivery.attempts.map((a) => a.nextWaitMs)).toEqual([10, 20, 40, undefined]);
  });

  it('honours Retry-After on 429 and 503', async () => {
    const answers = [{ status: 429, headers: { 'Retry-After': '3' } }, { status: 503, headers: { 'Retry-After': '5' } }, { status: 200 }];
    receiver.respond = (r) => answers[r.index];
    const s = newSender();
    const ev = s.send(roomEvent('participant_joined', 'a'));
    await s.idle();
    const [delivery] = s.deliveries({ eventId: ev.id });
    expect(delivery.attempts.map((a) => a.status)).toEqual([429, 503, 200]);
    expect(delivery.attempts.map((a) => a.nextWaitMs)).toEqual([30, 50, undefined]);
  });

  it('retries an attempt that exceeds the client timeout', async () => {
    receiver.respond = (r) => (r.index === 0 ? 'hang' : { status: 200 });
    const s = newSender({ profile: 'cloud', requestTimeoutMs: 100 });
    const ev = s.send(roomEvent('participant_joined', 'a'));
    await s.idle();
    const [delivery] = s.deliveries({ eventId: ev.id });
    expect(delivery.attempts[0].status).toBeUndefined();
    expect(delivery.attempts[0].error).toMatch(/timeout/i);
    expect(delivery).toMatchObject({ outcome: 'delivered', status: 200 });
    expect(receiver.requests).toHaveLength(2);
  });

  it('retries connection errors and abandons the event after the last retry', async () => {
    const closed = new TestReceiver();
    const deadUrl = await closed.start();
    await closed.stop();
    const s = newSender({ urls: [deadUrl] });
    const ev = s.send(roomEvent('participant_joined', 'a'));
    await s.idle();
    const [delivery] = s.deliveries({ eventId: ev.id });
    expect(delivery).toMatchObject({ outcome: 'dropped', dropReason: 'retries_exhausted' });
    expect(delivery.attempts).toHaveLength(OPEN_SOURCE_PROFILE.maxRetries + 1);
    expect(delivery.attempts.every((a) => a.error !== undefined)).toBe(true);
  });

  it.each([
    ['open-source', 5],
    ['cloud', 4],
  ] as const)('abandons an event still failing after the last attempt (%s: %i attempts)', async (profile, attempts) => {
    receiver.respond = () => ({ status: 500 });
    const s = newSender({ profile });
    const ev = s.send(roomEvent('participant_left', 'a'));
    const next = s.send(roomEvent('room_finished', 'a'));
    await s.idle();
    expect(s.deliveries({ eventId: ev.id })[0]).toMatchObject({ outcome: 'dropped', dropReason: 'retries_exhausted' });
    expect(receiver.requests.filter((r) => r.eventId === ev.id)).toHaveLength(attempts);
    // the queue moves on to the next event after giving up
    expect(receiver.requests.filter((r) => r.eventId === next.id)).toHaveLength(attempts);
    expect(s.stats().dropReasons.retries_exhausted).toBe(2);
  });

  it('signs the exact body so livekit-server-sdk WebhookReceiver verifies it, with the same token on every retry', async () => {
    receiver.respond = (r) => ({ status: r.index === 0 ? 500 : 200 });
    const s = newSender();
    const ev = s.send(roomEvent('participant_joined', 'a'));
    await s.idle();

    const [first, retry] = receiver.requests;
    expect(retry.headers.authorization).toBe(first.headers.authorization);
    const auth = first.headers.authorization!;
    expect(auth.startsWith('Bearer')).toBe(false);
    expect(first.headers['content-type']).toBe('application/webhook+json');
    expect(first.headers['user-agent']).toBe('LiveKit');
    expect(first.body).toBe(ev.body);

    const parsed = await new WebhookReceiver(API_KEY, API_SECRET).receive(first.body, auth);
    expect(parsed.id).toBe(ev.id);
    await expect(new WebhookReceiver(API_KEY, API_SECRET).receive(first.body.replace('"a"', '"b"'), auth)).rejects.toThrow(/sha256/);
    await expect(new WebhookReceiver(API_KEY, 'another-secret-that-is-long-enough').receive(first.body, auth)).rejects.toThrow();

    const claims = JSON.parse(Buffer.from(auth.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(claims.iss).toBe(API_KEY);
    expect((claims.exp as number) - (claims.nbf as number)).toBe(300);
    expect(claims.sha256).toBe(createHash('sha256').update(first.body).digest('base64'));
  });

  it('posts every event to every URL, with the same event id', async () => {
    const second = new TestReceiver();
    const secondUrl = await second.start();
    try {
      const s = newSender({ urls: [receiver.url, secondUrl] });
      const ev = s.send(roomEvent('room_started', 'a'));
      await s.idle();
      expect(receiver.eventIds()).toEqual([ev.id]);
      expect(second.eventIds()).toEqual([ev.id]);
      expect(s.deliveries({ eventId: ev.id }).map((d) => d.url)).toEqual([receiver.url, secondUrl]);
    } finally {
      await second.stop();
    }
  });

  it("an event the first URL's full queue drops is not queued for the URLs after it (LiveKit DefaultNotifier.QueueNotify)", async () => {
    const second = new TestReceiver();
    const secondUrl = await second.start();
    const gate = deferred();
    try {
      const s = newSender({ urls: [receiver.url, secondUrl], maxDepth: 1 });
      const inFlight = s.send(roomEvent('room_started', 'a'));
      receiver.respond = async (r) => {
        if (r.eventId === inFlight.id) await gate.promise;
        return { status: 200 };
      };
      const waiting = s.send(roomEvent('participant_joined', 'a'));
      // The second URL answers at once: its queue is empty again, the first's is full.
      await second.waitFor((r) => r.eventId === waiting.id);
      const overflow = s.send(roomEvent('participant_joined', 'a'));
      gate.resolve();
      await s.idle();
      expect(second.eventIds()).toEqual([inFlight.id, waiting.id]);
      expect(s.deliveries({ eventId: overflow.id }).map((d) => [d.url, d.outcome, d.dropReason])).toEqual([
        [receiver.url, 'dropped', 'max_depth'],
        [secondUrl, 'dropped', 'max_depth'],
      ]);
    } finally {
      await second.stop();
    }
  });

  it('stop() ends a hung request so nothing is left running', async () => {
    receiver.respond = () => 'hang';
    const s = newSender();
    const ev = s.send(roomEvent('room_started', 'a'));
    await receiver.waitFor((r) => r.eventId === ev.id);
    await s.stop();
    await s.idle();
    expect(s.deliveries({ eventId: ev.id })[0].outcome).toBe('sending');
  });

  it('presets follow docs/livekit-delivery.md: open-source 4 retries without timeout, cloud 3 retries with a 3 s timeout', () => {
    expect(resolveDeliveryProfile({})).toEqual({
      maxRetries: 4,
      requestTimeoutMs: 0,
      retryWaitMinMs: 1000,
      retryWaitMaxMs: 30000,
      maxAgeMs: 30000,
      maxDepth: 200,
    });
    expect(resolveDeliveryProfile({ profile: 'cloud' })).toEqual({ ...LIVEKIT_CLOUD_PROFILE });
    expect(LIVEKIT_CLOUD_PROFILE).toMatchObject({ maxRetries: 3, requestTimeoutMs: 3000 });
    expect(resolveDeliveryProfile({ profile: 'cloud', timeScale: 0.01 })).toMatchObject({
      requestTimeoutMs: 30,
      retryWaitMinMs: 10,
      maxAgeMs: 300,
      maxDepth: 200,
    });
    expect(() => resolveDeliveryProfile({ timeScale: 0 })).toThrow(RangeError);
  });
});
