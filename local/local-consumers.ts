/**
 * Local consumers of the change feed: `npm run local` hands each published change to handler
 * modules the user names (`CHANGE_HANDLER`, `LocalPipelineOptions.consumers`), as an EventBridge
 * rule with a Lambda target would on AWS, so a consumer is developed and tested without AWS.
 *
 * What a handler receives is the event the bus builds from the publisher's PutEvents entry
 * (`changeEventOf` of the consumer kit): `version` "0", a fresh `id` per delivery, `detail-type`,
 * `source` livekit.webhooks, `account`, `time` (the change's `occurredAt` to the second),
 * `region`, `resources: []`, `detail` (the change).
 *
 * Delivery follows EventBridge -> Lambda, which invokes the function asynchronously:
 * - every change is its own invocation, started in publish order but not awaited by the pipeline
 *   (the publisher, the processor and ingest never wait for a consumer); invocations may overlap,
 *   and nothing orders a retried change before later ones (on AWS neither);
 * - a handler that throws (or rejects) is retried as Lambda retries an async invocation: 3
 *   attempts in all, the retries after 1 s and 2 s here (1 and 2 minutes on Lambda, shortened so
 *   local feedback stays fast), each failure logged at warn; after the last one the change is
 *   dropped for that consumer and logged at error (`change handler gave up`), as Lambda discards
 *   it (or sends it to an on-failure destination, when one is configured).
 * Handlers run on the main thread of the local runtime, where the stream poller runs: a handler
 * that blocks the event loop for long (synchronous work) delays the change feed, not ingest
 * (ingest has a thread of its own).
 */
import { isAbsolute, resolve } from 'node:path';
import { changeEventOf, ChangeDetail, ChangeDetailType, ChangeEvent } from '../consumer/change-event';
import type { StateChange } from '../lambda/process/publisher';
import type { Logger } from '../lambda/shared/logger';
import { LOCAL_REGION } from './engines/dynamodb-local';

/** A handler of change events: a Lambda handler's signature (the context is not passed locally). */
export type ChangeHandler = (event: ChangeEvent) => unknown;

export interface LocalConsumer {
  /** Named in log lines. */
  readonly name: string;
  readonly handler: ChangeHandler;
  /** Detail-types to deliver, as `onChange`'s `types`; default every one. */
  readonly types?: readonly ChangeDetailType[];
}

/** The account id local events carry (no AWS account behind them). */
export const LOCAL_ACCOUNT = '000000000000';

export interface LocalConsumersOptions {
  readonly consumers: readonly LocalConsumer[];
  readonly logger: Logger;
  /** Delays before the retries of a failed delivery; default [1000, 2000] (3 attempts, Lambda's async default). */
  readonly retryDelaysMs?: readonly number[];
}

/** Hands published changes to the local consumers; see the module comment for the delivery policy. */
export class LocalConsumers {
  private readonly retryDelaysMs: readonly number[];
  private readonly running = new Set<Promise<void>>();
  private readonly timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private stopped = false;

  constructor(private readonly options: LocalConsumersOptions) {
    this.retryDelaysMs = options.retryDelaysMs ?? [1000, 2000];
  }

  /** Starts delivering `change` to every consumer whose types match; returns at once. */
  deliver(change: StateChange): void {
    if (this.stopped) return;
    for (const consumer of this.options.consumers) {
      if (consumer.types && !consumer.types.includes(change.detailType as ChangeDetailType)) continue;
      // One event per delivery, as the bus sends each rule target its own copy with the same id.
      const event = changeEventOf(change as unknown as ChangeDetail, { account: LOCAL_ACCOUNT, region: LOCAL_REGION }) as ChangeEvent;
      const invocation = this.invoke(consumer, event);
      this.running.add(invocation);
      void invocation.finally(() => this.running.delete(invocation));
    }
  }

  /** Resolves when every delivery started so far has succeeded or given up (retries included). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Stops retrying; deliveries in progress finish, pending retries are dropped. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const pending of this.timers) {
      clearTimeout(pending.timer);
      pending.resolve();
    }
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }

  private async invoke(consumer: LocalConsumer, event: ChangeEvent): Promise<void> {
    const { logger } = this.options;
    const fields = { consumer: consumer.name, changeId: event.detail.changeId, detailType: event['detail-type'] };
    const attempts = this.retryDelaysMs.length + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await consumer.handler(event);
        return;
      } catch (caught) {
        const error = caught instanceof Error ? caught : new Error(String(caught));
        if (attempt === attempts) {
          logger.error('change handler gave up', { ...fields, attempts, error });
          return;
        }
        const delayMs = this.retryDelaysMs[attempt - 1];
        logger.warn('change handler failed; retrying', { ...fields, attempt, retryInMs: delayMs, error });
        await this.sleep(delayMs);
        if (this.stopped) return;
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const pending = { timer: setTimeout(() => (this.timers.delete(pending), resolve()), ms), resolve };
      this.timers.add(pending);
    });
  }
}

/**
 * Loads a handler module for `npm run local`: `spec` is a path (relative to `cwd`), optionally
 * followed by `#exportName` (default `handler`, as a Lambda handler setting names it; a default
 * export that is a function also works). TypeScript modules load under tsx, as `npm run local` runs.
 * Throws an error that says what to fix when the module or the function is missing.
 */
export function loadChangeHandler(spec: string, cwd = process.cwd()): LocalConsumer {
  const hash = spec.lastIndexOf('#');
  const path = hash > 0 ? spec.slice(0, hash) : spec;
  const exportName = hash > 0 ? spec.slice(hash + 1) : 'handler';
  if (path.trim() === '') throw new Error('CHANGE_HANDLER names no module');
  const file = isAbsolute(path) ? path : resolve(cwd, path);
  let loaded: Record<string, unknown>;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require(file) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`CHANGE_HANDLER: cannot load ${file}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, {
      cause: error,
    });
  }
  const candidate = loaded[exportName] ?? (hash > 0 ? undefined : loaded.default);
  if (typeof candidate !== 'function') {
    throw new Error(
      `CHANGE_HANDLER: ${file} exports no function named ${JSON.stringify(exportName)} (exports: ${Object.keys(loaded).join(', ') || 'none'})`,
    );
  }
  return { name: hash > 0 ? `${path}#${exportName}` : path, handler: candidate as ChangeHandler };
}
