/**
 * Starts the reconciler (reconcile-function.ts) on a worker thread of its own, with its timer, its
 * runs and its own SDK clients, as the scheduled reconcile Lambda runs apart from the others on
 * AWS. With a test's `wrapLiveKitApi` it runs in process instead (same code, see in-process.ts):
 * the wrapper lives on this thread and must see each LiveKit call when it starts, not a message hop
 * later (the scale test checks no call starts after the run's time budget).
 *
 * The main thread keeps the reports (`reconcileRuns`), the metrics (status page) and the status
 * line after each run: the function hands each run's end to it before the run counts as finished,
 * so a report is in `reconcileRuns` when `reconcileNow()` resolves.
 */
import { join } from 'node:path';
import type { LiveKitApi, LiveKitApiOptions } from '../../lambda/reconcile/livekit-api';
import { createLiveKitApi } from '../../lambda/reconcile/livekit-api';
import type { RunReport } from '../../lambda/reconcile/reconciler';
import type { LogLevel } from '../../lambda/shared/logger';
import type { MetricDatum, MetricsSink } from '../../lambda/shared/metrics';
import type { ReconcileConfig } from '../../lib/config';
import type { CallHandler } from './channel';
import { LocalFunction, SdkCallStats, startFunctionWorker } from './function-worker';
import { startFunctionInProcess } from './in-process';

/** Calls and events between the reconcile worker and the main thread. */
export const RECONCILE = {
  /** main → worker: run now (after a run in progress) and answer the report. */
  runNow: 'reconcileNow',
  /** worker → main: a run ended; answered once the main thread has recorded it. */
  runFinished: 'runFinished',
  /** worker → main: metrics the run put. */
  metrics: 'metrics',
  /** function → main: one LiveKit API call, made through the test's wrapper (only with `wrapLiveKitApi`, in process). */
  livekit: 'livekit',
} as const;

export type LiveKitCallMethod = keyof LiveKitApi;

/** The reconcile worker's init data (structured clone only). */
export interface ReconcileFunctionInit {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** The claim-check bucket (fauxqs's S3, on the SQS port) for repairs too large for an SQS message. */
  readonly claimCheckBucket?: string;
  readonly tableName: string;
  readonly queueUrl: string;
  /** The LiveKit server, or undefined: the function runs in process and its LiveKit calls go to a test's wrapper. */
  readonly livekit?: LiveKitApiOptions;
  readonly config: ReconcileConfig;
  /** The event types the LiveKit project sends (`livekit.webhookEvents`); only these are repaired. */
  readonly webhookEvents?: readonly string[];
  readonly timeBudgetMs: number;
  readonly intervalMs: number;
  /**
   * Also run once right at start, as the deployed schedule's first run comes within a minute of a
   * deploy (`npm run local`; tests that drive their own runs leave it off).
   */
  readonly runAtStart?: boolean;
  readonly logLevel: LogLevel;
}

export interface ReconcileFunctionOptions extends Omit<ReconcileFunctionInit, 'livekit'> {
  readonly livekit: LiveKitApiOptions;
  /** A test's wrapper of the LiveKit API; the reconciler then runs in process, where the wrapper lives. */
  readonly wrapLiveKitApi?: (api: LiveKitApi) => LiveKitApi;
  /** The pipeline's name (PIPELINE_NAME): the `pipeline` field of the function's log lines. */
  readonly pipeline: string;
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

export async function startReconcileFunction(options: ReconcileFunctionOptions): Promise<ReconcileFunction> {
  const { wrapLiveKitApi, pipeline, logSink, metrics, onRunFinished, onCrash, livekit, ...init } = options;
  const mainThreadApi = wrapLiveKitApi ? wrapLiveKitApi(createLiveKitApi(livekit)) : undefined;
  const handlers: Record<string, CallHandler> = {
    [RECONCILE.runFinished]: (report) => onRunFinished(report as RunReport),
    [RECONCILE.metrics]: (value) => {
      const { data, extra } = value as { data: MetricDatum[]; extra?: Record<string, unknown> };
      metrics.put(data, extra);
    },
    [RECONCILE.livekit]: async (value) => {
      const { method, argument } = value as { method: LiveKitCallMethod; argument: never };
      if (!mainThreadApi) throw new Error('LiveKit calls are made by the reconcile function itself');
      return (mainThreadApi[method] as (argument: never) => Promise<object[]>)(argument);
    },
  };
  const name = 'reconcile';
  const functionInit: ReconcileFunctionInit = { ...init, livekit: mainThreadApi ? undefined : livekit };
  const worker: LocalFunction<void> = mainThreadApi
    ? await startFunctionInProcess({
        name,
        init: functionInit,
        pipeline,
        logSink,
        handlers,
        start: (await import('./reconcile-function')).startReconciler,
      })
    : await startFunctionWorker<ReconcileFunctionInit, void>({
        name,
        entry: join(__dirname, 'reconcile.worker.ts'),
        init: functionInit,
        pipeline,
        logSink,
        onCrash,
        handlers,
        background: true,
      });
  return {
    reconcileNow: () => worker.call<RunReport>(RECONCILE.runNow),
    sdkCalls: () => worker.sdkCalls(),
    stop: () => worker.stop(),
  };
}
