/**
 * Each diff module of a run on its own (unit tests: the state table and LiveKit API are stubs),
 * the grace rules of settle.ts, and the free evidence of evidence.ts. The end-to-end behaviour is
 * in reconciler.e2e / realities.e2e / ingress.e2e.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  EgressInfo,
  EgressStatus,
  IngressInfo,
  IngressState,
  IngressState_Status,
  ParticipantInfo,
  ParticipantInfo_State,
  Room,
  TrackInfo,
} from '@livekit/protocol';
import { ServerError } from 'livekit-server-sdk';
import { ApiGate } from '../../../lambda/reconcile/api-gate';
import type { PendingDifference } from '../../../lambda/reconcile/bookkeeping';
import type { DiffContext, Observation } from '../../../lambda/reconcile/diff/context';
import { diffEgress } from '../../../lambda/reconcile/diff/egress';
import { diffIngress } from '../../../lambda/reconcile/diff/ingress';
import { compareRoomParticipants, diffOrphanParticipants } from '../../../lambda/reconcile/diff/participants';
import { diffRooms } from '../../../lambda/reconcile/diff/rooms';
import { compareRoomTracks, diffOrphanTracks, tracksByRoom } from '../../../lambda/reconcile/diff/tracks';
import { unknownReferenceRooms } from '../../../lambda/reconcile/evidence';
import type { LiveKitApi } from '../../../lambda/reconcile/livekit-api';
import { countsInNumParticipants, LocalParticipant, LocalState, LocalTrack } from '../../../lambda/reconcile/local-state';
import { newReport } from '../../../lambda/reconcile/report';
import { classify, REPAIR_ORDER } from '../../../lambda/reconcile/settle';
import { Logger } from '../../../lambda/shared/logger';

const participant = (sid: string, roomSid: string, overrides: Partial<LocalParticipant> = {}): LocalParticipant => ({
  sid,
  identity: `id-${sid}`,
  roomSid,
  roomName: `name-${roomSid}`,
  rev: '1.1',
  kind: 'STANDARD',
  ...overrides,
});

function localState(overrides: Partial<LocalState> = {}): LocalState {
  return {
    rooms: new Map(),
    participantsByRoom: new Map(),
    egresses: new Map(),
    ingressSessions: new Map(),
    tracksByParticipant: new Map(),
    ...overrides,
  };
}

/** A context whose table holds `existing` keys (`pk`) and whose LiveKit API is `livekit`. */
function context(local: LocalState, options: { existing?: string[]; livekit?: Partial<LiveKitApi> } = {}) {
  const observed: Observation[] = [];
  const checked = new Set<string>();
  const failures: string[] = [];
  const existing = new Set(options.existing ?? []);
  const ddb = {
    send: async (command: { input: { RequestItems?: Record<string, { Keys: { pk: string; sk: string }[] }> } }) => {
      const request = command.input.RequestItems;
      if (!request) return {};
      const [table, { Keys }] = Object.entries(request)[0];
      return { Responses: { [table]: Keys.filter((key) => existing.has(key.pk)) } };
    },
  } as unknown as DynamoDBDocumentClient;
  const gate = new ApiGate({ requestBudget: 10, concurrency: 2, deadline: Date.now() + 60_000, clock: Date.now, backoffBaseMs: 1 });
  const ctx: DiffContext = {
    ddb,
    tableName: 'state',
    livekit: {
      listRooms: async () => [],
      listParticipants: async () => [],
      listEgress: async () => [],
      listIngress: async () => [],
      ...options.livekit,
    },
    gate,
    logger: new Logger({ service: 'test', level: 'error', sink: () => undefined }),
    concurrency: 2,
    local,
    report: newReport(Date.now(), gate.calls, gate.errors),
    nowMs: Date.now,
    nowSeconds: () => Math.floor(Date.now() / 1000),
    observe: (observation) => observed.push(observation),
    check: (scope) => checked.add(scope),
    fail: (what) => failures.push(what),
  };
  const seen = () => observed.map((o) => `${o.eventType}:${o.entityId}@${o.scope}`).sort();
  return { ctx, observed, checked, failures, seen };
}

