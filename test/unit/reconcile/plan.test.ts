/** The request-budget rules on their own: which rooms get a ListParticipants first, and the gate's limits. */
import { ServerError } from 'livekit-server-sdk';
import { ApiGate, BudgetExhaustedError } from '../../../lambda/reconcile/api-gate';
import { isNotFound, isRetryable, notConnectedService } from '../../../lambda/reconcile/livekit-api';
import { planRoomChecks, RoomCandidate } from '../../../lambda/reconcile/plan';

const room = (sid: string, overrides: Partial<RoomCandidate> = {}): RoomCandidate => ({
  sid,
  name: `name-${sid}`,
  remoteCount: 2,
  localCount: 2,
  knownLocally: true,
  lastVerifiedAt: 1000,
  changedSinceVerified: false,
  hasPending: false,
  ...overrides,
});

describe('planRoomChecks', () => {
  test('puts rooms with evidence of a difference first, strongest evidence first, then every other room least recently verified first', () => {
    const plan = planRoomChecks([
      room('A', { lastVerifiedAt: 10 }),
      room('B', { localCount: 1, lastVerifiedAt: 500 }),
      room('C', { changedSinceVerified: true, lastVerifiedAt: 400 }),
      room('D', { lastVerifiedAt: 0 }),
      room('E', { knownLocally: false, localCount: 0, lastVerifiedAt: 0 }),
      room('F', { hasPending: true, lastVerifiedAt: 900 }),
      room('G', { lateArrival: true, lastVerifiedAt: 800 }),
      room('H', { unknownReference: true, lastVerifiedAt: 700 }),
      room('I', { lastVerifiedAt: 5 }),
    ]);
    expect(plan.map((check) => `${check.room.sid}:${check.reason}`)).toEqual([
      'F:pending',
      'E:new',
      'B:count',
      'G:late',
      'H:unknown-reference',
      'C:changed',
      'D:round-robin',
      'I:round-robin',
      'A:round-robin',
    ]);
  });

  test('rooms the budget did not reach keep their old lastVerifiedAt, so they lead the next run: the budget goes round', () => {
    const candidates = Array.from({ length: 6 }, (_, i) => room(`R${i}`, { lastVerifiedAt: 0 }));
    const firstRun = planRoomChecks(candidates)
      .slice(0, 3)
      .map((check) => check.room.sid);
    const afterFirst = candidates.map((c) => (firstRun.includes(c.sid) ? { ...c, lastVerifiedAt: 5000 } : c));
    const secondRun = planRoomChecks(afterFirst)
      .slice(0, 3)
      .map((check) => check.room.sid);
    expect(new Set([...firstRun, ...secondRun]).size).toBe(6);
  });

  test('a room verified recently, with nothing suspect, is still checked when the budget reaches it (a leave and a rejoin both dropped leave the count equal)', () => {
    const plan = planRoomChecks([
      room('quiet', { lastVerifiedAt: 1_000_000 }),
      room('counted', { lastVerifiedAt: 1_000_000, localCount: 1 }),
    ]);
    expect(plan.map((check) => `${check.room.sid}:${check.reason}`)).toEqual(['counted:count', 'quiet:round-robin']);
  });

  test('goes round every room even when the round outlasts the bookkeeping window (rooms verified before it read as never verified)', () => {
    // 100 rooms, 10 checks a run, and a window of 3 runs: a verification older than that reads 0
    // again, as lambda/reconcile/bookkeeping.ts does beyond its window.
    const sids = Array.from({ length: 100 }, (_, i) => `RM_${String(i).padStart(3, '0')}`);
    const roundRobin = (salted: boolean) => {
      const verifiedAtRun = new Map<string, number>();
      for (let run = 1; run <= 100; run++) {
        const candidates = sids.map((sid) => {
          const at = verifiedAtRun.get(sid);
          return room(sid, { lastVerifiedAt: at !== undefined && run - at <= 3 ? at : 0 });
        });
        for (const check of planRoomChecks(candidates, salted ? `run-${run}` : undefined).slice(0, 10))
          verifiedAtRun.set(check.room.sid, run);
      }
      return verifiedAtRun.size;
    };
    // By sid alone, the low sids come back first every time: most rooms are never checked.
    expect(roundRobin(false)).toBeLessThan(50);
    // A run's own tie-break order: every room is checked.
    expect(roundRobin(true)).toBe(100);
  });

  test('an unknown empty room is not suspect (nothing to list)', () => {
    expect(planRoomChecks([room('E', { knownLocally: false, remoteCount: 0, localCount: 0, lastVerifiedAt: 0 })])[0].reason).toBe(
      'round-robin',
    );
  });
});

