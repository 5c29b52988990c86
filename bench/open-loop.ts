/**
 * The open-loop sender the HTTP and end-to-end sections use, with no dependency on the pipeline so
 * it can run on a thread of its own (load-client.ts), as LiveKit is a process of its own.
 */
import { Agent, request } from 'node:http';

export interface SignedEvent {
  readonly id: string;
  readonly body: string;
  readonly token: string;
  /** Key of the state item the event creates (the participant item, docs/state-model.md). */
  readonly stateKey?: { readonly pk: string; readonly sk: string };
}

export interface SentResult {
  readonly id: string;
  readonly status: number;
  /** ms from the scheduled send time (not the actual one: open loop, no coordinated omission) to the full answer. */
  readonly latencyMs: number;
  /** performance.now() at the scheduled send time (this thread's clock). */
  readonly scheduledAt: number;
  /** The scheduled send time in ms since the epoch, sub-millisecond, comparable across threads. */
  readonly scheduledAtEpochMs: number;
}

/**
 * Open loop: request i is due at start + i / rate whatever happened to earlier ones. Latency is
 * counted from when it was due, so a client falling behind shows up in the figures instead of
 * hiding them. Keep-alive connections through one `http.Agent`, as LiveKit's Go client reuses them.
 */
export async function openLoop(
  url: string,
  events: readonly SignedEvent[],
  ratePerSecond: number,
  agent: Agent = new Agent({ keepAlive: true, maxSockets: 256 }),
): Promise<SentResult[]> {
  const results: Promise<SentResult>[] = [];
  const start = performance.now() + 5;
  let next = 0;
  const target = new URL(url);
  const send = (event: SignedEvent, scheduledAt: number): Promise<SentResult> =>
    new Promise((resolve) => {
      const done = (status: number) =>
        resolve({
          id: event.id,
          status,
          latencyMs: performance.now() - scheduledAt,
          scheduledAt,
          scheduledAtEpochMs: performance.timeOrigin + scheduledAt,
        });
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          agent,
          headers: {
            authorization: event.token,
            'content-type': 'application/webhook+json',
            'user-agent': 'LiveKit',
            'content-length': Buffer.byteLength(event.body),
          },
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
