#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '../lambda/shared/logger';
import { ConfigError, configInputFromContext, configWarnings, parseConfig } from '../lib/config';
import { loadChangeHandler, LocalConsumer } from '../local/local-consumers';
import { LocalPipeline, startLocalPipeline } from '../local/local-pipeline';

/**
 * `npm run local`: the whole pipeline on this machine, no AWS account. The only place the local
 * runtime reads the environment:
 *   PORT                 front door port (default 8080; 0 picks a free one)
 *   LIVEKIT_URL          the LiveKit server the reconciler calls (default http://localhost:7880)
 *   LIVEKIT_API_KEY      key LiveKit signs webhooks with, and the reconciler signs API calls with
 *                        (default devkey, as `livekit-server --dev`)
 *   LIVEKIT_API_SECRET   its secret (default secret)
 *   PIPELINE_CONFIG      optional JSON config, over cdk.json's context (same shape as `-c config=`)
 *   RECONCILE_INTERVAL_SECONDS
 *                        how often the reconciler runs, in seconds (1 to 3600; default
 *                        reconcile.intervalMinutes), for fast feedback against a real
 *                        `livekit-server --dev`. A difference is repaired once it outlived
 *                        reconcile.graceSeconds (default 55 s, longer than LiveKit's delivery
 *                        window); to see repairs within seconds, lower it too:
 *                        PIPELINE_CONFIG='{"reconcile":{"graceSeconds":5}}'
 *   LOG_LEVEL            debug | info | warn | error (default info)
 *   CHANGE_HANDLER       a module that consumes the change feed, e.g.
 *                        ./examples/presence-consumer/handler.ts (relative to the current
 *                        directory; `path#name` picks an export, default `handler`): each
 *                        published change is passed to it as the EventBridge event a rule's
 *                        Lambda target receives, asynchronously; a handler that throws is retried
 *                        twice, after 1 s and 2 s, then the change is logged and dropped for it
 *                        (local/local-consumers.ts; docs/consuming.md)
 * Settings (queue, batch size, receive count, ...) come from the same config as `cdk synth`.
 */
