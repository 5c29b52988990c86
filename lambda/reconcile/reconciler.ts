/**
 * The reconciler: diffs what LiveKit's server API says exists now against the state table, and
 * turns each difference that outlived the grace period into a synthesized event (a repair) sent
 * through the same queue and processor as LiveKit's webhooks. docs/reconciler.md is the contract.
 *
 * One run:
 *   1. reads local state (one Scan of the open index) and its own bookkeeping (two Queries);
 *   2. `ListRooms` (once), `ListEgress({ active: true })` (once) and `ListIngress` (once);
 *   3. rooms: live remotely, unknown locally → missed `room_started`; active locally, not listed
 *      → missed `room_finished` (and a `participant_left` for each participant we still have);
 *   4. egress: active remotely, unknown locally → missed `egress_started`; further along remotely
 *      → missed `egress_updated`; open locally, not in the active list → looked up by id, and if
 *      LiveKit says it is terminal → missed `egress_ended` with LiveKit's EgressInfo;
 *   4b. ingress sessions (ingress id + resource id): publishing remotely, unknown locally → missed
 *      `ingress_started` with LiveKit's IngressInfo; active locally, not live remotely (ingress gone,
 *      inactive/complete/error, or another session now) → missed `ingress_ended`;
 *   5. participants: `ListParticipants` for the rooms `planRoomChecks` puts first, while the
 *      request and time budgets last: present remotely only → missed `participant_joined`;
 *      present locally only → missed `participant_left` (a rejoin is a new sid: both apply);
 *   6. a difference is repaired only once it has been seen in consecutive checks spanning more than
 *      the grace period; one that disappears in a later check was an event in flight, and is
 *      forgotten.
 * Safety: a listing that failed (after retries) is never read as "gone": the parts of the diff
 * that depend on it are skipped for this run and their pending differences left as they are.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EgressInfo, EgressStatus, IngressInfo, IngressState, IngressState_Status, ParticipantInfo, ParticipantInfo_State, Room } from '@livekit/protocol';
import type { ReconcileConfig } from '../../lib/config';
import { entityInfo } from '../process/state-model';
import { keys } from '../process/table-schema';
import { Logger } from '../shared/logger';
import { METRIC, MetricDatum, MetricsSink } from '../shared/metrics';
import { ApiGate, BudgetExhaustedError } from './api-gate';
import { Bookkeeping, PendingDifference, RoomVerification } from './bookkeeping';
import type { Enqueue } from './enqueue';
import { isNotFound, LiveKitApi } from './livekit-api';
import {
  existingEgressIds,
  existingIngressSessions,
  getEntity,
  ingressSessionKey,
  loadLocalState,
  LocalParticipant,
  LocalState,
  roomFingerprint,
} from './local-state';
import { CheckReason, planRoomChecks, RoomCandidate } from './plan';
import {
  egressRepair,
  ingressEndedRepair,
  ingressFromStored,
  ingressSessionId,
  ingressStartedRepair,
  MissedEventType,
  participantJoinedRepair,
  participantLeftRepair,
  Repair,
  repairId,
  roomFinishedRepair,
  roomFromStored,
  roomStartedRepair,
} from './repairs';

export interface ReconcilerOptions {
  readonly livekit: LiveKitApi;
  readonly ddb: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly enqueue: Enqueue;
  readonly metrics: MetricsSink;
  readonly logger: Logger;
  readonly config: ReconcileConfig;
  /** No LiveKit request starts after this many ms from the start of the run. */
  readonly timeBudgetMs: number;
  readonly clock?: () => number;
  /** "Fully verified within the last N minutes" for the coverage metric. Default `config.fullCheckMinutes`. */
  readonly coverageWindowMinutes?: number;
  /** Attempts per LiveKit call (ours, on top of the SDK's own region failover). Default 3. */
  readonly maxAttempts?: number;
  readonly backoffBaseMs?: number;
}

