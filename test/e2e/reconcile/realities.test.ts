/**
 * The reconciler against LiveKit as its source says it behaves (docs/reconciler.md, "LiveKit as it
 * really is"), end to end: the simulator (webhooks with LiveKit's delivery rules and event filter,
 * its Twirp API over real HTTP) drives the local pipeline (real ingest, fauxqs, the real
 * processor, DynamoDB Local) with the reconciler on its timer. Each test is one way a model built
 * from the happy path left users in the wrong state, repaired too late, or paged for nothing.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ParticipantInfo, ParticipantInfo_State } from '@livekit/protocol';
import { DEFAULT_CONFIG, parseConfig } from '../../../lib/config';
import { keys } from '../../../contracts/table-schema';
import type { LocalPipeline } from '../../../local/local-pipeline';
import type { LiveKitSimulator } from '../../../simulator';
import { config, entityState, eventually, localView, runsAfter, runsSpanningGrace, useHarness } from '../../support/reconcile-harness';

const harness = useHarness();

/** Dropped events by type among the deliveries after `mark` (`sim.deliveries().length` taken earlier). */
function droppedSince(sim: LiveKitSimulator, mark: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const d of sim.deliveries().slice(mark)) if (d.outcome === 'dropped') counts[d.type] = (counts[d.type] ?? 0) + 1;
  return counts;
}

const present = async (pipeline: LocalPipeline) =>
  Object.values((await localView(pipeline.documentClient, pipeline.tableName)).participants)
    .flat()
    .sort();
const truthPresent = (sim: LiveKitSimulator) =>
  sim
    .rooms()
    .flatMap((room) => sim.participants(room.name).map((p) => p.sid))
    .sort();

