/**
 * Runs one function of the local runtime (ingest behind its front door, the reconciler, …) on a
 * worker thread of its own, as each is its own Lambda on AWS: one function's load or a blocked
 * main thread never delays another function's answers.
 *
 * The worker module (`*.worker.ts`) calls `runFunctionWorker` from `worker-runtime.ts` and builds
 * its own AWS SDK clients from the endpoints in its init data; nothing but structured-clone data
 * crosses. TypeScript loads in the worker through tsx's CommonJS hook, registered by the worker's
 * bootstrap, so the same code runs under `tsx` (`npm run local`) and under ts-jest (tests), whose
 * module system a worker thread does not inherit.
 *
 * A worker that throws, or exits without being asked to, is a crash: every call in flight fails,
 * and `onCrash` is told (the pipeline logs it and `npm run local` exits non-zero). `stop()` asks the
 * function to stop (it finishes what it is doing), then terminates the thread.
 */
import { Worker } from 'node:worker_threads';
import { PIPELINE_NAME_ENV } from '../../contracts/metrics';
import { CallHandler, Channel } from './channel';

/** Worker bootstrap: plain JavaScript, so it needs no loader; registers tsx, then loads the function module. */
const BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
require(require.resolve('tsx/cjs/api', { paths: [workerData.entry] })).register();
require(workerData.entry);
`;

/** What the worker thread receives as `workerData`. */
export interface FunctionWorkerData<Init> {
  readonly name: string;
  readonly entry: string;
  readonly init: Init;
  /** Background work: the thread lowers its own CPU priority (local/cpu-priority.ts). */
  readonly background?: boolean;
}

export interface FunctionWorkerOptions<Init> {
  /** The function's name, as in log lines and errors ("ingest", "reconcile"). */
  readonly name: string;
  /** Absolute path of the worker module. */
  readonly entry: string;
  /** Structured-clone data the function builds itself from (endpoints, names, config). */
  readonly init: Init;
  /**
   * The pipeline the function belongs to: set as its PIPELINE_NAME, as the construct sets it on
   * AWS, so its log lines carry the same `pipeline` field. Absent for a thread that is no function
   * of the pipeline (the bench's load client).
   */
  readonly pipeline?: string;
  /** Where the function's log lines go (they are written on the main thread, in order). */
  readonly logSink: (line: string) => void;
  /** Told once when the worker crashes after it was ready. */
  readonly onCrash: (error: Error) => void;
  /** Calls the worker may make to the main thread (a status route, the end of a reconcile run). */
  readonly handlers?: Readonly<Record<string, CallHandler>>;
  /** How long `stop()` waits for the function to finish before terminating the thread. Default 30 s. */
  readonly stopTimeoutMs?: number;
  /**
   * Background work (the processor, the publisher, the reconciler): its thread runs at a lower CPU
   * priority than ingest's, which on AWS has a CPU of its own (local/cpu-priority.ts). Default false.
   */
  readonly background?: boolean;
}

/** A running local function, on a worker thread (FunctionWorker) or in process (in-process.ts). */
export interface LocalFunction<Ready> {
  readonly name: string;
  /** What the function reported when it became ready (e.g. its base URL). */
  readonly ready: Ready;
  /** Calls one of the function's handlers. */
  call<T>(method: string, value?: unknown): Promise<T>;
  /** AWS SDK requests the function made so far, by client and command (`SQS.SendMessage`). */
  sdkCalls(): Promise<Record<string, SdkCallStats>>;
  /** Stops the function (it finishes what is in flight). Idempotent. */
  stop(): Promise<void>;
}

/** A function running on its own worker thread. */
export class FunctionWorker<Ready> implements LocalFunction<Ready> {
  private stopping: Promise<void> | undefined;

  constructor(
    readonly name: string,
    /** What the function reported when it became ready (e.g. its base URL). */
    readonly ready: Ready,
    private readonly worker: Worker,
    private readonly channel: Channel,
    private readonly stopTimeoutMs: number,
    private readonly markStopping: () => void,
  ) {}

  /** Calls one of the function's handlers. */
  call<T>(method: string, value?: unknown): Promise<T> {
    return this.channel.call<T>(method, value);
  }

  /** AWS SDK requests the function made so far, by client and command (`SQS.SendMessage`). */
  sdkCalls(): Promise<Record<string, SdkCallStats>> {
    return this.channel.call<Record<string, SdkCallStats>>(SDK_CALLS_METHOD);
  }

  /** Stops the function (it finishes what is in flight), then the thread. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.markStopping();
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          this.channel.call(STOP_METHOD),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`function ${this.name} did not stop within ${this.stopTimeoutMs} ms`)),
              this.stopTimeoutMs,
            );
          }),
        ]);
      } catch {
        // Crashed, or too slow: the thread is terminated below either way.
      } finally {
        clearTimeout(timer);
        this.channel.close(new Error(`function ${this.name} stopped`));
        await this.worker.terminate();
      }
    })();
    return this.stopping;
  }
}

/** One command's requests in a function: how many, and how long the most recent took (ms, oldest first). */
export interface SdkCallStats {
  count: number;
  readonly recentDurationsMs: number[];
}

/** Reserved call names the runtime answers itself. */
export const STOP_METHOD = '__stop';
export const SDK_CALLS_METHOD = '__sdkCalls';
export const READY_EVENT = '__ready';
export const LOG_EVENT = '__log';

/** Starts the worker and resolves once the function reports ready; rejects if it fails to start. */
export function startFunctionWorker<Init, Ready>(options: FunctionWorkerOptions<Init>): Promise<FunctionWorker<Ready>> {
  const workerData: FunctionWorkerData<Init> = {
    name: options.name,
    entry: options.entry,
    init: options.init,
    ...(options.background ? { background: true } : {}),
  };
  // No inherited execArgv: the bootstrap registers the loader itself, identically under tsx and jest.
  const worker = new Worker(BOOTSTRAP, {
    eval: true,
    workerData,
    execArgv: [],
    name: `function:${options.name}`,
    // The main thread's SDK clients already print the SDK's Node-version notice once; not once more per function.
    env: {
      ...process.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...(options.pipeline !== undefined ? { [PIPELINE_NAME_ENV]: options.pipeline } : {}),
    },
  });
  const channel = new Channel(worker);
  for (const [method, handler] of Object.entries(options.handlers ?? {})) channel.handle(method, handler);
  channel.on(LOG_EVENT, (lines) => {
    for (const line of lines as string[]) options.logSink(line);
  });

  let state: 'starting' | 'ready' | 'stopping' | 'crashed' = 'starting';
  return new Promise<FunctionWorker<Ready>>((resolve, reject) => {
    const fail = (error: Error) => {
      const previous = state;
      if (previous === 'crashed' || previous === 'stopping') return;
      state = 'crashed';
      channel.close(error);
      if (previous === 'starting') {
        void worker.terminate();
        reject(error);
      } else {
        options.onCrash(error);
      }
    };
    worker.on('error', (error) =>
      fail(Object.assign(error instanceof Error ? error : new Error(String(error)), { functionName: options.name })),
    );
    worker.on('messageerror', (error) => fail(error));
    worker.on('exit', (code) => fail(new Error(`function ${options.name}: worker thread exited (code ${code}) without being stopped`)));
    channel.on(READY_EVENT, (ready) => {
      if (state !== 'starting') return;
      state = 'ready';
      resolve(
        new FunctionWorker<Ready>(options.name, ready as Ready, worker, channel, options.stopTimeoutMs ?? 30_000, () => {
          if (state === 'ready') state = 'stopping';
        }),
      );
    });
  });
}
