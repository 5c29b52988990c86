/**
 * Starts the reconciler (reconcile.worker.ts) on a worker thread of its own, with its timer, its
 * runs and its own SDK clients, as the scheduled reconcile Lambda runs apart from the others on
 * AWS. The main thread keeps the reports (`reconcileRuns`), the metrics (status page) and the
 * status line after each run: the worker hands each run's end to it by message before the run
 * counts as finished, so a report is in `reconcileRuns` when `reconcileNow()` resolves.
 */
import { join } from 'node:path';
import { EgressInfo, IngressInfo, ParticipantInfo, Room } from '@livekit/protocol';
import type { LiveKitApi, LiveKitApiOptions } from '../../lambda/reconcile/livekit-api';
import { createLiveKitApi } from '../../lambda/reconcile/livekit-api';
import type { RunReport } from '../../lambda/reconcile/reconciler';
import type { LogLevel } from '../../lambda/shared/logger';
import type { MetricDatum, MetricsSink } from '../../lambda/shared/metrics';
import type { ReconcileConfig } from '../../lib/config';
import { FunctionWorker, SdkCallStats, startFunctionWorker } from './function-worker';

/** Calls and events between the reconcile worker and the main thread. */
export const RECONCILE = {
  /** main → worker: run now (after a run in progress) and answer the report. */
  runNow: 'reconcileNow',
  /** worker → main: a run ended; answered once the main thread has recorded it. */
  runFinished: 'runFinished',
  /** worker → main: metrics the run put. */
  metrics: 'metrics',
  /** worker → main: one LiveKit API call, made on the main thread (only with `wrapLiveKitApi`). */
  livekit: 'livekit',
} as const;

export type LiveKitCallMethod = keyof LiveKitApi;

/** The reconcile worker's init data (structured clone only). */
export interface ReconcileFunctionInit {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly tableName: string;
  readonly queueUrl: string;
  /** The LiveKit server, or undefined: the worker's LiveKit calls go to the main thread (a test's wrapper). */
  readonly livekit?: LiveKitApiOptions;
  readonly config: ReconcileConfig;
  readonly timeBudgetMs: number;
  readonly intervalMs: number;
  readonly logLevel: LogLevel;
}

export interface ReconcileFunctionOptions extends Omit<ReconcileFunctionInit, 'livekit'> {
  readonly livekit: LiveKitApiOptions;
  /** A test's wrapper of the LiveKit API; its calls then run on the main thread, where the wrapper lives. */
  readonly wrapLiveKitApi?: (api: LiveKitApi) => LiveKitApi;
  readonly logSink: (line: string) => void;
  /** Where the run metrics go on the main thread. */
  readonly metrics: MetricsSink;
  /** Called with each run's report before the run counts as finished. */
  readonly onRunFinished: (report: RunReport) => Promise<void>;
  readonly onCrash: (error: Error) => void;
}

export interface ReconcileFunction {
  /** Runs the reconciler now (after a run in progress, never two at once) and returns its report. */
  reconcileNow(): Promise<RunReport>;
  sdkCalls(): Promise<Record<string, SdkCallStats>>;
  stop(): Promise<void>;
}

/** The LiveKit API's messages, by method, to cross threads as protobuf binary. */
const MESSAGE_TYPE = { listRooms: Room, listParticipants: ParticipantInfo, listEgress: EgressInfo, listIngress: IngressInfo } as const;

/** Encodes a LiveKit API answer as protobuf binary (the classes do not survive structured clone). */
export function encodeLiveKitAnswer(method: LiveKitCallMethod, items: readonly object[]): Uint8Array[] {
  const type = MESSAGE_TYPE[method] as unknown as { new (value?: object): { toBinary(): Uint8Array } };
  return items.map((item) => (item instanceof type ? item : new type(item)).toBinary());
}

export function decodeLiveKitAnswer(method: LiveKitCallMethod, items: readonly Uint8Array[]): object[] {
  const type = MESSAGE_TYPE[method] as unknown as { fromBinary(bytes: Uint8Array): object };
  return items.map((bytes) => type.fromBinary(bytes));
}

export async function startReconcileFunction(options: ReconcileFunctionOptions): Promise<ReconcileFunction> {
  const { wrapLiveKitApi, logSink, metrics, onRunFinished, onCrash, livekit, ...init } = options;
  const mainThreadApi = wrapLiveKitApi ? wrapLiveKitApi(createLiveKitApi(livekit)) : undefined;
  const worker: FunctionWorker<void> = await startFunctionWorker<ReconcileFunctionInit, void>({
    name: 'reconcile',
    entry: join(__dirname, 'reconcile.worker.ts'),
    init: { ...init, livekit: mainThreadApi ? undefined : livekit },
    logSink,
    onCrash,
    handlers: {
      [RECONCILE.runFinished]: (report) => onRunFinished(report as RunReport),
      [RECONCILE.metrics]: (value) => {
        const { data, extra } = value as { data: MetricDatum[]; extra?: Record<string, unknown> };
        metrics.put(data, extra);
      },
      [RECONCILE.livekit]: async (value) => {
        const { method, argument } = value as { method: LiveKitCallMethod; argument: never };
        if (!mainThreadApi) throw new Error('LiveKit calls are made by the reconcile worker itself');
        const items = (await (mainThreadApi[method] as (argument: never) => Promise<object[]>)(argument)) ?? [];
        return encodeLiveKitAnswer(method, items);
      },
    },
  });
  return {
    reconcileNow: () => worker.call<RunReport>(RECONCILE.runNow),
    sdkCalls: () => worker.sdkCalls(),
    stop: () => worker.stop(),
  };
}