export interface RunReport {
  /** Every listing succeeded and every repair due was sent; a heartbeat was emitted. */
  readonly ok: boolean;
  readonly startedAt: number;
  durationMs: number;
  /** LiveKit API requests made, by method (each attempt counts). */
  readonly apiCalls: Record<string, number>;
  apiCallsTotal: number;
  readonly apiErrors: Record<string, number>;
  apiErrorsTotal: number;
  remoteRooms?: number;
  localRooms?: number;
  /** Rooms whose participants were fully compared this run, with why they were picked. */
  readonly roomsVerified: { sid: string; name: string; reason: CheckReason }[];
  /** Rooms the budget did not reach (first next run). */
  roomsUnreached: number;
  /** Rooms skipped because ListParticipants disagreed with ListRooms (e.g. the room vanished between calls). */
  readonly roomsInconsistent: string[];
  participantsChecked: number;
  egressesChecked: number;
  /** Ingress sessions compared (local active ones and remote publishing ones); undefined when ListIngress was not read. */
  ingressSessionsChecked?: number;
  /** ListIngress was not made: the request or time budget was spent. */
  ingressSkipped?: boolean;
  /** Missed events found (and repaired) this run, by type. */
  readonly missed: Partial<Record<MissedEventType, number>>;
  missedTotal: number;
  readonly repairs: { id: string; eventType: MissedEventType; entityId: string }[];
  /** Differences seen, waiting for the grace period. */
  pendingDifferences: number;
  /** Differences that went away before the grace period ended (events that were in flight). */
  resolvedInFlight: number;
  /** Open egresses LiveKit no longer knows (records expired): reported, left alone. */
  readonly unknownEgresses: string[];
  coveragePercent?: number;
  readonly errors: string[];
}

interface Observation {
  readonly repairId: string;
  readonly eventType: MissedEventType;
  readonly entityId: string;
  readonly scope: string;
  readonly roomSid?: string;
  /** Builds the repair when due; undefined when, looking closer, there is nothing to repair. */
  readonly build: () => Promise<Repair[] | undefined>;
}

/** Parallel DynamoDB/SQS writes of the bookkeeping and repair steps. */
const BOOKKEEPING_CONCURRENCY = 8;

const EGRESS_LIVE_RANK: Record<string, number> = { EGRESS_STARTING: 1, EGRESS_ACTIVE: 2, EGRESS_ENDING: 3 };
const EGRESS_TERMINAL = new Set(['EGRESS_COMPLETE', 'EGRESS_FAILED', 'EGRESS_ABORTED', 'EGRESS_LIMIT_REACHED']);
const egressStatusName = (info: EgressInfo) => EgressStatus[info.status] ?? String(info.status);
/**
 * livekit-server (ioservice UpdateIngressState) sends `ingress_started` when an ingress's status
 * changes to PUBLISHING, `ingress_ended` when it changes to INACTIVE, COMPLETE or ERROR; BUFFERING
 * is only an update. So a session is missed-started only once it is PUBLISHING, and still live
 * (not ended) while BUFFERING or PUBLISHING.
 */
const INGRESS_LIVE = new Set([IngressState_Status.ENDPOINT_BUFFERING, IngressState_Status.ENDPOINT_PUBLISHING]);

/** Runs `work` over `items` with at most `concurrency` at once, stopping when `work` returns false. */
async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<boolean | void>): Promise<number> {
  let next = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped && next < items.length) {
      const item = items[next++];
      if ((await work(item)) === false) stopped = true;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  return Math.max(0, items.length - next);
}

export interface Reconciler {
  run(): Promise<RunReport>;
}

