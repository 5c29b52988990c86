import type { ChildProcess } from 'child_process';

/**
 * Watches an engine's child process (DynamoDB Local's JVM, fauxqs): keeps the tail of its output
 * for error messages, turns an early exit into an error the readiness probe can fail fast on, and
 * stops it with SIGTERM, resolving once it has exited. If this process exits first without
 * stopping it (an uncaught error in a script or a tool, `process.exit`), the engine is killed on
 * the way out: a child is not stopped with its parent, and an orphaned JVM keeps its port and
 * about 200 MB until someone finds it.
 */
export interface EngineProcess {
  /** Set once the process has exited or failed to start. */
  readonly exited: () => Error | undefined;
  /** SIGTERM, then waits for the exit; does nothing if it already exited. */
  stop(): Promise<void>;
}

/** Engines still running, killed if this process exits before stopping them. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function killOnExit(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' listeners must be synchronous: kill() is.
  process.once('exit', () => {
    for (const engine of running) if (engine.exitCode === null && engine.signalCode === null) engine.kill('SIGKILL');
  });
}

export function superviseEngine(child: ChildProcess, name: string): EngineProcess {
  killOnExit(child);
  let output = '';
  const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2000));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let failure: Error | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      failure = new Error(`${name} exited (code ${code}, signal ${signal}): ${output.trim()}`);
      resolve();
    }),
  );
  child.once('error', (error) => (failure = error));
  return {
    exited: () => failure,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exit;
      }
    },
  };
}

/** Waits until an engine answers; if it never does, stops it (and its client) before rethrowing. */
export async function readyOrStop(ready: () => Promise<unknown>, stop: () => Promise<void>): Promise<void> {
  try {
    await ready();
  } catch (error) {
    await stop();
    throw error;
  }
}
