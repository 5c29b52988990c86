import { accessPatternLowerBound, interleave, roomHistory } from '../../../bench/processor';
import type { WebhookEvent } from '../../../lambda/process/webhook-event';

/*
 * The processor section's headline stream: room histories as LiveKit's webhook queues deliver them
 * (one serial queue per egress id, else ingress id, else room name), and the write-unit lower bound
 * it is compared with.
 */
const queueKey = (e: WebhookEvent) => e.egressInfo?.egressId ?? e.ingressInfo?.ingressId ?? e.room?.name ?? '';

describe('interleave', () => {
  const histories = Array.from({ length: 30 }, (_, i) => roomHistory(i, 1_771_351_800 + i * 100));

  it('delivers every event once', () => {
    const stream = interleave(histories);
    expect(stream.map((e) => e.id).sort()).toEqual(
      histories
        .flat()
        .map((e) => e.id)
        .sort(),
    );
  });

  it("keeps each queue's events in order: a room's, and an egress's in a queue of its own", () => {
    const stream = interleave(histories);
    const byQueue = (events: WebhookEvent[]) => {
      const queues = new Map<string, string[]>();
      for (const e of events) queues.set(queueKey(e), [...(queues.get(queueKey(e)) ?? []), e.id]);
      return queues;
    };
    const expected = byQueue(histories.flat());
    const delivered = byQueue(stream);
    expect(delivered.size).toBe(60); // 30 rooms, 30 egresses
    for (const [key, ids] of expected) expect(delivered.get(key)).toEqual(ids);
  });

  it('interleaves the queues rather than sending room after room', () => {
    const stream = interleave(histories);
    const firstRoomDone = stream.findIndex((e) => e.event === 'room_finished');
    // Sent room after room, the first room_finished would be the 17th event.
    expect(firstRoomDone).toBeGreaterThan(17);
  });
});

describe('accessPatternLowerBound', () => {
  it("is 27 units for the bench's 17-event room history: one per event, two per room, participant session and egress", () => {
    const history = roomHistory(0, 0);
    expect(history).toHaveLength(17);
    expect(accessPatternLowerBound(history) * history.length).toBeCloseTo(27, 6);
  });
});
