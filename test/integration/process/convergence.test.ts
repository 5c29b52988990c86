/**
 * Property: for generated histories of rooms, participants (with rejoins), tracks and egresses,
 * delivering the events in any order, with duplicates, in concurrent batches, ends in exactly the
 * state the in-order delivery ends in, and publishes the same lifecycle changes. What it asserts,
 * precisely (docs/state-model.md, "What is guaranteed"):
 *   1. the entity items (every attribute, tombstones included) are identical;
 *   2. the lifecycle changes (`:started`, `:ended`) are the same set of (change id, detail type,
 *      entity, and for ended changes the final status), and that set is exactly what the history
 *      implies: one started change per entity the history mentions, one ended change per entity
 *      with a terminal event (a started change's `new` is the state the entity was first seen
 *      in, which depends on arrival order, so it is not compared);
 *   3. no change id is published twice in one delivery;
 *   4. the in-state changes (egress.updated) of any delivery are a subset of the in-order ones:
 *      an update that arrives after a later state is not published, never invented;
 *   5. for every entity that ended, the last change published for it carries its final state
 *      (status and LiveKit info): entities get several terminal events with different content
 *      (an egress FAILED then COMPLETE, a participant left then aborted with a higher version, a
 *      room finished twice), and the one that wins is on the feed last in every order.
 * Events carry edge-case characters and keys (`constructor`, `__proto__`, U+FFFE, U+FFFF, emoji)
 * in room names, identities, names, metadata and attributes; the first terminal event of a
 * left-then-aborted participant is the reconciler's (`source=reconciler`). Against DynamoDB Local, through the processor's
 * batch entry point; the changes come from the table's stream through the real publisher.
 */
import fc from 'fast-check';
import { createProcessor } from '../../../lambda/process/processor';
import type { StateChange } from '../../../lambda/process/publisher';
import { EntityItem } from '../../../lambda/process/state-model';
import { keys } from '../../../contracts/table-schema';
import type { WebhookEvent } from '../../../lambda/process/webhook-event';
import {
  egressEvent,
  participantJoined,
  participantLeft,
  roomFinished,
  roomStarted,
  sqsRecord,
  trackPublished,
  trackUnpublished,
} from '../../../simulator/events';
import { entityState, memoryLogger } from '../../support/state';
import { startChangeFeed } from '../../support/change-feed';
import { useDynamoDbLocal } from '../../support/dynamodb';

const local = useDynamoDbLocal();

const TERMINAL_EGRESS = ['EGRESS_COMPLETE', 'EGRESS_FAILED', 'EGRESS_ABORTED', 'EGRESS_LIMIT_REACHED'] as const;

/** Which of an entity's lifecycle events the history contains (LiveKit may have dropped the rest). */
const lifecycle = fc.constantFrom('start-end', 'start-end', 'start-only', 'end-only');

const historySpec = fc.record({
  room: lifecycle,
  // Room names are app-chosen strings too: they go into sort keys (JSON-quoted) and every entity.
  roomName: fc.constantFrom('standup', 'standup', '__proto__', 'constructor 😀 \uFFFE\uFFFF'),
  finishTwice: fc.boolean(),
  participants: fc.array(
    fc.record({
      identity: fc.constantFrom('ann', 'bob', 'constructor', '__proto__', 'emoji 😀', 'non\uFFFEchar'),
      kind: fc.constantFrom('session', 'session', 'aborted', 'left-then-aborted'),
      odd: fc.boolean(),
      life: lifecycle,
      tracks: fc.array(lifecycle, { maxLength: 2 }),
    }),
    { minLength: 1, maxLength: 3 },
  ),
  egresses: fc.array(
    fc.record({
      updates: fc.subarray(['EGRESS_ACTIVE', 'EGRESS_ENDING'] as const),
      started: fc.boolean(),
      end: fc.option(fc.constantFrom(...TERMINAL_EGRESS), { nil: undefined }),
      // A later terminal event with other content (FAILED, then COMPLETE ten seconds later).
      laterEnd: fc.option(fc.constantFrom(...TERMINAL_EGRESS), { nil: undefined }),
      // LiveKit has sent egress_ended twice for one egress, with different event ids.
      endTwice: fc.boolean(),
    }),
    { maxLength: 2 },
  ),
});
type HistorySpec = typeof historySpec extends fc.Arbitrary<infer T> ? T : never;

