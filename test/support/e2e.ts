import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { QueryTarget } from '../../lambda/process/queries';
import { DynamoDbLocal, startDynamoDbLocal } from '../../local/engines/dynamodb-local';
import { SqsEmulator, startSqsEmulator } from '../../local/engines/sqs-emulator';
import { LocalPipeline } from '../../local/local-pipeline';
import { waitUntilApplied } from '../../local/truth';
import { RandomSource } from '../../simulator/ids';
import { closeServer } from '../../simulator/listen';

export const KEY = 'APIe2e';
export const SECRET = 'e2e-secret-that-is-long-enough-for-hs256';

export interface Engines {
  readonly dynamodb: DynamoDbLocal;
  readonly sqs: SqsEmulator;
  stop(): Promise<void>;
}

/** DynamoDB Local and the SQS emulator, started once per test file and shared by its pipelines. */
export async function startEngines(): Promise<Engines> {
  const [dynamodb, sqs] = await Promise.all([startDynamoDbLocal(), startSqsEmulator()]);
  return { dynamodb, sqs, stop: async () => void (await Promise.all([dynamodb.stop(), sqs.stop()])) };
}

export function target(pipeline: LocalPipeline): QueryTarget {
  return { ddb: pipeline.documentClient, tableName: pipeline.tableName };
}

/** Polls `read` every `intervalMs` until `done` holds (no fixed sleeps), or fails after `timeoutMs` with the last value. */
export async function eventually<T>(
  read: () => Promise<T> | T,
  done: (value: T) => boolean,
  timeoutMs = 30_000,
  what = 'condition',
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`${what} not met within ${timeoutMs} ms; last value: ${JSON.stringify(value, null, 1)?.slice(0, 4000)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves when every one of `eventIds` is applied in `pipeline`'s state table. */
export function allApplied(pipeline: LocalPipeline, eventIds: readonly string[], timeoutMs = 30_000): Promise<void> {
  return waitUntilApplied(pipeline, eventIds, timeoutMs);
}

export interface FlakyProxyOptions {
  readonly upstream: string;
  readonly random: RandomSource;
  /** Share of requests forwarded (and so enqueued) whose answer is then held past the sender's timeout. */
  readonly answerLateShare: number;
  readonly lateMs: number;
  /** Share of requests answered 503 without forwarding. */
  readonly refuseShare: number;
  /**
   * Share of events answered 200 at once and forwarded only `deferMs` later, after events LiveKit
   * sent behind them: the order a second LiveKit node, or a slow network path, produces.
   */
  readonly deferShare?: number;
  readonly deferMs?: number;
}

/**
 * Sits between the simulator and the front door and makes LiveKit retry: some events are refused
 * with 503 on their first attempt, before reaching us; others reach us (the event is stored) but
 * the answer to their first attempt comes too late, so LiveKit sends the same event again. Only
 * first attempts are disturbed, so no event exhausts LiveKit's retries because of the proxy.
 * Counts what it forwarded.
 */
export class FlakyProxy {
  private server: Server | undefined;
  /** Event id → number of times it was forwarded to the pipeline. */
  readonly forwarded = new Map<string, number>();
  refused = 0;
  answeredLate = 0;
  deferred = 0;
  private readonly pendingForwards = new Set<Promise<unknown>>();
  private readonly seen = new Set<string>();

  constructor(private readonly options: FlakyProxyOptions) {}

  async start(): Promise<string> {
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a test proxy: node ignores the promise; each request ends its own response
    this.server = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const id = (JSON.parse(body.toString('utf8')) as { id: string }).id;
      const first = !this.seen.has(id);
      this.seen.add(id);
      const roll = first ? this.options.random() : 1;
      if (roll < this.options.refuseShare) {
        this.refused++;
        response.writeHead(503).end();
        return;
      }
      const forward = async () => {
        const upstream = await fetch(this.options.upstream, {
          method: 'POST',
          headers: { 'content-type': String(request.headers['content-type']), authorization: String(request.headers.authorization) },
          body,
        });
        this.forwarded.set(id, (this.forwarded.get(id) ?? 0) + 1);
        return upstream;
      };
      const deferShare = this.options.deferShare ?? 0;
      if (
        roll >= this.options.refuseShare + this.options.answerLateShare &&
        roll < this.options.refuseShare + this.options.answerLateShare + deferShare
      ) {
        this.deferred++;
        const later = new Promise((resolve) => setTimeout(resolve, this.options.deferMs ?? 0)).then(forward).then(async (upstream) => {
          if (upstream.status !== 200) throw new Error(`deferred forward of ${id} answered ${upstream.status}`);
        });
        this.pendingForwards.add(later);
        void later.finally(() => this.pendingForwards.delete(later));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      }
      const upstream = await forward();
      const text = await upstream.text();
      if (roll < this.options.refuseShare + this.options.answerLateShare) {
        this.answeredLate++;
        await new Promise((resolve) => setTimeout(resolve, this.options.lateMs));
      }
      if (!response.destroyed) response.writeHead(upstream.status, { 'content-type': 'application/json' }).end(text);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/webhook`;
  }

  /** Resolves when every deferred event has been forwarded (rejects if one was not accepted). */
  async flushed(): Promise<void> {
    await Promise.all([...this.pendingForwards]);
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.pendingForwards]);
    const server = this.server;
    if (!server) return;
    await closeServer(server);
  }
}