describe('diff/rooms', () => {
  test('a room listed and unknown locally is a missed room_started; a local active room not listed a missed room_finished', () => {
    const { ctx, seen, checked } = context(
      localState({
        rooms: new Map([
          ['RM_gone', { sid: 'RM_gone', name: 'gone', rev: '1' }],
          ['RM_both', { sid: 'RM_both', name: 'both', rev: '1' }],
        ]),
      }),
    );
    diffRooms(
      ctx,
      new Map([
        ['RM_new', new Room({ sid: 'RM_new', name: 'new' })],
        ['RM_both', new Room({ sid: 'RM_both', name: 'both' })],
      ]),
    );
    expect(seen()).toEqual(['room_finished:RM_gone@rooms', 'room_started:RM_new@rooms']);
    expect(checked.has('rooms')).toBe(true);
  });
});

describe('diff/participants', () => {
  test('participants of a room ListRooms does not list are missed lefts, whether the room is active, finished or unknown locally', () => {
    const local = localState({
      rooms: new Map([['RM_active', { sid: 'RM_active', name: 'a', rev: '1' }]]),
      participantsByRoom: new Map([
        ['RM_active', [participant('PA_1', 'RM_active')]],
        ['RM_finished_or_unknown', [participant('PA_2', 'RM_finished_or_unknown')]],
        ['RM_live', [participant('PA_3', 'RM_live')]],
      ]),
    });
    const { ctx, observed, seen } = context(local);
    diffOrphanParticipants(ctx, new Map([['RM_live', new Room({ sid: 'RM_live', name: 'live' })]]));
    expect(seen()).toEqual(['participant_left:PA_1@rooms', 'participant_left:PA_2@rooms']);
    expect(observed.map((o) => [o.roomSid, o.roomName])).toEqual([
      ['RM_active', 'name-RM_active'],
      ['RM_finished_or_unknown', 'name-RM_finished_or_unknown'],
    ]);
  });

  test('a verified room: an ACTIVE participant unknown locally is a missed join (a JOINING one is not); a local one not listed a missed leave', async () => {
    const { ctx, seen } = context(localState());
    const room = new Room({ sid: 'RM_1', name: 'one' });
    await compareRoomParticipants(
      ctx,
      room,
      [
        new ParticipantInfo({ sid: 'PA_new', identity: 'alice', state: ParticipantInfo_State.ACTIVE }),
        new ParticipantInfo({ sid: 'PA_joining', identity: 'bob', state: ParticipantInfo_State.JOINING }),
        new ParticipantInfo({ sid: 'PA_kept', identity: 'carol', state: ParticipantInfo_State.ACTIVE }),
      ],
      [participant('PA_kept', 'RM_1'), participant('PA_old', 'RM_1')],
    );
    expect(seen()).toEqual(['participant_joined:PA_new@room#RM_1', 'participant_left:PA_old@room#RM_1']);
  });

  test('a verified room: an ACTIVE participant whose sid we hold a tombstone of (a stale listing of a closed session) is no missed join', async () => {
    // LiveKit's store can list a closed session again for a while (livekit/livekit
    // pkg/service/roommanager.go StoreParticipant racing the close's DeleteParticipant).
    const { ctx, seen } = context(localState(), { existing: ['PARTICIPANT#PA_left'] });
    await compareRoomParticipants(
      ctx,
      new Room({ sid: 'RM_1', name: 'one' }),
      [
        new ParticipantInfo({ sid: 'PA_left', identity: 'bob', state: ParticipantInfo_State.ACTIVE }),
        new ParticipantInfo({ sid: 'PA_new', identity: 'alice', state: ParticipantInfo_State.ACTIVE }),
      ],
      [],
    );
    expect(seen()).toEqual(['participant_joined:PA_new@room#RM_1']);
  });

  test('LiveKit counts neither AGENT nor EGRESS participants', () => {
    expect(['STANDARD', 'SIP', 'INGRESS', 'AGENT', 'EGRESS'].filter((kind) => countsInNumParticipants({ kind }))).toEqual([
      'STANDARD',
      'SIP',
      'INGRESS',
    ]);
  });
});