export function createReconciler(options: ReconcilerOptions): Reconciler {
  const { livekit, ddb, tableName, config, logger } = options;
  const clock = options.clock ?? Date.now;
  const graceMs = config.graceSeconds * 1000;
  // A room counts as covered while its last full check is younger than the full-check period.
  const coverageWindowMs = (options.coverageWindowMinutes ?? config.fullCheckMinutes) * 60_000;
  // Bookkeeping outlives several grace periods and coverage windows, then expires on its own.
  const bookkeeping = new Bookkeeping({ ddb, tableName, ttlSeconds: Math.max(86_400, config.graceSeconds * 10) });

  async function run(): Promise<RunReport> {
    const startedAt = clock();
    const deadline = startedAt + options.timeBudgetMs;
    const gate = new ApiGate({
      requestBudget: config.requestBudgetPerRun,
      concurrency: config.concurrency,
      deadline,
      clock,
      maxAttempts: options.maxAttempts,
      backoffBaseMs: options.backoffBaseMs,
    });
    const report: RunReport = {
      ok: false,
      startedAt,
      durationMs: 0,
      apiCalls: gate.calls,
      apiCallsTotal: 0,
      apiErrors: gate.errors,
      apiErrorsTotal: 0,
      roomsVerified: [],
      roomsUnreached: 0,
      roomsInconsistent: [],
      participantsChecked: 0,
      egressesChecked: 0,
      missed: {},
      missedTotal: 0,
      repairs: [],
      pendingDifferences: 0,
      resolvedInFlight: 0,
      unknownEgresses: [],
      errors: [],
    };
    let complete = true;
    const fail = (what: string, error: unknown) => {
      complete = false;
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      report.errors.push(`${what}: ${message}`);
      logger.error('reconcile step failed; the parts of the diff that depend on it are skipped', { step: what, error });
    };

    try {
      let local: LocalState;
      let verifications: Map<string, RoomVerification>;
      let pending: Map<string, PendingDifference>;
      try {
        [local, verifications, pending] = await Promise.all([loadLocalState(ddb, tableName), bookkeeping.loadVerifications(), bookkeeping.loadPending()]);
      } catch (error) {
        fail('read local state', error);
        return report;
      }
      report.localRooms = local.rooms.size;

      const observed = new Map<string, Observation>();
      const checked = new Set<string>();
      const observe = (observation: Observation) => observed.set(observation.repairId, observation);

      const [roomsResult, egressResult, ingressResult] = await Promise.allSettled([
        gate.call('ListRooms', () => livekit.listRooms()),
        gate.call('ListEgress', () => livekit.listEgress({ active: true })),
        gate.call('ListIngress', () => livekit.listIngress()),
      ]);
      const remoteRooms = roomsResult.status === 'fulfilled' ? roomsResult.value : undefined;
      const activeEgress = egressResult.status === 'fulfilled' ? egressResult.value : undefined;
      const remoteIngress = ingressResult.status === 'fulfilled' ? ingressResult.value : undefined;
      if (roomsResult.status === 'rejected') fail('ListRooms', roomsResult.reason);
      if (egressResult.status === 'rejected') fail('ListEgress(active)', egressResult.reason);
      if (ingressResult.status === 'rejected') {
        if (ingressResult.reason instanceof BudgetExhaustedError) {
          // Not a failure of LiveKit's: the ingress part of the diff waits for the next run.
          report.ingressSkipped = true;
          logger.warn('ListIngress skipped: the budget of the run is spent', { reason: ingressResult.reason.reason });
        } else fail('ListIngress', ingressResult.reason);
      }

      const localParticipants = (roomSid: string): LocalParticipant[] => local.participantsByRoom.get(roomSid) ?? [];

      // ---- rooms ----
      const remoteBySid = new Map<string, Room>();
      if (remoteRooms) {
        report.remoteRooms = remoteRooms.length;
        checked.add('rooms');
        for (const room of remoteRooms) if (room.sid) remoteBySid.set(room.sid, room);
        for (const room of remoteBySid.values()) {
          if (local.rooms.has(room.sid)) continue;
          observe({
            repairId: repairId('room_started', room.sid),
            eventType: 'room_started',
            entityId: room.sid,
            scope: 'rooms',
            build: async () => [roomStartedRepair(room, Math.floor(clock() / 1000))],
          });
        }
        for (const room of local.rooms.values()) {
          if (remoteBySid.has(room.sid)) continue;
          observe({
            repairId: repairId('room_finished', room.sid),
            eventType: 'room_finished',
            entityId: room.sid,
            scope: 'rooms',
            build: async () => {
              const stored = await getEntity(ddb, tableName, keys.room(room.sid));
              if (!stored || stored.terminal) return undefined;
              const now = Math.floor(clock() / 1000);
              const finished = roomFinishedRepair({ sid: room.sid, name: room.name, info: entityInfo(stored) }, now);
              // LiveKit sends participant_left for everyone before room_finished; those we still
              // have as present were missed with it.
              const roomInfo = roomFromStored(entityInfo(stored), room.sid, room.name);
              const lefts: Repair[] = [];
              for (const participant of localParticipants(room.sid)) {
                const item = await getEntity(ddb, tableName, keys.participant(participant.sid));
                if (item && !item.terminal) lefts.push(participantLeftRepair(roomInfo, { sid: participant.sid, identity: participant.identity, info: entityInfo(item) }, now));
              }
              return [finished, ...lefts];
            },
          });
        }
      }

      // ---- egress ----
      if (activeEgress) {
        const activeById = new Map(activeEgress.map((info) => [info.egressId, info]));
        const unknown = [...activeById.keys()].filter((id) => !local.egresses.has(id));
        try {
          const existing = await existingEgressIds(ddb, tableName, unknown);
          for (const id of unknown) {
            checked.add(`egress#${id}`);
            report.egressesChecked++;
            if (existing.has(id)) continue;
            const info = activeById.get(id)!;
            observe({
              repairId: repairId('egress_started', id),
              eventType: 'egress_started',
              entityId: id,
              scope: `egress#${id}`,
              build: async () => [egressRepair('egress_started', info, Math.floor(clock() / 1000))],
            });
          }
        } catch (error) {
          fail('read egress items', error);
        }
        const missing: string[] = [];
        for (const egress of local.egresses.values()) {
          const remote = activeById.get(egress.egressId);
          if (!remote) {
            missing.push(egress.egressId);
            continue;
          }
          checked.add(`egress#${egress.egressId}`);
          report.egressesChecked++;
          const status = egressStatusName(remote);
          if ((EGRESS_LIVE_RANK[status] ?? 0) > (EGRESS_LIVE_RANK[egress.status] ?? 0)) {
            observe({
              repairId: repairId('egress_updated', egress.egressId, status),
              eventType: 'egress_updated',
              entityId: egress.egressId,
              scope: `egress#${egress.egressId}`,
              build: async () => [egressRepair('egress_updated', remote, Math.floor(clock() / 1000), status)],
            });
          }
        }
        // Ended egresses are not in the active list (the report-2 case: room deleted under a
        // Room Composite egress): one lookup by id each, only for those we still have open.
        await pool(missing, config.concurrency, async (egressId) => {
          if (!gate.canStart()) return false;
          try {
            const [info] = await gate.call('ListEgress', () => livekit.listEgress({ egressId }));
            if (!info) throw new Error(`ListEgress(${egressId}) answered no item`);
            checked.add(`egress#${egressId}`);
            report.egressesChecked++;
            const status = egressStatusName(info);
            if (!EGRESS_TERMINAL.has(status)) return true;
            observe({
              repairId: repairId('egress_ended', egressId),
              eventType: 'egress_ended',
              entityId: egressId,
              scope: `egress#${egressId}`,
              build: async () => [egressRepair('egress_ended', info, Math.floor(clock() / 1000))],
            });
          } catch (error) {
            if (error instanceof BudgetExhaustedError) return false;
            if (isNotFound(error)) {
              // LiveKit keeps ended egress records ~24 h; without one we cannot know the status,
              // and never invent one.
              report.unknownEgresses.push(egressId);
              logger.warn('open egress unknown to LiveKit; its end cannot be repaired', { egressId });
              return true;
            }
            fail(`ListEgress(${egressId})`, error);
          }
          return true;
        });
      }

      // ---- ingress sessions ----
      // A session is keyed as the processor keys it: ingress id + `state.resourceId` (else
      // `state.startedAt`); ListIngress shows each ingress's current or last session only.
      if (remoteIngress) {
        const remoteById = new Map<string, IngressInfo>();
        const live = new Map<string, IngressInfo>();
        const publishing: { ingressId: string; sessionId: string; info: IngressInfo }[] = [];
        for (const info of remoteIngress) {
          if (!info.ingressId) continue;
          remoteById.set(info.ingressId, info);
          const sessionId = ingressSessionId(info);
          const status = info.state?.status ?? IngressState_Status.ENDPOINT_INACTIVE;
          if (sessionId === undefined || !INGRESS_LIVE.has(status)) continue;
          live.set(ingressSessionKey(info.ingressId, sessionId), info);
          if (status === IngressState_Status.ENDPOINT_PUBLISHING) publishing.push({ ingressId: info.ingressId, sessionId, info });
        }
        const unknown = publishing.filter((session) => !local.ingressSessions.has(ingressSessionKey(session.ingressId, session.sessionId)));
        try {
          const existing = await existingIngressSessions(ddb, tableName, unknown);
          // Only a complete comparison resolves pending ingress differences (one scope for all).
          checked.add('ingress');
          for (const { ingressId, sessionId, info } of unknown) {
            // An item at all (an ended session still listed as publishing: our end arrived first) is no missed start.
            if (existing.has(ingressSessionKey(ingressId, sessionId))) continue;
            observe({
              repairId: repairId('ingress_started', ingressId, sessionId),
              eventType: 'ingress_started',
              entityId: ingressSessionKey(ingressId, sessionId),
              scope: 'ingress',
              build: async () => [ingressStartedRepair(info, Math.floor(clock() / 1000))],
            });
          }
        } catch (error) {
          fail('read ingress items', error);
        }
        for (const session of local.ingressSessions.values()) {
          const key = ingressSessionKey(session.ingressId, session.sessionId);
          if (live.has(key)) continue;
          // LiveKit's own end state, when it still lists this very session (not publishing).
          const remote = remoteById.get(session.ingressId);
          const remoteEnd: IngressState | undefined = remote && ingressSessionId(remote) === session.sessionId ? remote.state : undefined;
          observe({
            repairId: repairId('ingress_ended', session.ingressId, session.sessionId),
            eventType: 'ingress_ended',
            entityId: key,
            scope: 'ingress',
            build: async () => {
              const item = await getEntity(ddb, tableName, keys.ingress(session.ingressId, session.sessionId));
              if (!item || item.terminal) return undefined;
              const stored = ingressFromStored(entityInfo(item), session.ingressId);
              if (ingressSessionId(stored) !== session.sessionId) {
                // The repair would land on another session item: never guess.
                logger.warn('stored ingress session does not name its own session; its end cannot be repaired', { ingressId: session.ingressId, sessionId: session.sessionId });
                return undefined;
              }
              return [ingressEndedRepair(stored, session.sessionId, clock(), remoteEnd)];
            },
          });
        }
        report.ingressSessionsChecked = new Set([...publishing.map((p) => ingressSessionKey(p.ingressId, p.sessionId)), ...local.ingressSessions.keys()]).size;
      }

      // ---- participants ----
      const verified: RoomVerification[] = [];
      if (remoteRooms) {
        const pendingRooms = new Set([...pending.values()].filter((p) => p.scope.startsWith('room#') && !p.repairedAt).map((p) => p.scope.slice('room#'.length)));
        const candidates: RoomCandidate[] = [...remoteBySid.values()].map((room) => {
          const verification = verifications.get(room.sid);
          const localRoom = local.rooms.get(room.sid);
          const participants = localParticipants(room.sid);
          return {
            sid: room.sid,
            name: room.name,
            remoteCount: room.numParticipants,
            localCount: participants.length,
            knownLocally: localRoom !== undefined,
            lastVerifiedAt: verification?.lastVerifiedAt ?? 0,
            changedSinceVerified: verification !== undefined && verification.fingerprint !== roomFingerprint(localRoom, participants),
            hasPending: pendingRooms.has(room.sid),
          };
        });
        const plan = planRoomChecks(candidates, { now: clock(), fullCheckMs: config.fullCheckMinutes * 60_000 });
        let attempted = 0;
        await pool(plan, config.concurrency, async ({ room: candidate, reason }) => {
          if (!gate.canStart()) return false;
          attempted++;
          const room = remoteBySid.get(candidate.sid)!;
          let remote: ParticipantInfo[];
          try {
            remote = await gate.call('ListParticipants', () => livekit.listParticipants(room.name));
          } catch (error) {
            if (error instanceof BudgetExhaustedError) {
              attempted--;
              return false;
            }
            fail(`ListParticipants(${room.name})`, error);
            return true;
          }
          if (remote.length === 0 && room.numParticipants > 0) {
            // LiveKit answers an empty list for a room it no longer has: the room may have ended
            // (or been recreated) since ListRooms. Not evidence that anyone left.
            report.roomsInconsistent.push(room.sid);
            logger.warn('ListParticipants disagrees with ListRooms; room skipped this run', { room: room.name, roomSid: room.sid, numParticipants: room.numParticipants });
            return true;
          }
          const scope = `room#${room.sid}`;
          checked.add(scope);
          const mine = localParticipants(room.sid);
          verified.push({ roomSid: room.sid, lastVerifiedAt: clock(), fingerprint: roomFingerprint(local.rooms.get(room.sid), mine) });
          report.roomsVerified.push({ sid: room.sid, name: room.name, reason });
          report.participantsChecked += remote.length;
          const mineBySid = new Map(mine.map((p) => [p.sid, p]));
          const remoteSids = new Set(remote.map((p) => p.sid));
          for (const participant of remote) {
            // participant_joined is sent when a participant becomes ACTIVE; before that nothing was missed.
            if (mineBySid.has(participant.sid) || participant.state !== ParticipantInfo_State.ACTIVE) continue;
            observe({
              repairId: repairId('participant_joined', participant.sid),
              eventType: 'participant_joined',
              entityId: participant.sid,
              scope,
              roomSid: room.sid,
              build: async () => [participantJoinedRepair(room, participant, Math.floor(clock() / 1000))],
            });
          }
          for (const participant of mine) {
            if (remoteSids.has(participant.sid)) continue;
            observe({
              repairId: repairId('participant_left', participant.sid),
              eventType: 'participant_left',
              entityId: participant.sid,
              scope,
              roomSid: room.sid,
              build: async () => {
                const item = await getEntity(ddb, tableName, keys.participant(participant.sid));
                if (!item || item.terminal) return undefined;
                return [participantLeftRepair(room, { sid: participant.sid, identity: participant.identity, info: entityInfo(item) }, Math.floor(clock() / 1000))];
              },
            });
          }
          return true;
        });
        report.roomsUnreached = plan.length - attempted;
      }

      // ---- grace period, repairs ----
      const now = clock();
      const resolved = [...pending.values()].filter((difference) => !observed.has(difference.repairId) && checked.has(difference.scope));
      // Checked again and gone: the event was in flight (or our repair has been applied).
      report.resolvedInFlight = resolved.filter((difference) => !difference.repairedAt).length;
      await pool(resolved, BOOKKEEPING_CONCURRENCY, async (difference) => {
        await bookkeeping.resolve(difference.repairId).catch((error) => fail('bookkeeping', error));
      });

      const due: Observation[] = [];
      const waiting: PendingDifference[] = [];
      const pendingForDue = new Map<string, PendingDifference>();
      for (const observation of observed.values()) {
        const previous = pending.get(observation.repairId);
        if (previous?.repairedAt) continue;
        const restart = !previous || (observation.roomSid !== undefined && previous.roomSid !== observation.roomSid);
        const firstSeenAt = restart ? now : previous.firstSeenAt;
        const observations = restart ? 1 : previous.observations + 1;
        const difference: PendingDifference = { ...pick(observation), firstSeenAt, lastSeenAt: now, observations };
        if (graceMs === 0 || (observations >= 2 && now - firstSeenAt > graceMs)) {
          due.push(observation);
          pendingForDue.set(observation.repairId, difference);
        } else {
          waiting.push(difference);
        }
      }
      report.pendingDifferences = waiting.length;
      await pool(waiting, BOOKKEEPING_CONCURRENCY, async (difference) => {
        await bookkeeping.observe(difference, now).catch((error) => fail('bookkeeping', error));
      });

      await pool(due, BOOKKEEPING_CONCURRENCY, async (observation) => {
        const difference = pendingForDue.get(observation.repairId)!;
        try {
          const repairs = await observation.build();
          if (!repairs || repairs.length === 0) {
            await bookkeeping.resolve(observation.repairId);
            return true;
          }
          for (const repair of repairs) {
            const claim = { repairId: repair.id, eventType: repair.eventType, entityId: repair.entityId, scope: repair.id === observation.repairId ? difference.scope : 'rooms', firstSeenAt: difference.firstSeenAt, lastSeenAt: now, observations: difference.observations };
            if (!(await bookkeeping.claim(claim, now))) continue;
            try {
              await options.enqueue(repair);
            } catch (error) {
              await bookkeeping.unclaim(repair.id).catch(() => undefined);
              throw error;
            }
            report.missed[repair.eventType] = (report.missed[repair.eventType] ?? 0) + 1;
            report.missedTotal++;
            report.repairs.push({ id: repair.id, eventType: repair.eventType, entityId: repair.entityId });
            logger.warn('missed event repaired', {
              eventId: repair.id,
              eventType: repair.eventType,
              room: repair.roomName,
              entityId: repair.entityId,
              firstSeenAt: new Date(difference.firstSeenAt).toISOString(),
            });
          }
        } catch (error) {
          fail(`repair ${observation.eventType} ${observation.entityId}`, error);
        }
        return true;
      });

      // ---- verification records, coverage ----
      try {
        await bookkeeping.saveVerifications(verified, now);
        if (remoteRooms) {
          const gone = [...verifications.keys()].filter((sid) => !remoteBySid.has(sid) && !local.rooms.has(sid));
          await bookkeeping.forgetRooms(gone);
        }
      } catch (error) {
        fail('bookkeeping', error);
      }
      if (remoteRooms) {
        const latest = new Map([...verifications].map(([sid, v]) => [sid, v.lastVerifiedAt]));
        for (const v of verified) latest.set(v.roomSid, v.lastVerifiedAt);
        const covered = [...remoteBySid.keys()].filter((sid) => (latest.get(sid) ?? 0) >= now - coverageWindowMs).length;
        report.coveragePercent = remoteBySid.size === 0 ? 100 : (100 * covered) / remoteBySid.size;
      }
      (report as { ok: boolean }).ok = complete;
      return report;
    } finally {
      report.durationMs = clock() - startedAt;
      report.apiCallsTotal = gate.requestsMade;
      report.apiErrorsTotal = gate.totalErrors;
      emit(report);
    }
  }

  function emit(report: RunReport): void {
    const data: MetricDatum[] = [
      { name: METRIC.missedEvents, value: report.missedTotal },
      ...Object.entries(report.missed).map(([eventType, value]) => ({ name: METRIC.missedEvents, value: value ?? 0, dimensions: { EventType: eventType } })),
      { name: METRIC.repairsSent, value: report.repairs.length },
      { name: METRIC.roomsChecked, value: report.roomsVerified.length },
      { name: METRIC.participantsChecked, value: report.participantsChecked },
      { name: METRIC.egressesChecked, value: report.egressesChecked },
      // Open egresses LiveKit no longer knows: their end can never be repaired.
      ...(report.unknownEgresses.length > 0 ? [{ name: METRIC.egressesChecked, value: report.unknownEgresses.length, dimensions: { Result: 'unknown_to_livekit' } }] : []),
      { name: METRIC.liveKitApiCalls, value: report.apiCallsTotal },
      { name: METRIC.liveKitApiErrors, value: report.apiErrorsTotal },
      { name: METRIC.runDuration, value: report.durationMs, unit: 'Milliseconds' },
      ...(report.coveragePercent !== undefined ? [{ name: METRIC.roomCoverage, value: report.coveragePercent, unit: 'Percent' as const }] : []),
      ...(report.ok ? [{ name: METRIC.heartbeat, value: 1 }] : []),
    ];
    options.metrics.put(data, { service: 'reconcile' });
    const summary = {
      ok: report.ok,
      durationMs: report.durationMs,
      apiCalls: report.apiCalls,
      apiErrors: report.apiErrorsTotal,
      remoteRooms: report.remoteRooms,
      localRooms: report.localRooms,
      roomsVerified: report.roomsVerified.length,
      roomsUnreached: report.roomsUnreached,
      roomsInconsistent: report.roomsInconsistent.length,
      missed: report.missed,
      repairsSent: report.repairs.length,
      pendingDifferences: report.pendingDifferences,
      resolvedInFlight: report.resolvedInFlight,
      unknownEgresses: report.unknownEgresses.length,
      ingressSessionsChecked: report.ingressSessionsChecked,
      ingressSkipped: report.ingressSkipped,
      coveragePercent: report.coveragePercent,
      errors: report.errors.length,
    };
    if (report.ok) logger.info('reconcile run finished', summary);
    else logger.error('reconcile run failed', summary);
  }

  return { run };
}

function pick(observation: Observation): Pick<PendingDifference, 'repairId' | 'eventType' | 'entityId' | 'scope' | 'roomSid'> {
  const { repairId: id, eventType, entityId, scope, roomSid } = observation;
  return { repairId: id, eventType, entityId, scope, ...(roomSid ? { roomSid } : {}) };
}
