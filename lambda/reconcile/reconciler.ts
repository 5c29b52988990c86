/**
 * The reconciler: diffs what LiveKit's server API says exists now against the state table, and
 * turns each difference that outlived the grace period into a synthesized event (a repair) sent
 * through the same queue and processor as LiveKit's webhooks. docs/reconciler.md is the contract.
 *
 * One run:
 *   1. reads local state (one Scan of the open index) and its own bookkeeping (two Queries);
 *   2. `ListRooms`, `ListEgress({ active: true })` and `ListIngress` (every page of each);
 *   3. diffs, one module each (lambda/reconcile/diff/): rooms; participants and tracks of rooms
 *      LiveKit no longer lists; egress; ingress sessions; then, for the rooms `planRoomChecks`
 *      ranks first (evidence first, then round-robin), while the request and time budgets last,
 *      `ListParticipants` and the room's participants and tracks;
 *   4. settles: the grace period, then the repairs (settle.ts), only for the event types the
 *      LiveKit project sends (`livekit.webhookEvents`): an event it filters out is never missed;
 *   5. records verifications and reports (report.ts).
 * Safety: a listing that failed (after retries) is never read as "gone": the parts of the diff
 * that depend on it are skipped for this run and their pending differences left as they are.
 * A server without Redis has no egress or ingress service (`notConnectedService`): those parts
 * are skipped too, and the run is still ok.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ParticipantInfo, Room } from '@livekit/protocol';
import type { ReconcileConfig } from '../../lib/config';
import type { Logger } from '../shared/logger';
import type { MetricsSink } from '../shared/metrics';
import { ApiGate, BudgetExhaustedError } from './api-gate';
import { Bookkeeping, PendingDifference, RoomVerification, verificationRetentionMs } from './bookkeeping';
import { DiffContext, Observation, pool } from './diff/context';
import { diffEgress } from './diff/egress';
import { diffIngress } from './diff/ingress';
import { compareRoomParticipants, diffOrphanParticipants } from './diff/participants';
import { diffRooms } from './diff/rooms';
import { compareRoomTracks, diffOrphanTracks, tracksByRoom } from './diff/tracks';
import type { Enqueue } from './enqueue';
import { lateArrivalRooms, unknownReferenceRooms } from './evidence';
import { isNotFound, isUnreachable, LiveKitApi, notConnectedService } from './livekit-api';
import { countsInNumParticipants, LocalParticipant, LocalState, loadLocalState, roomFingerprint } from './local-state';
import { planRoomChecks, RoomCandidate } from './plan';
import { emitReport, newReport, RunReport } from './report';
import { settle } from './settle';

export type { RunReport } from './report';

export interface ReconcilerOptions {
  readonly livekit: LiveKitApi;
  readonly ddb: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly enqueue: Enqueue;
  readonly metrics: MetricsSink;
  readonly logger: Logger;
  readonly config: ReconcileConfig;
  /**
   * The event types the LiveKit project sends (`livekit.webhookEvents`); only these are repaired
   * and counted. Default: every type.
   */
  readonly webhookEvents?: readonly string[];
  /** No LiveKit request starts after this many ms from the start of the run. */
  readonly timeBudgetMs: number;
  readonly clock?: () => number;
  /** "Fully verified within the last N minutes" for the coverage metric. Default `config.fullCheckMinutes`. */
  readonly coverageWindowMinutes?: number;
  /** Attempts per LiveKit call (ours, on top of the SDK's own region failover). Default 3. */
  readonly maxAttempts?: number;
  readonly backoffBaseMs?: number;
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
  // Pending differences outlive several grace periods, then expire on their own; the verification
  // log is read back over twice the coverage window (at least 60 runs) and expires after it.
  const bookkeeping = new Bookkeeping({
    ddb,
    tableName,
    ttlSeconds: Math.max(86_400, config.graceSeconds * 10),
    verificationRetentionMs: verificationRetentionMs(coverageWindowMs, config.intervalMinutes * 60_000),
  });
  const sent = options.webhookEvents ? new Set(options.webhookEvents) : undefined;

  async function run(): Promise<RunReport> {
    const startedAt = clock();
    const gate = new ApiGate({
      requestBudget: config.requestBudgetPerRun,
      concurrency: config.concurrency,
      deadline: startedAt + options.timeBudgetMs,
      clock,
      maxAttempts: options.maxAttempts,
      backoffBaseMs: options.backoffBaseMs,
    });
    const report = newReport(startedAt, gate.calls, gate.errors);
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
        [local, verifications, pending] = await Promise.all([
          loadLocalState(ddb, tableName),
          bookkeeping.loadVerifications(startedAt),
          bookkeeping.loadPending(),
        ]);
      } catch (error) {
        fail('read local state', error);
        return report;
      }
      report.localRooms = local.rooms.size;
      report.localReadMs = clock() - startedAt;

      const observed = new Map<string, Observation>();
      const checked = new Set<string>();
      const ctx: DiffContext = {
        ddb,
        tableName,
        livekit,
        gate,
        logger,
        concurrency: config.concurrency,
        local,
        report,
        nowMs: clock,
        nowSeconds: () => Math.floor(clock() / 1000),
        // A type the project does not send was never dropped: not observed, so never repaired or counted.
        observe: (observation) => {
          if (!sent || sent.has(observation.eventType)) observed.set(observation.repairId, observation);
        },
        check: (scope) => checked.add(scope),
        fail,
      };

      const [roomsResult, egressResult, ingressResult] = await Promise.allSettled([
        gate.call('ListRooms', () => livekit.listRooms()),
        gate.call('ListEgress', () => livekit.listEgress({ active: true })),
        gate.call('ListIngress', () => livekit.listIngress()),
      ]);
      const remoteRooms = roomsResult.status === 'fulfilled' ? roomsResult.value : undefined;
      if (roomsResult.status === 'rejected') {
        if (isUnreachable(roomsResult.reason))
          logger.error('LiveKit server unreachable', { url: livekit.url ?? 'unknown', error: roomsResult.reason });
        fail('ListRooms', roomsResult.reason);
      }
      // A LiveKit without Redis has no egress or ingress service and says so on every call (see
      // `notConnectedService`): nothing to compare, so that part of the diff is skipped and the
      // run stays ok. Nothing can be missed there either: such a server runs no egress or ingress.
      const notConnected = [egressResult, ingressResult].flatMap((result) =>
        result.status === 'rejected' && notConnectedService(result.reason) ? [notConnectedService(result.reason)!] : [],
      );
      if (notConnected.length > 0) {
        report.servicesNotConnected = notConnected;
        logger.warn(
          `LiveKit has no ${notConnected.join(' or ')} service: it answers "not connected (redis required)", as a server without Redis does (livekit-server --dev, a single node with no redis: config). LiveKit needs Redis for egress and ingress; their part of the diff is skipped`,
          { services: notConnected },
        );
      }
      if (egressResult.status === 'rejected' && !notConnectedService(egressResult.reason)) fail('ListEgress(active)', egressResult.reason);
      if (ingressResult.status === 'rejected' && !notConnectedService(ingressResult.reason)) {
        if (ingressResult.reason instanceof BudgetExhaustedError) {
          // Not a failure of LiveKit's: the ingress part of the diff waits for the next run.
          report.ingressSkipped = true;
          logger.warn('ListIngress skipped: the budget of the run is spent', { reason: ingressResult.reason.reason });
        } else fail('ListIngress', ingressResult.reason);
      }

      const localTracksByRoom = tracksByRoom(local.tracksByParticipant);
      const remoteBySid = new Map<string, Room>();
      if (remoteRooms) {
        report.remoteRooms = remoteRooms.length;
        for (const room of remoteRooms) if (room.sid) remoteBySid.set(room.sid, room);
        diffRooms(ctx, remoteBySid);
        diffOrphanParticipants(ctx, remoteBySid);
        diffOrphanTracks(ctx, remoteBySid, localTracksByRoom);
      }
      if (egressResult.status === 'fulfilled') await diffEgress(ctx, egressResult.value);
      if (ingressResult.status === 'fulfilled') await diffIngress(ctx, ingressResult.value);

      const verified: RoomVerification[] = [];
      if (remoteRooms) {
        const candidates = await roomCandidates(local, remoteBySid, verifications, pending).catch((error: unknown) => {
          fail('read evidence', error);
          return undefined;
        });
        if (candidates) {
          // A tie-break order of this run's own among rooms equally old (plan.ts says why).
          const plan = planRoomChecks(candidates, String(startedAt));
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
              // The room closed since ListRooms: LiveKit Cloud, or a server with
              // enable_psrpc_for_get_list_participants, answers ErrRoomNotFound (livekit/livekit
              // pkg/service/roommanager.go); a self-hosted store an empty list. No participants, not an outage.
              if (isNotFound(error)) remote = [];
              else {
                fail(`ListParticipants(${room.name})`, error);
                return true;
              }
            }
            if (remote.length === 0 && room.numParticipants > 0) {
              // An empty list (or not_found) for a room ListRooms said has participants: it ended, or
              // was recreated, between the calls. Not evidence that anyone left; the next ListRooms tells.
              report.roomsInconsistent.push(room.sid);
              logger.warn('ListParticipants disagrees with ListRooms; room skipped this run', {
                room: room.name,
                roomSid: room.sid,
                numParticipants: room.numParticipants,
              });
              return true;
            }
            const mine = local.participantsByRoom.get(room.sid) ?? [];
            try {
              await compareRoomTracks(ctx, room, remote, localTracksByRoom.get(room.sid) ?? []);
            } catch (error) {
              fail(`compare tracks of ${room.name}`, error);
              return true;
            }
            try {
              await compareRoomParticipants(ctx, room, remote, mine);
            } catch (error) {
              fail(`compare participants of ${room.name}`, error);
              return true;
            }
            ctx.check(`room#${room.sid}`);
            verified.push({ roomSid: room.sid, lastVerifiedAt: clock(), fingerprint: roomFingerprint(local.rooms.get(room.sid), mine) });
            report.roomsVerified.push({ sid: room.sid, name: room.name, reason });
            report.participantsChecked += remote.length;
            return true;
          });
          report.roomsUnreached = plan.length - attempted;
        }
      }

      const now = clock();
      await settle(observed, pending, checked, { bookkeeping, enqueue: options.enqueue, logger, report, graceMs, now, fail });

      try {
        // Nothing to forget: a room gone on both sides leaves the log with the window.
        await bookkeeping.saveVerifications(verified, now);
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
      emitReport(report, options.metrics, logger);
    }
  }

  /** Every room LiveKit lists, with the free evidence plan.ts ranks it by. */
  async function roomCandidates(
    local: LocalState,
    remoteBySid: ReadonlyMap<string, Room>,
    verifications: ReadonlyMap<string, RoomVerification>,
    pending: ReadonlyMap<string, PendingDifference>,
  ): Promise<RoomCandidate[]> {
    const lastVerifiedAt = (sid: string) => verifications.get(sid)?.lastVerifiedAt ?? 0;
    const late = await lateArrivalRooms(ddb, tableName, lastVerifiedAt);
    const unknownReference = unknownReferenceRooms(local);
    const pendingRooms = new Set(
      [...pending.values()].filter((p) => p.scope.startsWith('room#') && !p.repairedAt).map((p) => p.scope.slice('room#'.length)),
    );
    return [...remoteBySid.values()].map((room) => {
      const verification = verifications.get(room.sid);
      const localRoom = local.rooms.get(room.sid);
      const participants: LocalParticipant[] = local.participantsByRoom.get(room.sid) ?? [];
      return {
        sid: room.sid,
        name: room.name,
        remoteCount: room.numParticipants,
        localCount: participants.filter(countsInNumParticipants).length,
        knownLocally: localRoom !== undefined,
        lastVerifiedAt: lastVerifiedAt(room.sid),
        changedSinceVerified: verification !== undefined && verification.fingerprint !== roomFingerprint(localRoom, participants),
        hasPending: pendingRooms.has(room.sid),
        lateArrival: late.has(room.sid),
        unknownReference: unknownReference.has(room.sid),
      };
    });
  }

  return { run };
}
