/**
 * Unit tests of the consumer kit (consumer/): the guards, the EventBridge envelope, the deduper and
 * its in-memory store. The kit against real changes and DynamoDB Local: kit.integration.test.ts.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import {
  CHANGE_DETAIL_TYPES,
  ChangeDeduper,
  ChangeDetail,
  ChangeEvent,
  changeEventOf,
  ChangeInFlightError,
  isChangeDetail,
  isChangeEvent,
  isChangeOf,
  isCorrection,
  isParticipantChange,
  isParticipantJoined,
  isParticipantLeft,
  isRoomStarted,
  MemoryDedupeStore,
} from '../../../consumer';
import type { StateChange } from '../../../lambda/process/publisher';
import schema from '../../../consumer/change-event.schema.json';

const joined: ChangeDetail<'participant.joined'> = {
  changeId: 'participant:PA_a:started',
  detailType: 'participant.joined',
  entity: { type: 'participant', id: 'PA_a', participantSid: 'PA_a', identity: 'alice', roomSid: 'RM_x', roomName: 'standup' },
  old: null,
  new: {
    entityType: 'participant',
    entityId: 'PA_a',
    status: 'ACTIVE',
    participantSid: 'PA_a',
    identity: 'alice',
    roomSid: 'RM_x',
    roomName: 'standup',
  },
  eventId: 'EV_1',
  eventType: 'participant_joined',
  source: 'webhook',
  occurredAt: '2026-02-17T18:11:47.000Z',
};

// Compile-time: what the kit promises is what the publisher puts (lambda/process/publisher.ts), and
// a change event is what aws-lambda's EventBridgeEvent describes. `tsc --noEmit -p .` checks these.
const asPublished: StateChange = joined;
const asLambdaEvent: EventBridgeEvent<string, unknown> = changeEventOf(joined);
void asPublished;
void asLambdaEvent;

describe('change events', () => {
  test('changeEventOf builds the event EventBridge delivers for the publisher’s entry', () => {
    const event = changeEventOf(joined, { id: 'e-1', account: '123456789012', region: 'eu-west-1' });
    expect(event).toEqual({
      version: '0',
      id: 'e-1',
      'detail-type': 'participant.joined',
      source: 'livekit.webhooks',
      account: '123456789012',
      // The publisher sets Time to occurredAt; the bus renders it to the second.
      time: '2026-02-17T18:11:47Z',
      region: 'eu-west-1',
      resources: [],
      detail: joined,
    });
    const other = changeEventOf(joined);
    expect(other.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(changeEventOf(joined).id).not.toBe(other.id);
  });

  test('isChangeEvent accepts our events and refuses anything else', () => {
    const event = changeEventOf(joined);
    expect(isChangeEvent(event)).toBe(true);
    expect(isChangeEvent(JSON.parse(JSON.stringify(event)))).toBe(true);
    expect(isChangeEvent({ ...event, source: 'aws.ec2' })).toBe(false);
    expect(isChangeEvent({ ...event, 'detail-type': 'participant.renamed' })).toBe(false);
    // detail-type and detail.detailType must agree.
    expect(isChangeEvent({ ...event, 'detail-type': 'participant.left' })).toBe(false);
    expect(isChangeEvent({ ...event, detail: { ...joined, changeId: '' } })).toBe(false);
    expect(isChangeEvent({ ...event, detail: { ...joined, new: null } })).toBe(false);
    expect(isChangeEvent({ ...event, detail: { ...joined, old: 'x' } })).toBe(false);
    for (const value of [null, undefined, 'x', 1, [], {}]) expect(isChangeEvent(value)).toBe(false);
    expect(isChangeDetail(joined)).toBe(true);
    expect(isChangeDetail({ ...joined, detailType: 'nope' })).toBe(false);
  });

  test('the guards narrow by detail-type', () => {
    const event: ChangeEvent = changeEventOf(joined);
    expect(isParticipantJoined(event)).toBe(true);
    expect(isParticipantLeft(event)).toBe(false);
    expect(isRoomStarted(event)).toBe(false);
    expect(isParticipantChange(event)).toBe(true);
    expect(isCorrection(event)).toBe(false);
    expect(isChangeOf(event, 'participant.left', 'participant.joined')).toBe(true);
    expect(isChangeOf(event, 'room.started')).toBe(false);
    if (isParticipantJoined(event)) {
      // Typed: a participant ref and state, without casts.
      const identity: string = event.detail.entity.identity;
      const status: 'ACTIVE' | 'LEFT' | 'ABORTED' = event.detail.new.status;
      expect([identity, status]).toEqual(['alice', 'ACTIVE']);
    }
    const corrected = changeEventOf({ ...joined, detailType: 'participant.corrected', changeId: 'participant:PA_a:corrected:EV_2' });
    expect(isCorrection(corrected)).toBe(true);
    expect(new Set(CHANGE_DETAIL_TYPES).size).toBe(18);
  });
});

describe('the JSON Schema file', () => {
  test('names every detail type the publisher can put, and constrains each one by a rule', () => {
    expect([...schema.properties.detailType.enum].sort()).toEqual([...CHANGE_DETAIL_TYPES].sort());
    const ruled = schema.allOf.flatMap((rule) => {
      const detailType = rule.if.properties.detailType as { enum?: string[]; const?: string };
      return rule.then.properties.entity ? (detailType.enum ?? [detailType.const!]) : [];
    });
    expect([...ruled].sort()).toEqual([...CHANGE_DETAIL_TYPES].sort());
  });
});

describe('ChangeDeduper', () => {
  test('handles a change once; a repeat (by event, detail or id) is skipped', async () => {
    const deduper = new ChangeDeduper();
    const handled: string[] = [];
    const handle = () => void handled.push('x');
    expect(await deduper.once(changeEventOf(joined), handle)).toBe(true);
    // A second delivery: a new envelope id, the same change id.
    expect(await deduper.once(changeEventOf(joined), handle)).toBe(false);
    expect(await deduper.once(joined, handle)).toBe(false);
    expect(await deduper.once(joined.changeId, handle)).toBe(false);
    expect(await deduper.once('participant:PA_b:started', handle)).toBe(true);
    expect(handled).toHaveLength(2);
  });

  test('a handler that fails is not recorded: the retry runs it', async () => {
    const deduper = new ChangeDeduper();
    let calls = 0;
    const flaky = () => {
      calls++;
      if (calls === 1) throw new Error('downstream unavailable');
    };
    await expect(deduper.once(joined, flaky)).rejects.toThrow('downstream unavailable');
    expect(await deduper.once(joined, flaky)).toBe(true);
    expect(await deduper.once(joined, flaky)).toBe(false);
    expect(calls).toBe(2);
  });

  test('a repeat while the first delivery is in flight is refused, not dropped; after the lease it may run', async () => {
    let now = 1_000_000;
    const deduper = new ChangeDeduper({ clock: () => now, leaseMs: 60_000 });
    let release!: () => void;
    const first = deduper.once(joined, () => new Promise<void>((resolve) => (release = resolve)));
    await Promise.resolve();
    await expect(deduper.once(joined, () => undefined)).rejects.toBeInstanceOf(ChangeInFlightError);
    release();
    expect(await first).toBe(true);
    expect(await deduper.once(joined, () => undefined)).toBe(false);

    // A delivery that never finished (its container died): after the lease, a repeat takes over.
    const stuck = 'participant:PA_stuck:started';
    void deduper.once(stuck, () => new Promise(() => undefined));
    await Promise.resolve();
    await expect(deduper.once(stuck, () => undefined)).rejects.toBeInstanceOf(ChangeInFlightError);
    now += 60_001;
    expect(await deduper.once(stuck, () => undefined)).toBe(true);
  });

  test('ids are forgotten after the TTL', async () => {
    let now = 0;
    const deduper = new ChangeDeduper({ clock: () => now, ttlMs: 1000 });
    expect(await deduper.once('a', () => undefined)).toBe(true);
    now = 999;
    expect(await deduper.once('a', () => undefined)).toBe(false);
    now = 1001;
    expect(await deduper.once('a', () => undefined)).toBe(true);
  });

  test('refuses a missing change id and bad options', async () => {
    const deduper = new ChangeDeduper();
    await expect(deduper.once('', () => undefined)).rejects.toThrow(TypeError);
    await expect(deduper.once({ changeId: undefined as unknown as string }, () => undefined)).rejects.toThrow(TypeError);
    expect(() => new ChangeDeduper({ ttlMs: 0 })).toThrow(RangeError);
    expect(() => new MemoryDedupeStore({ maxEntries: 0 })).toThrow(RangeError);
  });
});

describe('MemoryDedupeStore', () => {
  test('memory is bounded: beyond maxEntries the oldest ids go first', async () => {
    const store = new MemoryDedupeStore({ maxEntries: 3 });
    const deduper = new ChangeDeduper({ store });
    for (const id of ['a', 'b', 'c', 'd']) expect(await deduper.once(id, () => undefined)).toBe(true);
    expect(store.size).toBe(3);
    expect(await deduper.once('d', () => undefined)).toBe(false);
    expect(await deduper.once('b', () => undefined)).toBe(false);
    // 'a' was evicted: a repeat this old is handled again (the bound is the trade-off).
    expect(await deduper.once('a', () => undefined)).toBe(true);
    expect(store.size).toBe(3);
  });

  test('expired ids are dropped as new ones come', async () => {
    let now = 0;
    const store = new MemoryDedupeStore();
    const deduper = new ChangeDeduper({ store, clock: () => now, ttlMs: 100 });
    for (let i = 0; i < 50; i++) await deduper.once(`old-${i}`, () => undefined);
    expect(store.size).toBe(50);
    now = 200;
    await deduper.once('new', () => undefined);
    expect(store.size).toBe(1);
  });
});
