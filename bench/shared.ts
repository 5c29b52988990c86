/** Helpers the sections share: a local pipeline on the shared engines, signed events, an open-loop sender. */
import { Agent, request } from 'node:http';
import { parseConfig, PipelineConfig } from '../lib/config';
import { LocalPipeline, LocalPipelineOptions, startLocalPipeline } from '../local/local-pipeline';
import { signWebhook } from '../test/support/livekit-signing';
import { participantJoined } from '../test/support/livekit-events';
import type { BenchContext } from './types';

export const KEY = 'APIbench';
export const SECRET = 'bench-secret-that-is-long-enough-for-hs256';

/** The deployed defaults (cdk.json has no overrides of them). */
export const benchConfig = (overrides: Record<string, unknown> = {}): PipelineConfig => parseConfig(overrides);

export function startBenchPipeline(context: BenchContext, options: Partial<LocalPipelineOptions> & { logSink?: (line: string) => void } = {}): Promise<LocalPipeline> {
  return startLocalPipeline({
    config: benchConfig(),
    keys: { [KEY]: SECRET },
    engines: context.engines,
    logLevel: 'info',
    logSink: () => undefined,
    ...options,
  });
}

export interface SignedEvent {
  readonly id: string;
  readonly body: string;
  readonly token: string;
}

let serial = 0;
/** `count` distinct participant_joined events (each a new participant, so each changes state), signed as LiveKit signs them. */
export async function signedJoins(count: number, prefix: string): Promise<SignedEvent[]> {
  const run = `${prefix}${Date.now().toString(36)}`;
  const t0 = Math.floor(Date.now() / 1000);
  const events: SignedEvent[] = [];
  for (let i = 0; i < count; i++) {
    const n = ++serial;
    const room = { sid: `RM_${run}_${n % 50}`, name: `bench-${run}-${n % 50}` };
    const event = participantJoined(room, { sid: `PA_${run}_${n}`, identity: `user-${n}` }, t0, 2, `EV_${run}_${n}`);
    const body = JSON.stringify(event);
    events.push({ id: event.id, body, token: await signWebhook(body, KEY, SECRET) });
  }
  return events;
}

export interface SentResult {
  readonly id: string;
  readonly status: number;
  /** ms from the scheduled send time (not the actual one: open loop, no coordinated omission) to the full answer. */
  readonly latencyMs: number;
  /** performance.now() at the scheduled send time. */
  readonly scheduledAt: number;
}

/**
 * Open loop: request i is due at start + i / rate whatever happened to earlier ones. Latency is
 * counted from when it was due, so a client falling behind shows up in the figures instead of
 * hiding them. Keep-alive connections through one `http.Agent`, as LiveKit's Go client reuses them.
 */
export async function openLoop(url: string, events: readonly SignedEvent[], ratePerSecond: number, agent: Agent = new Agent({ keepAlive: true, maxSockets: 256 })): Promise<SentResult[]> {
  const results: Promise<SentResult>[] = [];
  const start = performance.now() + 5;
  let next = 0;
  const target = new URL(url);
  const send = (event: SignedEvent, scheduledAt: number): Promise<SentResult> =>
    new Promise((resolve) => {
      const done = (status: number) => resolve({ id: event.id, status, latencyMs: performance.now() - scheduledAt, scheduledAt });
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          agent,
          headers: { authorization: event.token, 'content-type': 'application/webhook+json', 'user-agent': 'LiveKit', 'content-length': Buffer.byteLength(event.body) },
        },
        (response) => {
          response.resume();
          response.on('end', () => done(response.statusCode ?? 0));
          response.on('error', () => done(0));
        },
      );
      req.on('error', () => done(0));
      req.end(event.body);
    });
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < events.length && start + (next * 1000) / ratePerSecond <= now) {
        results.push(send(events[next], start + (next * 1000) / ratePerSecond));
        next++;
      }
      if (next >= events.length) return resolve();
      const due = start + (next * 1000) / ratePerSecond;
      setTimeout(tick, Math.max(0, due - performance.now()));
    };
    tick();
  });
  return Promise.all(results);
}