/**
 * Keys and characters LiveKit passes through from apps (participant attributes and metadata are
 * app-defined strings): object keys that are JavaScript built-ins, a noncharacter, an emoji.
 */
const ODD_ATTRIBUTES: Record<string, unknown> = JSON.parse(
  JSON.stringify({ constructor: 'c', toString: 't', hasOwnProperty: 'h', '\uFFFE': '\uFFFF', 'emoji 😀': '🎉' }).replace(
    /^\{/,
    '{"__proto__":{"polluted":"yes"},',
  ),
);
const withOddFields = (event: WebhookEvent): WebhookEvent => ({
  ...event,
  participant: {
    ...event.participant,
    name: 'N\uFFFE 😀',
    metadata: '{"constructor":{"prototype":1},"x":"\uFFFF"}',
    attributes: ODD_ATTRIBUTES,
  },
});

/** Events the reconciler synthesized (delivered with the queue message attribute `source=reconciler`). */
const REPAIRS = new WeakSet<WebhookEvent>();
const repair = (event: WebhookEvent): WebhookEvent => (REPAIRS.add(event), event);

interface History {
  readonly events: WebhookEvent[];
  /** Lifecycle change ids (with their detail type and final status) the history implies. */
  readonly expectedLifecycle: string[];
}

function buildHistory(spec: HistorySpec, runId: number): History {
  let clock = 1_771_351_800;
  const tick = () => (clock += 1 + (clock % 3));
  const events: WebhookEvent[] = [];
  const expected: string[] = [];
  const room = { sid: `RM_${runId}`, name: spec.roomName };
  const ends: WebhookEvent[] = [];

  const roomEvents = (life: string) => {
    if (life !== 'end-only') events.push(roomStarted(room, tick()));
    expected.push(`room:${room.sid}:started|room.started|ACTIVE`);
    if (life !== 'start-only') {
      ends.push(roomFinished(room, 0));
      if (spec.finishTwice) ends.push(roomFinished(room, 0));
      expected.push(`room:${room.sid}:ended|room.finished|FINISHED`);
    }
  };
  roomEvents(spec.room);

  spec.participants.forEach((p, i) => {
    const participant = { sid: `PA_${i}`, identity: p.identity };
    const odd = (event: WebhookEvent) => (p.odd ? withOddFields(event) : event);
    if (p.kind === 'aborted') {
      events.push(odd({ ...participantLeft(room, participant, tick(), 3), event: 'participant_connection_aborted' }));
      expected.push(
        `participant:${participant.sid}:started|participant.joined|ACTIVE`,
        `participant:${participant.sid}:ended|participant.connection_aborted|ABORTED`,
      );
      return;
    }
    if (p.kind === 'left-then-aborted') {
      // A repair's participant_left, then LiveKit's own participant_connection_aborted with a higher version.
      events.push(repair(participantLeft(room, participant, tick(), 3)));
      events.push(odd({ ...participantLeft(room, participant, tick(), 4), event: 'participant_connection_aborted' }));
      expected.push(
        `participant:${participant.sid}:started|participant.joined|ACTIVE`,
        `participant:${participant.sid}:ended|participant.left|LEFT`,
      );
      return;
    }
    const joinedAt = tick();
    if (p.life !== 'end-only') events.push(odd(participantJoined(room, participant, joinedAt)));
    expected.push(`participant:${participant.sid}:started|participant.joined|ACTIVE`);
    p.tracks.forEach((life, t) => {
      const trackSid = `TR_${i}_${t}`;
      const published = tick();
      if (life !== 'end-only') events.push(trackPublished(room, participant, trackSid, published));
      expected.push(`track:${trackSid}:started|track.published|PUBLISHED`);
      if (life !== 'start-only') {
        events.push(trackUnpublished(room, participant, trackSid, tick()));
        expected.push(`track:${trackSid}:ended|track.unpublished|UNPUBLISHED`);
      }
    });
    if (p.life !== 'start-only') {
      events.push(odd(participantLeft(room, participant, tick(), 5, undefined, joinedAt)));
      expected.push(`participant:${participant.sid}:ended|participant.left|LEFT`);
    }
  });

  spec.egresses.forEach((e, i) => {
    const egressId = `EG_${i}`;
    if (!e.started && e.updates.length === 0 && !e.end) return;
    if (e.started) events.push(egressEvent('egress_started', room, egressId, 'EGRESS_STARTING', tick()));
    for (const status of e.updates) events.push(egressEvent('egress_updated', room, egressId, status, tick()));
    expected.push(`egress:${egressId}:started|egress.started|*`);
    if (e.end) {
      const ended = egressEvent('egress_ended', room, egressId, e.end, tick());
      events.push(ended);
      if (e.endTwice) events.push({ ...ended, id: `${ended.id}x` });
      expected.push(`egress:${egressId}:ended|egress.ended|${e.end}`);
      if (e.laterEnd) events.push(egressEvent('egress_ended', room, egressId, e.laterEnd, tick() + 10));
    }
  });

  // The room finishes last, with a time after everything else.
  for (const end of ends) events.push(roomFinished(room, tick(), end.id));
  return { events, expectedLifecycle: expected.sort() };
}

const isLifecycle = (change: StateChange) => /:(started|ended)$/.test(change.changeId);
const isCorrection = (change: StateChange) => /:corrected:/.test(change.changeId);
const lifecycleKey = (change: StateChange) =>
  `${change.changeId}|${change.detailType}|${change.detailType === 'egress.started' ? '*' : String(change.new.status)}`;
/**
 * A change's identity and outcome. A started change's `new` is the state the entity was first
 * seen in, which depends on which event came first, so only its identity is compared.
 */
const fullKey = (change: StateChange) =>
  JSON.stringify([change.changeId, change.detailType, change.entity, change.changeId.endsWith(':started') ? '*' : change.new.status]);
/**
 * Which terminal event's content an ended change carries depends on which arrived first when an
 * entity has several (the feed then corrects it, see 5.); its identity does not.
 */
const identityKey = (change: StateChange) =>
  JSON.stringify([change.changeId, change.entity, change.changeId.endsWith(':started') ? change.detailType : '*']);

async function deliver(records: WebhookEvent[][], options: { recordConcurrency: number }) {
  const tableName = await local.engine.createStateTable();
  const feed = startChangeFeed(local.engine, tableName);
  const processor = createProcessor({
    ddb: local.engine.documentClient,
    tableName,
    logger: memoryLogger('error').logger,
    eventRecordTtlDays: 30,
    recordConcurrency: options.recordConcurrency,
  });
  // One conditional write per event: no read-decide-write race is left, so no record may fail.
  for (const batch of records) {
    const results = await processor.processRecords(
      batch.map((event) => sqsRecord(event, { source: REPAIRS.has(event) ? 'reconciler' : 'webhook' })),
    );
    expect(results.filter((result) => result.error || result.outcome === 'rejected')).toEqual([]);
  }
  await feed.drain();
  await feed.stop();
  expect(feed.source.failures).toEqual([]);
  const items = await entityState(local.engine.documentClient, tableName);
  await local.engine.deleteTable(tableName);
  // Late-arrival evidence is not an entity: it records when a late delivery reached us (the last
  // late delivery wins), so only which rooms were flagged can agree between deliveries.
  const isEvidence = (item: Record<string, unknown>) => item.pk === keys.lateArrivalsPk;
  return {
    state: items.filter((item) => !isEvidence(item)),
    lateRooms: items.filter(isEvidence).map((item) => String(item.sk)),
    changes: [...feed.published],
  };
}

/** 5. The last change published for each ended entity carries the entity's final status and info. */
function expectLastChangeIsFinal(run: { state: Record<string, unknown>[]; changes: StateChange[] }) {
  for (const item of run.state as EntityItem[]) {
    if (!item.terminal) continue;
    const id = item.entityType === 'ingress' ? `${item.entityId}#${item.sessionId as string}` : item.entityId;
    const last = run.changes.filter((change) => change.changeId.startsWith(`${item.entityType}:${id}:`)).at(-1);
    expect(last && { changeId: last.changeId, status: last.new.status, info: JSON.stringify(last.new.info) }).toEqual({
      changeId: last?.changeId,
      status: item.status,
      info: item.info,
    });
  }
}

let runId = 0;

test('any order with duplicates converges to the in-order state and publishes the same lifecycle changes', async () => {
  const scenario = historySpec
    .map((spec) => buildHistory(spec, ++runId))
    .chain((history) =>
      fc.record({
        history: fc.constant(history),
        duplicates: fc.array(fc.nat({ max: history.events.length - 1 }), { maxLength: 6 }),
        order: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), {
          minLength: history.events.length + 6,
          maxLength: history.events.length + 6,
        }),
        batchSizes: fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 5 }),
      }),
    );

  await fc.assert(
    fc.asyncProperty(scenario, async ({ history, duplicates, order, batchSizes }) => {
      const inOrder = await deliver(
        history.events.map((event) => [event]),
        { recordConcurrency: 1 },
      );

      const deliveries = [...history.events, ...duplicates.map((index) => history.events[index])];
      const shuffled = deliveries
        .map((event, i) => ({ event, key: order[i] }))
        .sort((a, b) => a.key - b.key)
        .map((d) => d.event);
      const batches: WebhookEvent[][] = [];
      for (let start = 0, b = 0; start < shuffled.length; b++) {
        const size = batchSizes[b % batchSizes.length];
        batches.push(shuffled.slice(start, start + size));
        start += size;
      }
      const permuted = await deliver(batches, { recordConcurrency: 10 });

      // 1. The same state, attribute for attribute (and the same rooms flagged for the reconciler).
      expect(permuted.state).toEqual(inOrder.state);
      expect(permuted.lateRooms).toEqual(inOrder.lateRooms);

      // 2. The same lifecycle changes, and exactly those the history implies.
      const lifecycleOf = (changes: StateChange[]) => changes.filter(isLifecycle).map(identityKey).sort();
      expect(lifecycleOf(permuted.changes)).toEqual(lifecycleOf(inOrder.changes));
      expect(inOrder.changes.filter(isLifecycle).map(lifecycleKey).sort()).toEqual(history.expectedLifecycle);

      // 3. Each change once per delivery.
      for (const run of [inOrder, permuted]) {
        const changeIds = run.changes.map((change) => change.changeId);
        expect(new Set(changeIds).size).toBe(changeIds.length);
      }

      // 4. In-state changes: never one the in-order delivery did not publish.
      const inStateIds = new Set(inOrder.changes.filter((c) => !isLifecycle(c) && !isCorrection(c)).map(fullKey));
      for (const change of permuted.changes.filter((c) => !isLifecycle(c) && !isCorrection(c)))
        expect(inStateIds).toContain(fullKey(change));

      // 5. The feed ends on the final state of every ended entity, in both deliveries.
      expectLastChangeIsFinal(inOrder);
      expectLastChangeIsFinal(permuted);
    }),
    { numRuns: 100 },
  );
}, 300_000); // 100 runs of two deliveries each against DynamoDB Local: about 70 s on an idle 2-core machine
