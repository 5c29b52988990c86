/**
 * The worker side of a local function (see function-worker.ts): a `*.worker.ts` module calls
 * `runFunctionWorker(start)` at load. `start` builds the function from its init data (its own SDK
 * clients from the endpoints given) and returns what it answers and how it stops.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { PIPELINE_NAME_ENV } from '../../contracts/metrics';
import { Logger, LogLevel } from '../../lambda/shared/logger';
import { CallHandler, Channel } from './channel';
import { FunctionWorkerData, LOG_EVENT, READY_EVENT, SDK_CALLS_METHOD, SdkCallStats, STOP_METHOD } from './function-worker';
import { lowerThisThreadPriority } from '../cpu-priority';

/** The SDK clients a function can meter. */
export type MeterableClient = SQSClient | DynamoDBClient | DynamoDBStreamsClient;

/** Durations kept per command (the most recent; at least this many, at most twice). */
const RECENT_DURATIONS = 10_000;

export interface FunctionHost {
  /** Calls a handler the main thread registered. */
  call<T>(method: string, value?: unknown): Promise<T>;
  /** A logger whose lines are written by the main thread's log sink, naming the function's pipeline as on AWS. */
  logger(service: string, level: LogLevel): Logger;
  /** Counts and times the client's requests by command, for `FunctionWorker.sdkCalls()` (the bench's request counts). */
  meter<C extends MeterableClient>(client: C, service: string): C;
}

export interface RunningFunction<Ready> {
  /** Sent to the main thread once, as `FunctionWorker.ready`. */
  readonly ready: Ready;
  /** Calls the main thread may make. */
  readonly handlers?: Readonly<Record<string, CallHandler>>;
  /** Finishes what is in flight and releases everything (servers, timers, clients). */
  stop(): Promise<void>;
}

/** Builds a function from its init data; the same code runs on a worker thread or, for tests, in process (in-process.ts). */
export type FunctionStart<Init, Ready> = (init: Init, host: FunctionHost) => Promise<RunningFunction<Ready>>;

/** Counts and times `client`'s requests into `sdkCalls`, by `<service>.<Command>`. */
export function meterClient<C extends MeterableClient>(client: C, service: string, sdkCalls: Record<string, SdkCallStats>): C {
  const stack = (client as SQSClient).middlewareStack;
  stack.add(
    (next, context) => async (args) => {
      const name = `${service}.${String(context.commandName ?? 'unknown').replace(/Command$/, '')}`;
      const stats = (sdkCalls[name] ??= { count: 0, recentDurationsMs: [] });
      stats.count++;
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        stats.recentDurationsMs.push(performance.now() - started);
        if (stats.recentDurationsMs.length > RECENT_DURATIONS * 2) stats.recentDurationsMs.splice(0, RECENT_DURATIONS);
      }
    },
    { step: 'initialize', name: 'localFunctionMeter' },
  );
  return client;
}

export function runFunctionWorker<Init, Ready>(start: FunctionStart<Init, Ready>): void {
  if (!parentPort) throw new Error('runFunctionWorker must run on a worker thread (started by startFunctionWorker)');
  const data = workerData as FunctionWorkerData<Init>;
  if (data.background) lowerThisThreadPriority();
  const channel = new Channel(parentPort);

  // Log lines go to the main thread in batches, one message per turn of the event loop.
  let lines: string[] = [];
  const flush = () => {
    if (lines.length === 0) return;
    channel.emit(LOG_EVENT, lines);
    lines = [];
  };
  const sdkCalls: Record<string, SdkCallStats> = {};
  // The thread's environment is the function's (startFunctionWorker sets PIPELINE_NAME), as a Lambda's is.
  const pipeline = process.env[PIPELINE_NAME_ENV] || undefined;

  const host: FunctionHost = {
    call: (method, value) => channel.call(method, value),
    logger: (service, level) =>
      new Logger({
        service,
        pipeline,
        level,
        sink: (line) => {
          if (lines.length === 0) setImmediate(flush);
          lines.push(line);
        },
      }),
    meter: (client, service) => meterClient(client, service, sdkCalls),
  };

  channel.handle(SDK_CALLS_METHOD, () => sdkCalls);
  start(data.init, host).then(
    (running) => {
      for (const [method, handler] of Object.entries(running.handlers ?? {})) channel.handle(method, handler);
      channel.handle(STOP_METHOD, async () => {
        await running.stop();
        flush();
      });
      channel.emit(READY_EVENT, running.ready);
    },
    (error: unknown) => {
      flush();
      // Uncaught on purpose: the main thread sees it as the worker's 'error' and fails the start.
      setImmediate(() => {
        throw error;
      });
    },
  );
}
