/**
 * The load the HTTP and end-to-end sections put on the pipeline comes from a thread of its own, as
 * LiveKit is a process of its own: the bench's main thread also runs the processor, and a client
 * sharing its event loop would count the processor's work as ingest latency (or miss it).
 */
import { join } from 'node:path';
import { FunctionWorker, startFunctionWorker } from '../local/functions/function-worker';
import type { SentResult, SignedEvent } from './open-loop';

/** Pause between two state polls of the client (each one BatchGetItem per 100 pending items). */
export const STATE_POLL_MS_DEFAULT = 10;

export interface SendRequest {
  readonly url: string;
  readonly events: readonly SignedEvent[];
  readonly rate: number;
  /** Also poll DynamoDB Local for each event's `stateKey` item, until seen or `timeoutMs` after the last answer. */
  readonly watchState?: { readonly dynamodbEndpoint: string; readonly tableName: string; readonly timeoutMs: number };
}

export interface ClientResult extends SentResult {
  /** When the event's state item was first seen in DynamoDB Local (ms since the epoch), if watched and seen. */
  readonly stateVisibleAtEpochMs?: number;
}

export interface SendResult {
  readonly results: ClientResult[];
  /** Round trip of each state poll (BatchGetItem), when state was watched: the resolution of the state times. */
  readonly statePollRoundTripsMs: number[];
}

export interface LoadClient {
  /** Sends `events` open loop at `rate` per second from the client thread (keep-alive connections). */
  send(request: SendRequest): Promise<SendResult>;
  stop(): Promise<void>;
}

export async function startLoadClient(log: (line: string) => void): Promise<LoadClient> {
  const worker: FunctionWorker<void> = await startFunctionWorker<Record<string, never>, void>({
    name: 'bench-client',
    entry: join(__dirname, 'load-client.worker.ts'),
    init: {},
    logSink: log,
    onCrash: (error) => log(`bench client crashed: ${error.stack ?? error.message}`),
  });
  return {
    send: (request) => worker.call<SendResult>('send', request),
    stop: () => worker.stop(),
  };
}
