/**
 * The report of one reconcile run: what it read, compared, found and repaired. The run returns it
 * (tests and the local runtime read it) and `emitReport` turns it into the run's metrics and its
 * one summary log line.
 */
import type { Logger } from '../shared/logger';
import { METRIC, MetricDatum, MetricsSink } from '../shared/metrics';
import type { CheckReason } from './plan';
import type { MissedEventType } from './repairs';

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
  /** Time spent reading local state and bookkeeping (before any LiveKit call), ms. */
  localReadMs?: number;
  /** Rooms whose participants were fully compared this run, with why they were picked. */
  readonly roomsVerified: { sid: string; name: string; reason: CheckReason }[];
  /** Rooms the budget did not reach (first next run). */
  roomsUnreached: number;
  /** Rooms skipped because ListParticipants disagreed with ListRooms (e.g. the room vanished between calls). */
  readonly roomsInconsistent: string[];
  participantsChecked: number;
  /** Tracks compared (remote ones of verified rooms, and local ones of participants no longer live). */
  tracksChecked: number;
  egressesChecked: number;
  /** Ingress sessions compared (local active ones and remote publishing ones); undefined when ListIngress was not read. */
  ingressSessionsChecked?: number;
  /** ListIngress was not made: the request or time budget was spent. */
  ingressSkipped?: boolean;
  /**
   * The services LiveKit answered it does not have (a server without Redis: "egress/ingress not
   * connected (redis required)"): their part of the diff was skipped, and the run is still ok.
   */
  servicesNotConnected?: ('egress' | 'ingress')[];
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

export function newReport(startedAt: number, apiCalls: Record<string, number>, apiErrors: Record<string, number>): RunReport {
  return {
    ok: false,
    startedAt,
    durationMs: 0,
    apiCalls,
    apiCallsTotal: 0,
    apiErrors,
    apiErrorsTotal: 0,
    roomsVerified: [],
    roomsUnreached: 0,
    roomsInconsistent: [],
    participantsChecked: 0,
    tracksChecked: 0,
    egressesChecked: 0,
    missed: {},
    missedTotal: 0,
    repairs: [],
    pendingDifferences: 0,
    resolvedInFlight: 0,
    unknownEgresses: [],
    errors: [],
  };
}

/** The run's metrics (EMF, `service: reconcile`) and its summary line (info when ok, error when not). */
export function emitReport(report: RunReport, metrics: MetricsSink, logger: Logger): void {
  const data: MetricDatum[] = [
    { name: METRIC.missedEvents, value: report.missedTotal },
    ...Object.entries(report.missed).map(([eventType, value]) => ({
      name: METRIC.missedEvents,
      value: value ?? 0,
      dimensions: { EventType: eventType },
    })),
    { name: METRIC.repairsSent, value: report.repairs.length },
    { name: METRIC.roomsChecked, value: report.roomsVerified.length },
    { name: METRIC.participantsChecked, value: report.participantsChecked },
    { name: METRIC.egressesChecked, value: report.egressesChecked },
    // Open egresses LiveKit no longer knows: their end can never be repaired.
    ...(report.unknownEgresses.length > 0
      ? [{ name: METRIC.egressesChecked, value: report.unknownEgresses.length, dimensions: { Result: 'unknown_to_livekit' } }]
      : []),
    { name: METRIC.liveKitApiCalls, value: report.apiCallsTotal },
    { name: METRIC.liveKitApiErrors, value: report.apiErrorsTotal },
    { name: METRIC.runDuration, value: report.durationMs, unit: 'Milliseconds' },
    ...(report.coveragePercent !== undefined
      ? [{ name: METRIC.roomCoverage, value: report.coveragePercent, unit: 'Percent' as const }]
      : []),
    ...(report.ok ? [{ name: METRIC.heartbeat, value: 1 }] : []),
  ];
  metrics.put(data, { service: 'reconcile' });
  const summary = {
    ok: report.ok,
    durationMs: report.durationMs,
    apiCalls: report.apiCalls,
    apiErrors: report.apiErrorsTotal,
    remoteRooms: report.remoteRooms,
    localRooms: report.localRooms,
    localReadMs: report.localReadMs,
    roomsVerified: report.roomsVerified.length,
    roomsUnreached: report.roomsUnreached,
    roomsInconsistent: report.roomsInconsistent.length,
    tracksChecked: report.tracksChecked,
    missed: report.missed,
    repairsSent: report.repairs.length,
    pendingDifferences: report.pendingDifferences,
    resolvedInFlight: report.resolvedInFlight,
    unknownEgresses: report.unknownEgresses.length,
    ingressSessionsChecked: report.ingressSessionsChecked,
    ingressSkipped: report.ingressSkipped,
    servicesNotConnected: report.servicesNotConnected,
    coveragePercent: report.coveragePercent,
    errors: report.errors.length,
  };
  if (report.ok) logger.info('reconcile run finished', summary);
  else logger.error('reconcile run failed', summary);
}
