/**
 * Runs a local function's code on the calling thread, through the same `FunctionStart` and
 * `FunctionHost` contract as a worker (function-worker.ts), with calls to the main thread's
 * handlers made directly. For a test hook that must run at the moment the function calls it (a
 * wrapper of the LiveKit API that records when each call starts): across threads the hook would
 * see each call one message hop late.
 */
import { Logger } from '../../lambda/shared/logger';
import type { FunctionWorkerOptions, LocalFunction, SdkCallStats } from './function-worker';
import { FunctionStart, meterClient } from './worker-runtime';

export interface InProcessFunctionOptions<Init, Ready> extends Pick<
  FunctionWorkerOptions<Init>,
  'name' | 'init' | 'pipeline' | 'logSink' | 'handlers'
> {
  readonly start: FunctionStart<Init, Ready>;
}

export async function startFunctionInProcess<Init, Ready>(options: InProcessFunctionOptions<Init, Ready>): Promise<LocalFunction<Ready>> {
  const sdkCalls: Record<string, SdkCallStats> = {};
  const running = await options.start(options.init, {
    call: async <T>(method: string, value?: unknown) => {
      const handler = options.handlers?.[method];
      if (!handler) throw new Error(`no handler for ${method}`);
      return (await handler(value)) as T;
    },
    // The pipeline as a worker's PIPELINE_NAME would give it (this thread's environment is the main one's).
    logger: (service, level) => new Logger({ service, pipeline: options.pipeline, level, sink: options.logSink }),
    meter: (client, service) => meterClient(client, service, sdkCalls),
  });
  let stopping: Promise<void> | undefined;
  return {
    name: options.name,
    ready: running.ready,
    call: async <T>(method: string, value?: unknown) => {
      if (stopping) throw new Error(`function ${options.name} stopped`);
      const handler = running.handlers?.[method];
      if (!handler) throw new Error(`no handler for ${method}`);
      return (await handler(value)) as T;
    },
    sdkCalls: async () => sdkCalls,
    stop: () => (stopping ??= running.stop()),
  };
}