describe('the reconciler against LiveKit as it really is', () => {
  test('(1a) room_finished delivered, one participant_left dropped: the orphaned participant is repaired LEFT, one missed participant_left', async () => {
    const h = await harness();
    try {
      const { sim, proxy } = h;
      sim.join('orphans', 'stays');
      const lost = sim.join('orphans', 'lost');
      await sim.idle();
      await h.converged();

      const mark = sim.deliveries().length;
      const missedBefore = h.missed();
      const lostLeft = () => sim.events('participant_left').find((e) => e.event.participant?.sid === lost.sid)?.id;
      // Our endpoint refuses the one participant_left (LiveKit: delivered, not retried; nothing waits
      // behind it) and acknowledges the others at once, so no neighbour ages out on a loaded machine.
      proxy.decide = (event) => (event.event === 'participant_left' && event.id === lostLeft() ? { kind: 'reject' } : { kind: 'ack' });
      sim.endRoom('orphans'); // participant_left x2, room_finished
      await sim.idle();
      expect(droppedSince(sim, mark)).toEqual({});
      expect(
        sim
          .deliveries()
          .slice(mark)
          .map((d) => `${d.type}:${d.status}`),
      ).toEqual(['participant_left:200', 'participant_left:400', 'room_finished:200']);
      // room_finished arrived: the room is finished locally, with one participant still present.
      await eventually(
        async () => (await localView(h.pipeline.documentClient, h.pipeline.tableName)).rooms,
        (rooms) => Object.keys(rooms).length === 0,
      );

      await h.converged();
      expect(h.missed('participant_left')).toBe(1);
      expect(h.missed() - missedBefore).toBe(1);
      // The repair record (what `npm run missed` reads) names the room.
      const records = await h.pipeline.documentClient.send(
        new QueryCommand({
          TableName: h.pipeline.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': keys.reconcilePendingPk },
          ConsistentRead: true,
        }),
      );
      expect(records.Items?.find((item) => item.entityId === lost.sid)).toEqual(
        expect.objectContaining({
          eventType: 'participant_left',
          roomName: 'orphans',
          roomSid: expect.stringMatching(/^RM_/),
          firstSeenAt: expect.any(Number),
          repairedAt: expect.any(Number),
        }),
      );
    } finally {
      await h.stop();
    }
  });

  test('(1b) a room never known locally (room_started and room_finished dropped): its participant is still repaired LEFT', async () => {
    const h = await harness();
    try {
      const { sim, proxy } = h;
      const mark = sim.deliveries().length;
      proxy.decide = (event) =>
        event.event === 'room_started' || event.event === 'room_finished' || event.event === 'participant_left'
          ? { kind: 'fail' }
          : { kind: 'ack' };
      sim.join('ghost', 'g1');
      await sim.idle();
      // Only participant_joined arrived: a participant of a room we never saw.
      await eventually(
        () => present(h.pipeline),
        (sids) => sids.length === 1,
      );
      sim.endRoom('ghost');
      await sim.idle();
      proxy.decide = () => ({ kind: 'ack' });
      expect(droppedSince(sim, mark)).toEqual({ room_started: 1, participant_left: 1, room_finished: 1 });

      await eventually(
        () => present(h.pipeline),
        (sids) => sids.length === 0,
        20_000,
      );
      expect(h.missed('participant_left')).toBe(1);
    } finally {
      await h.stop();
    }
  });

  test('(2) a leave-and-rejoin with both webhooks dropped (count unchanged) is repaired within a few runs, not after fullCheckMinutes', async () => {
    const h = await harness();
    try {
      const { sim, proxy, pipeline } = h;
      sim.join('rejoin', 'alice');
      sim.join('rejoin', 'bob');
      await sim.idle();
      await h.converged();
      // The room has been fully verified once since it settled.
      const settled = Date.now();
      await eventually(
        async () => runsAfter(pipeline, settled).filter((run) => run.roomsVerified.length > 0).length,
        (n) => n >= 1,
      );

      const mark = sim.deliveries().length;
      const leftBefore = h.missed('participant_left');
      const joinedBefore = h.missed('participant_joined');
      proxy.decide = (event) => (event.room === 'rejoin' ? { kind: 'fail' } : { kind: 'ack' });
      sim.join('rejoin', 'alice'); // DUPLICATE_IDENTITY: participant_left (old sid), participant_joined (new sid)
      await sim.idle();
      proxy.decide = () => ({ kind: 'ack' });
      expect(droppedSince(sim, mark)).toEqual({ participant_left: 1, participant_joined: 1 });

      const dropped = Date.now();
      await h.converged(15_000);
      expect(h.missed('participant_left') - leftBefore).toBe(1);
      expect(h.missed('participant_joined') - joinedBefore).toBe(1);
      // Within a handful of runs (grace needs two sightings), fullCheckMinutes is 30.
      expect(runsAfter(pipeline, dropped).length).toBeLessThanOrEqual(6);
    } finally {
      await h.stop();
    }
  });

  test('(3) agent and recorded rooms (numParticipants leaves out AGENT and EGRESS) are never count suspects, and nothing is repaired', async () => {
    const h = await harness();
    try {
      const { sim, pipeline } = h;
      for (let i = 0; i < 4; i++) {
        sim.join(`agent-${i}`, 'caller');
        sim.join(`agent-${i}`, 'assistant', { kind: 'AGENT' });
      }
      sim.join('recorded', 'host');
      sim.join('recorded', 'EG_recorder', { kind: 'EGRESS' });
      sim.join('plain', 'p1');
      await sim.idle();
      await h.converged();
      const missedBefore = h.missed();

      const reports = await runsSpanningGrace(pipeline);
      const countSuspects = reports.flatMap((report) => report.roomsVerified.filter((room) => room.reason === 'count'));
      expect(countSuspects).toEqual([]);
      expect(reports.every((report) => report.ok)).toBe(true);
      expect(h.missed() - missedBefore).toBe(0);
    } finally {
      await h.stop();
    }
  });

  test.each([
    ['not_found', 'LiveKit Cloud, enable_psrpc_for_get_list_participants'],
    ['empty', 'a self-hosted server by default'],
  ] as Array<['not_found' | 'empty', string]>)(
    '(4) ListParticipants answering %s (%s) for a room that just closed is "no participants": the run succeeds, nothing is repaired falsely',
    async (answer) => {
      const closing = { room: '', sim: undefined as LiveKitSimulator | undefined };
      const h = await harness({
        simulator: { participantsOfUnknownRoom: answer },
        // The room closes between ListRooms and ListParticipants (LiveKit answers Twirp not_found, or an empty list).
        wrapLiveKitApi: (api) => ({
          ...api,
          listParticipants: async (room) => {
            if (room === closing.room && closing.sim?.rooms().some((r) => r.name === room)) closing.sim.endRoom(room);
            return api.listParticipants(room);
          },
        }),
      });
      try {
        const { sim, pipeline } = h;
        closing.sim = sim;
        sim.join('stays', 's1');
        sim.join('closing', 'c1');
        await sim.idle();
        await h.converged();

        const missedBefore = h.missed();
        closing.room = 'closing';
        const first = await pipeline.reconcileNow();
        expect(first.errors).toEqual([]);
        expect(first.ok).toBe(true);
        await sim.idle();
        await h.converged();
        const later = await runsSpanningGrace(pipeline);
        expect(later.every((report) => report.ok)).toBe(true);
        expect(h.missed() - missedBefore).toBe(0);
        // The simulator really answers so for it.
        if (answer === 'not_found') expect(() => sim.model.apiListParticipants('closing')).toThrow('requested room does not exist');
        else expect(sim.model.apiListParticipants('closing')).toEqual([]);
      } finally {
        await h.stop();
      }
    },
  );

  test('(5) ListIngress paged, and an ingress absent from a listing: looked up by id, no false ingress_ended', async () => {
    const hidden = { id: '' };
    const h = await harness({
      simulator: { apiPageSize: 1 },
      // One listing leaves an ingress out (as a paged or inconsistent listing does); by id it is there.
      wrapLiveKitApi: (api) => ({
        ...api,
        listIngress: async (options) => {
          const items = await api.listIngress(options);
          return options?.ingressId ? items : items.filter((item) => item.ingressId !== hidden.id);
        },
      }),
    });
    try {
      const { sim, pipeline } = h;
      const a = sim.startIngress('studio-a', { identity: 'obs-a' });
      sim.startIngress('studio-b', { identity: 'obs-b' });
      const c = sim.startIngress('studio-c', { identity: 'obs-c' });
      await sim.idle();
      await h.converged();
      hidden.id = c.ingressId;
      const missedBefore = h.missed();
      const before = (await entityState(pipeline)).filter((item) => item.entityType === 'ingress');
      expect(before.map((item) => item.status)).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE']);

      const reports = await runsSpanningGrace(pipeline);
      expect(reports.every((report) => report.ok)).toBe(true);
      expect(h.missed() - missedBefore).toBe(0);
      expect((await entityState(pipeline)).filter((item) => item.entityType === 'ingress').map((item) => item.status)).toEqual([
        'ACTIVE',
        'ACTIVE',
        'ACTIVE',
      ]);

      // A genuine end dropped is still repaired.
      h.proxy.decide = (event) =>
        event.event === 'ingress_ended' || event.event === 'participant_left' ? { kind: 'fail' } : { kind: 'ack' };
      sim.endIngress(a.ingressId);
      await sim.idle();
      h.proxy.decide = () => ({ kind: 'ack' });
      await eventually(
        async () => (await runsSpanningGrace(pipeline), h.missed('ingress_ended')),
        (n) => n >= 1,
      );
      expect(h.missed('ingress_ended')).toBe(1);
    } finally {
      await h.stop();
    }
  });

  test('(6) event types the project filters out are not synthesized, published or counted as missed; the others still are', async () => {
    const webhookEvents = DEFAULT_CONFIG.livekit.webhookEvents.filter(
      (type) => type !== 'participant_joined' && type !== 'participant_left',
    );
    const h = await harness({
      intervalMs: 3_600_000,
      webhookFilter: { excludeEvents: ['participant_joined', 'participant_left'] },
      config: parseConfig({ ...JSON.parse(JSON.stringify(config)), livekit: { ...config.livekit, webhookEvents } }),
    });
    try {
      const { sim, proxy, pipeline } = h;
      sim.join('filtered', 'a');
      sim.join('filtered', 'b');
      sim.leave('filtered', 'a');
      await sim.idle();
      expect(sim.stats().filtered).toBe(3);
      await runsSpanningGrace(pipeline);
      expect(h.missed()).toBe(0);
      expect(pipeline.changes.filter((change) => change.source === 'reconciler')).toEqual([]);

      // A type the project does send, dropped, is still repaired.
      proxy.decide = (event) => (event.event === 'room_finished' ? { kind: 'fail' } : { kind: 'ack' });
      sim.endRoom('filtered');
      await sim.idle();
      await eventually(
        async () => (await runsSpanningGrace(pipeline), h.missed('room_finished')),
        (n) => n >= 1,
      );
      expect(h.missed('room_finished')).toBe(1);
      expect(h.missed()).toBe(1);
      expect(truthPresent(sim)).toEqual([]);
    } finally {
      await h.stop();
    }
  });

  test("(7) tracks are reconciled from ListParticipants' track lists: a dropped track_published and a dropped track_unpublished are repaired", async () => {
    const h = await harness();
    try {
      const { sim, proxy, pipeline } = h;
      sim.join('tracks', 'speaker');
      const kept = sim.publishTrack('tracks', 'speaker', { source: 'MICROPHONE' });
      await sim.idle();
      await eventually(
        async () => (await entityState(pipeline)).some((item) => item.entityId === kept.sid && item.status === 'PUBLISHED'),
        Boolean,
      );
      const before = { published: h.missed('track_published'), unpublished: h.missed('track_unpublished') };

      proxy.decide = (event) =>
        event.event === 'track_published' || event.event === 'track_unpublished' ? { kind: 'reject' } : { kind: 'ack' };
      const camera = sim.publishTrack('tracks', 'speaker', { source: 'CAMERA' });
      sim.unpublishTrack('tracks', 'speaker', kept.sid);
      await sim.idle();
      proxy.decide = () => ({ kind: 'ack' });

      const status = async (sid: string) => (await entityState(pipeline)).find((item) => item.entityId === sid)?.status;
      await eventually(
        async () => [await status(camera.sid), await status(kept.sid)],
        ([c, k]) => c === 'PUBLISHED' && k === 'UNPUBLISHED',
        20_000,
      );
      expect(h.missed('track_published') - before.published).toBe(1);
      expect(h.missed('track_unpublished') - before.unpublished).toBe(1);
    } finally {
      await h.stop();
    }
  });

  test('(8) a stale ListParticipants lists a closed session ACTIVE again (we hold its tombstone): no missed participant_joined, nothing repaired', async () => {
    // Self-hosted LiveKit answers ListParticipants from its store, written without ordering
    // (livekit/livekit pkg/service/roommanager.go OnParticipantChanged -> StoreParticipant, racing
    // the close's DeleteParticipant): a closed session can be listed again until its next change.
    const stale: { room: string; participant?: ParticipantInfo } = { room: '' };
    const h = await harness({
      intervalMs: 3_600_000,
      wrapLiveKitApi: (api) => ({
        ...api,
        listParticipants: async (room) => {
          const listed = await api.listParticipants(room);
          return room === stale.room && stale.participant ? [...listed, stale.participant] : listed;
        },
      }),
    });
    try {
      const { sim, pipeline } = h;
      sim.join('standup', 'alice');
      const bob = sim.join('standup', 'bob');
      await sim.idle();
      await h.converged();
      stale.participant = sim
        .participants('standup')
        .find((p) => p.sid === bob.sid)!
        .clone();
      expect(stale.participant.state).toBe(ParticipantInfo_State.ACTIVE);
      sim.leave('standup', 'bob');
      await sim.idle();
      await h.converged();
      const before = await entityState(pipeline);
      expect(before.find((item) => item.entityId === bob.sid)).toEqual(expect.objectContaining({ status: 'LEFT', terminal: true }));

      stale.room = 'standup';
      const reports = await runsSpanningGrace(pipeline);
      expect(reports.every((report) => report.ok && report.roomsVerified.some((room) => room.name === 'standup'))).toBe(true);
      expect(reports.flatMap((report) => report.repairs)).toEqual([]);
      expect(h.missed()).toBe(0);
      expect(await entityState(pipeline)).toEqual(before);
    } finally {
      await h.stop();
    }
  });
});