describe('diff/tracks', () => {
  const track = (sid: string, participantSid: string, roomSid: string): LocalTrack => ({
    sid,
    participantSid,
    identity: 'x',
    roomSid,
    roomName: `name-${roomSid}`,
  });

  test('a verified room: a listed track with no item is a missed publish (one with an item is not); a local track not listed a missed unpublish', async () => {
    const { ctx, seen } = context(localState(), { existing: ['TRACK#TR_tombstone'] });
    const remote = [
      new ParticipantInfo({
        sid: 'PA_1',
        identity: 'a',
        state: ParticipantInfo_State.ACTIVE,
        tracks: [new TrackInfo({ sid: 'TR_new' }), new TrackInfo({ sid: 'TR_kept' }), new TrackInfo({ sid: 'TR_tombstone' })],
      }),
    ];
    await compareRoomTracks(ctx, new Room({ sid: 'RM_1', name: 'one' }), remote, [
      track('TR_kept', 'PA_1', 'RM_1'),
      track('TR_gone', 'PA_1', 'RM_1'),
      track('TR_left', 'PA_2', 'RM_1'),
    ]);
    expect(seen()).toEqual([
      'track_published:TR_new@room#RM_1',
      'track_unpublished:TR_gone@room#RM_1',
      'track_unpublished:TR_left@room#RM_1',
    ]);
    expect(ctx.report.tracksChecked).toBe(3);
  });

  test('a track LiveKit lists under a participant not yet ACTIVE is no missed unpublish (its publish is no missed publish either)', async () => {
    // LiveKit sends track_published when the media arrives, which need not wait for ACTIVE.
    const { ctx, seen } = context(localState());
    const remote = [
      new ParticipantInfo({
        sid: 'PA_j',
        identity: 'j',
        state: ParticipantInfo_State.JOINING,
        tracks: [new TrackInfo({ sid: 'TR_early' })],
      }),
      new ParticipantInfo({ sid: 'PA_d', identity: 'd', state: ParticipantInfo_State.JOINED, tracks: [new TrackInfo({ sid: 'TR_new' })] }),
    ];
    await compareRoomTracks(ctx, new Room({ sid: 'RM_1', name: 'one' }), remote, [track('TR_early', 'PA_j', 'RM_1')]);
    expect(seen()).toEqual([]);
  });

  test('tracks of a room ListRooms does not list are missed unpublishes', () => {
    const local = localState({
      tracksByParticipant: new Map([
        ['PA_1', [track('TR_1', 'PA_1', 'RM_gone')]],
        ['PA_2', [track('TR_2', 'PA_2', 'RM_live')]],
      ]),
    });
    const { ctx, seen } = context(local);
    diffOrphanTracks(ctx, new Map([['RM_live', new Room({ sid: 'RM_live' })]]), tracksByRoom(local.tracksByParticipant));
    expect(seen()).toEqual(['track_unpublished:TR_1@rooms']);
  });
});

describe('diff/egress', () => {
  test('active unknown → started; further along → updated; open locally and not listed → looked up by id: terminal → ended, not_found → unknown to LiveKit', async () => {
    const local = localState({
      egresses: new Map([
        ['EG_behind', { egressId: 'EG_behind', status: 'EGRESS_STARTING', version: 1n }],
        ['EG_ended', { egressId: 'EG_ended', status: 'EGRESS_ACTIVE', version: 1n }],
        ['EG_forgotten', { egressId: 'EG_forgotten', status: 'EGRESS_ACTIVE', version: 1n }],
        ['EG_paged', { egressId: 'EG_paged', status: 'EGRESS_ACTIVE', version: 1n }],
      ]),
    });
    const byId: Record<string, EgressInfo | undefined> = {
      EG_ended: new EgressInfo({ egressId: 'EG_ended', status: EgressStatus.EGRESS_COMPLETE }),
      EG_paged: new EgressInfo({ egressId: 'EG_paged', status: EgressStatus.EGRESS_ACTIVE }),
    };
    const { ctx, seen, checked } = context(local, {
      existing: ['EGRESS#EG_known_terminal'],
      livekit: {
        listEgress: async ({ egressId }) => {
          const info = egressId ? byId[egressId] : undefined;
          if (!info) throw new ServerError('not_found', 'egress does not exist', 404, 'not_found');
          return [info];
        },
      },
    });
    await diffEgress(ctx, [
      new EgressInfo({ egressId: 'EG_new', status: EgressStatus.EGRESS_ACTIVE }),
      new EgressInfo({ egressId: 'EG_known_terminal', status: EgressStatus.EGRESS_ACTIVE }),
      new EgressInfo({ egressId: 'EG_behind', status: EgressStatus.EGRESS_ACTIVE }),
    ]);
    expect(seen()).toEqual([
      'egress_ended:EG_ended@egress#EG_ended',
      'egress_started:EG_new@egress#EG_new',
      'egress_updated:EG_behind@egress#EG_behind',
    ]);
    expect(ctx.report.unknownEgresses).toEqual(['EG_forgotten']);
    expect(checked.has('egress#EG_paged')).toBe(true);
  });
});