describe('ApiGate', () => {
  const gate = (budget: number, overrides: Partial<ConstructorParameters<typeof ApiGate>[0]> = {}) =>
    new ApiGate({
      requestBudget: budget,
      concurrency: 2,
      deadline: Number.MAX_SAFE_INTEGER,
      clock: Date.now,
      sleep: async () => undefined,
      random: () => 0.5,
      ...overrides,
    });

  test('retries 429 and 5xx, each attempt spending budget', async () => {
    const g = gate(10);
    let attempts = 0;
    const result = await g.call('ListRooms', async () => {
      attempts++;
      if (attempts === 1) throw new ServerError('Too Many Requests', 'throttled', 429, 'resource_exhausted');
      if (attempts === 2) throw new ServerError('Bad Gateway', 'bad gateway', 502);
      return 'ok';
    });
    expect(result).toBe('ok');
    expect(g.calls).toEqual({ ListRooms: 3 });
    expect(g.errors).toEqual({ ListRooms: 2 });
  });

  test('does not retry other 4xx', async () => {
    const g = gate(10);
    await expect(
      g.call('ListEgress', async () => Promise.reject(new ServerError('Not Found', 'egress does not exist', 404, 'not_found'))),
    ).rejects.toThrow('egress does not exist');
    expect(g.calls).toEqual({ ListEgress: 1 });
  });

  test('does not retry a LiveKit without Redis answering "egress/ingress not connected (redis required)" (internal, 500); any other 500 is retried', async () => {
    const g = gate(10);
    const noRedis = new ServerError('Internal Server Error', 'egress not connected (redis required)', 500, 'internal');
    await expect(g.call('ListEgress', async () => Promise.reject(noRedis))).rejects.toBe(noRedis);
    expect(g.calls).toEqual({ ListEgress: 1 });
    expect(notConnectedService(noRedis)).toBe('egress');
    expect(notConnectedService(new ServerError('Internal Server Error', 'ingress not connected (redis required)', 500, 'internal'))).toBe(
      'ingress',
    );
    // Only exactly LiveKit's answer: another internal error, another code or status, is not it.
    for (const other of [
      new ServerError('Internal Server Error', 'egress store failed', 500, 'internal'),
      new ServerError('Internal Server Error', 'egress not connected (redis required)', 500, 'unknown'),
      new ServerError('Service Unavailable', 'egress not connected (redis required)', 503, 'unavailable'),
      new Error('egress not connected (redis required)'),
    ]) {
      expect(notConnectedService(other)).toBeUndefined();
      expect(isRetryable(other)).toBe(true);
    }
  });

  test('refuses calls once the request budget is spent', async () => {
    const g = gate(2);
    await g.call('ListRooms', async () => 1);
    await g.call('ListEgress', async () => 1);
    await expect(g.call('ListParticipants', async () => 1)).rejects.toBeInstanceOf(BudgetExhaustedError);
    expect(g.requestsMade).toBe(2);
  });

  test('starts no attempt after the deadline', async () => {
    let now = 0;
    const g = gate(10, { deadline: 100, clock: () => now });
    now = 100;
    await expect(g.call('ListRooms', async () => 1)).rejects.toEqual(new BudgetExhaustedError('time'));
    expect(g.requestsMade).toBe(0);
  });

  test('runs at most `concurrency` calls at once', async () => {
    const g = gate(100, { concurrency: 3 });
    let active = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 12 }, () =>
        g.call('ListParticipants', async () => {
          peak = Math.max(peak, ++active);
          await new Promise((resolve) => setTimeout(resolve, 5));
          active--;
        }),
      ),
    );
    expect(peak).toBe(3);
  });

  test('classifies errors: transport errors and timeouts are retryable, not_found is not', () => {
    expect(isRetryable(new TypeError('fetch failed'))).toBe(true);
    expect(isRetryable(new DOMException('timed out', 'TimeoutError'))).toBe(true);
    expect(isRetryable(new ServerError('Unauthorized', 'permissions denied', 401, 'unauthenticated'))).toBe(false);
    expect(isNotFound(new ServerError('Not Found', 'egress does not exist', 404, 'not_found'))).toBe(true);
  });
});
