/** Helpers the sections share: a local pipeline on the shared engines, signed events, an open-loop sender (open-loop.ts). */
import { sqsEnqueue } from '../lambda/reconcile/enqueue';
import { createLiveKitApi } from '../lambda/reconcile/livekit-api';
import { createReconciler, Reconciler, ReconcilerOptions } from '../lambda/reconcile/reconciler';
import { Logger } from '../lambda/shared/logger';
import { MemoryMetricsSink } from '../lambda/shared/metrics';
import { parseConfig, PipelineConfig } from '../lib/config';
import { LocalPipeline, LocalPipelineOptions, startLocalPipeline } from '../local/local-pipeline';
import { signWebhook } from '../simulator/signing';
import { participantJoined } from '../simulator/events';
import { keys } from '../contracts/table-schema';
import type { SignedEvent } from './open-loop';
import type { BenchContext } from './types';

export const KEY = 'APIbench';
export const SECRET = 'bench-secret-that-is-long-enough-for-hs256';

/** The deployed defaults (cdk.json has no overrides of them). */
export const benchConfig = (overrides: Record<string, unknown> = {}): PipelineConfig => parseConfig(overrides);

export function startBenchPipeline(
  context: BenchContext,
  options: Partial<LocalPipelineOptions> & { logSink?: (line: string) => void } = {},
): Promise<LocalPipeline> {
  return startLocalPipeline({
    config: benchConfig(),
    keys: { [KEY]: SECRET },
    engines: context.engines,
    logLevel: 'info',
    logSink: () => undefined,
    ...options,
  });
}

/**
 * The reconciler the local pipeline runs (as `npm run local` wires it), pointed at the simulator's
 * server API at `apiUrl`: it repairs through the pipeline's own queue, with metrics kept in memory
 * and its log silenced. `options` sets the config, the time budget and (optionally) the clock.
 */
export function benchReconciler(
  pipeline: LocalPipeline,
  apiUrl: string,
  options: Pick<ReconcilerOptions, 'config' | 'timeBudgetMs' | 'clock'>,
): Reconciler {
  return createReconciler({
    livekit: createLiveKitApi({ url: apiUrl, apiKey: KEY, apiSecret: SECRET }),
    ddb: pipeline.documentClient,
    tableName: pipeline.tableName,
    enqueue: sqsEnqueue(pipeline.sqs, pipeline.queueUrl),
    metrics: new MemoryMetricsSink(),
    logger: new Logger({ service: 'reconcile', level: 'error', sink: () => undefined }),
    ...options,
  });
}

export type { SentResult, SignedEvent } from './open-loop';
export { openLoop } from './open-loop';

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
    events.push({ id: event.id, body, token: await signWebhook(body, KEY, SECRET), stateKey: keys.participant(`PA_${run}_${n}`) });
  }
  return events;
}