describe('diff/ingress', () => {
  const publishing = (ingressId: string, resourceId: string) =>
    new IngressInfo({
      ingressId,
      roomName: 'studio',
      state: new IngressState({ status: IngressState_Status.ENDPOINT_PUBLISHING, resourceId }),
    });

  test('an active session absent from the listing is looked up by id: still publishing → nothing; not_found → ended; a listed session no longer live → ended', async () => {
    const session = (ingressId: string, sessionId: string) =>
      [`${ingressId}#${sessionId}`, { ingressId, sessionId, roomName: 'studio' }] as const;
    const local = localState({
      ingressSessions: new Map([session('IN_hidden', 'RT_1'), session('IN_deleted', 'RT_2'), session('IN_moved', 'RT_3')]),
    });
    const { ctx, seen } = context(local, {
      livekit: {
        listIngress: async (options) => {
          if (options?.ingressId === 'IN_hidden') return [publishing('IN_hidden', 'RT_1')];
          throw new ServerError('not_found', 'ingress does not exist', 404, 'not_found');
        },
      },
    });
    await diffIngress(ctx, [publishing('IN_moved', 'RT_9')]);
    expect(seen()).toEqual([
      'ingress_ended:IN_deleted#RT_2@ingress#IN_deleted#RT_2',
      'ingress_ended:IN_moved#RT_3@ingress#IN_moved#RT_3',
      'ingress_started:IN_moved#RT_9@ingress',
    ]);
    expect(ctx.gate.calls.ListIngress).toBe(2);
  });
});

describe('settle.classify (grace period)', () => {
  const observation = (repairId: string, eventType: Observation['eventType'], scope = 'rooms'): Observation => ({
    repairId,
    eventType,
    entityId: repairId,
    scope,
    build: async () => undefined,
  });
  const pendingOf = (repairId: string, firstSeenAt: number, extra: Partial<PendingDifference> = {}): PendingDifference => ({
    repairId,
    eventType: 'participant_left',
    entityId: repairId,
    scope: 'rooms',
    firstSeenAt,
    lastSeenAt: firstSeenAt,
    observations: 1,
    ...extra,
  });

  test('due after two sightings spanning the grace; waiting before; resolved when its scope was checked and it was not seen; repairs in LiveKit order', () => {
    const observed = new Map(
      [observation('finished', 'room_finished'), observation('left', 'participant_left'), observation('fresh', 'participant_joined')].map(
        (o) => [o.repairId, o] as const,
      ),
    );
    const pending = new Map([
      ['finished', pendingOf('finished', 0, { eventType: 'room_finished' })],
      ['left', pendingOf('left', 0)],
      ['gone', pendingOf('gone', 0)],
      ['elsewhere', pendingOf('elsewhere', 0, { scope: 'room#RM_x' })],
    ]);
    const { resolved, waiting, due } = classify(observed, pending, new Set(['rooms']), 1000, 5000);
    expect(due.map((d) => d.observation.repairId)).toEqual(['left', 'finished']);
    expect(REPAIR_ORDER.participant_left).toBeLessThan(REPAIR_ORDER.room_finished);
    expect(waiting.map((w) => [w.repairId, w.observations])).toEqual([['fresh', 1]]);
    expect(resolved.map((r) => r.repairId)).toEqual(['gone']);
  });

  test('a claimed difference is not due again', () => {
    const observed = new Map([['left', observation('left', 'participant_left')]]);
    const { due, waiting } = classify(
      observed,
      new Map([['left', pendingOf('left', 0, { repairedAt: 10 })]]),
      new Set(['rooms']),
      1000,
      5000,
    );
    expect([due, waiting]).toEqual([[], []]);
  });
});

describe('evidence', () => {
  test('a published track whose participant we do not hold as present flags its room', () => {
    const local = localState({
      participantsByRoom: new Map([['RM_ok', [participant('PA_1', 'RM_ok')]]]),
      tracksByParticipant: new Map([
        ['PA_1', [{ sid: 'TR_1', participantSid: 'PA_1', roomSid: 'RM_ok' }]],
        ['PA_unknown', [{ sid: 'TR_2', participantSid: 'PA_unknown', roomSid: 'RM_suspect' }]],
      ]),
    });
    expect([...unknownReferenceRooms(local)]).toEqual(['RM_suspect']);
  });
});
