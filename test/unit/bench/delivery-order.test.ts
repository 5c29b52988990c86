import { interleave, liveStateLowerBound, roomHistory } from '../../../bench/processor';
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

describe('liveStateLowerBound', () => {
  it("is 33 units for the bench's 17-event room history: one per event, two per room, participant session, track and egress", () => {
    const history = roomHistory(0, 0);
    expect(history).toHaveLength(17);
    expect(liveStateLowerBound(history) * history.length).toBeCloseTo(33, 6);
  });

  it('stays above 1.5 however many tracks each participant publishes: every start and end costs two units', () => {
    const withTracks = (tracks: number) => {
      const base = roomHistory(0, 0).filter((e) => e.event !== 'track_published' && e.event !== 'track_unpublished');
      const extra = Array.from({ length: 2 * tracks * 3 }, (_, i) => ({
        ...base[0],
        id: `EV_t${i}`,
        event: i % 2 ? 'track_unpublished' : 'track_published',
      }));
      return [...base, ...extra] as typeof base;
    };
    for (const tracks of [0, 1, 2, 5]) expect(liveStateLowerBound(withTracks(tracks))).toBeGreaterThan(1.5);
  });
});