async function main(): Promise<void> {
  const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  const context: Record<string, unknown> = { ...cdkJson.context };
  if (process.env.PIPELINE_CONFIG) context.config = process.env.PIPELINE_CONFIG;
  if (process.env.LIVEKIT_URL) context['livekit.url'] = process.env.LIVEKIT_URL;
  const config = parseConfig(configInputFromContext(context));
  // What `cdk synth` warns about (a cleartext LiveKit URL), said here too, on stderr: stdout's first
  // line stays the ready line, which scripts read.
  for (const warning of configWarnings(config)) process.stderr.write(`warning [${warning.id}]: ${warning.message}\n`);

  const apiKey = process.env.LIVEKIT_API_KEY || 'devkey';
  const apiSecret = process.env.LIVEKIT_API_SECRET || 'secret';
  const port = process.env.PORT === undefined ? 8080 : Number(process.env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError([`PORT must be a port number, got ${process.env.PORT}`]);
  const levelName = (process.env.LOG_LEVEL ?? '').trim().toLowerCase();
  const logLevel = levelName === '' ? 'info' : LOG_LEVELS.find((level) => level === levelName);
  if (logLevel === undefined)
    throw new ConfigError([`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(process.env.LOG_LEVEL)}`]);
  const intervalSeconds =
    process.env.RECONCILE_INTERVAL_SECONDS === undefined || process.env.RECONCILE_INTERVAL_SECONDS === ''
      ? undefined
      : Number(process.env.RECONCILE_INTERVAL_SECONDS);
  if (intervalSeconds !== undefined && !(Number.isInteger(intervalSeconds) && intervalSeconds >= 1 && intervalSeconds <= 3600)) {
    throw new ConfigError([
      `RECONCILE_INTERVAL_SECONDS must be an integer from 1 to 3600, got ${JSON.stringify(process.env.RECONCILE_INTERVAL_SECONDS)}`,
    ]);
  }

  let consumers: LocalConsumer[] | undefined;
  try {
    consumers = process.env.CHANGE_HANDLER ? [loadChangeHandler(process.env.CHANGE_HANDLER)] : undefined;
  } catch (error) {
    throw new ConfigError([(error as Error).message]);
  }

  // The same pair signs LiveKit's webhooks and the reconciler's server API calls; the reconciler
  // runs every reconcile.intervalMinutes (or RECONCILE_INTERVAL_SECONDS) against config.livekit.url
  // (failed runs are logged).
  // Ingest (with the front door) and the reconciler run on worker threads of their own; if one
  // crashes, the whole local pipeline stops and exits non-zero rather than half-running.
  let crashed: string | undefined;
  let stopping = false;
  let pipeline: LocalPipeline | undefined;
  // eslint-disable-next-line prefer-const -- the crash callback may run before this returns; a const would throw there (temporal dead zone)
  pipeline = await startLocalPipeline({
    config,
    port,
    keys: { [apiKey]: apiSecret },
    logLevel,
    livekit: { url: config.livekit.url, apiKey, apiSecret },
    ...(intervalSeconds !== undefined ? { reconcileIntervalMs: intervalSeconds * 1000 } : {}),
    // The first run now, not one interval after start: its heartbeat (and what it finds) from the start.
    reconcileAtStart: true,
    consumers,
    onFunctionCrash: (error, name) => {
      crashed = `the ${name} function crashed: ${error.message}`;
      if (pipeline) void shutdown(crashed);
    },
  });
  if (crashed) return shutdown(crashed);
  // Before the ready line: whoever waits for it may stop us the moment it reads it.
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // Whoever reads our output went away (`npm run local | head -1`): writing to it fails with
  // EPIPE. Stop, engines included, rather than crash and leave them running.
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') void shutdown('output closed');
      else fail(error);
    });
  // Anything else that would end the process stops the engines first. Except a promise rejected
  // and never awaited while a CHANGE_HANDLER is loaded: its code runs on this thread, and a
  // fire-and-forget call of a consumer (`void fetch(...)`) that fails would stop ingest with it,
  // where on AWS Lambda's Node.js runtime fails only that consumer's invocation
  // (Runtime.UnhandledPromiseRejection). It is logged as an error instead.
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', (reason) => {
    if (!consumers) return fail(reason);
    new Logger({ service: 'local' }).error(
      'unhandled promise rejection, ignored: a CHANGE_HANDLER call nobody awaited? (on AWS it fails that invocation)',
      { error: reason instanceof Error ? reason : new Error(String(reason)) },
    );
  });
  // A supervisor that stops `npm run local` by signalling npm alone kills the shell npm runs the
  // script in, which does not pass the signal on: we would be left running, with both engines,
  // reparented. So a new parent means ours is gone: stop as on SIGTERM.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) void shutdown('parent process exited');
  }, ORPHAN_CHECK_MS).unref();
  process.stdout.write(pipeline.readyLine() + '\n');

  function fail(error: unknown): void {
    crashed ??= `unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
    void shutdown(crashed);
  }

  async function shutdown(reason: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    // stderr may be the closed pipe itself: never let saying so stop the stopping.
    try {
      if (!process.stderr.destroyed) process.stderr.write(`${reason}: stopping the local pipeline\n`);
    } catch {
      // nothing to tell it to
    }
    await pipeline?.stop().catch(() => undefined);
    process.exit(crashed ? 1 : 0);
  }
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** How often the pipeline checks that the process that started it is still there. */
const ORPHAN_CHECK_MS = 1000;

main().catch((error) => {
  process.stderr.write(`${startFailure(error)}\n`);
  process.exit(1);
});

/** What stopped the start, in one line where the user can act on it, else the stack. */
function startFailure(error: unknown): string {
  if (error instanceof ConfigError) return error.message;
  if ((error as NodeJS.ErrnoException)?.code === 'EADDRINUSE')
    return `PORT ${process.env.PORT ?? 8080} is in use by another process: stop it, or set PORT to a free port (PORT=0 picks one)`;
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
