/**
 * Ingest over HTTP on loopback, through the front door `npm run local` serves, with the pipeline
 * as users run it: `startLocalPipeline` with the processor and the publisher running (ingest and
 * its front door, the processor and the publisher each on a thread of their own, as on AWS). Open
 * loop at several request rates from a client on a thread of its own; latency measured by the
 * client from each request's scheduled send time to the end of the answer. A second, labelled row repeats one rate with the processor
 * paused, to show what the processor's work costs ingest on shared cores.
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { loadavg } from 'node:os';
import type { SdkCallStats } from '../local/functions/function-worker';
import type { LocalPipeline } from '../local/local-pipeline';
import { startLoadClient } from './load-client';
import { signedJoins, startBenchPipeline } from './shared';
import { percentile, round, Section, sleep, Table } from './types';

/** Rates the goal applies to (issue: ingest answer p99 ≤ 20 ms at 100 and 200 events/s, processing on). */
const GOAL_RATES = [100, 200];
const GOAL_P99_MS = 20;

async function backlog(pipeline: LocalPipeline): Promise<number> {
  const { Attributes = {} } = await pipeline.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: pipeline.queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** The ingest function's SendMessage requests so far (count, recent durations). */
async function ingestSendMessage(pipeline: LocalPipeline): Promise<SdkCallStats> {
  return (await pipeline.functionSdkCalls()).ingest?.['SQS.SendMessage'] ?? { count: 0, recentDurationsMs: [] };
}

/** Waits until the processor has emptied the queue (up to `timeoutMs`); returns what is left. */
async function drained(pipeline: LocalPipeline, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let left = await backlog(pipeline);
  while (left > 0 && Date.now() < deadline) {
    await sleep(250);
    left = await backlog(pipeline);
  }
  return left;
}

export const ingestHttp: Section = async (context) => {
  const { quick, log } = context;
  const rates = quick ? [20, 50] : [50, 100, 200, 500];
  const pausedRate = quick ? 50 : 200;
  const seconds = quick ? 0.5 : 4;
  const pipeline = await startBenchPipeline(context);
  const client = await startLoadClient(log);
  const rows: (number | string)[][] = [];
  const figures: Record<string, number> = {};
  let goalWorstP99 = 0;
  let totalErrors = 0;
  const notDrained: string[] = [];

  const measure = async (rate: number, processor: 'on' | 'paused') => {
    const events = await signedJoins(Math.round(rate * seconds), `http${processor}${rate}`);
    await sleep(200);
    const sendsBefore = await ingestSendMessage(pipeline);
    const { results } = await client.send({ url: pipeline.webhookUrl, events, rate });
    const queued = await backlog(pipeline);
    const sends = await ingestSendMessage(pipeline);
    const sendDurations = sends.recentDurationsMs.slice(-(sends.count - sendsBefore.count));
    const latencies = results.map((r) => r.latencyMs);
    const errors = results.filter((r) => r.status !== 200).length;
    const p50 = percentile(latencies, 50);
    const p90 = percentile(latencies, 90);
    const p99 = percentile(latencies, 99);
    const max = Math.max(...latencies);
    const over20 = latencies.filter((ms) => ms >= GOAL_P99_MS).length;
    totalErrors += errors;
    const sendP50 = percentile(sendDurations, 50);
    const sendP99 = percentile(sendDurations, 99);
    rows.push([
      processor,
      rate,
      results.length,
      round(p50),
      round(p90),
      round(p99),
      round(max),
      over20,
      errors,
      round(sendP50),
      round(sendP99),
      queued,
    ]);
    const prefix = processor === 'on' ? '' : 'paused';
    const name = (figure: string) => (prefix ? `${prefix}${figure[0].toUpperCase()}${figure.slice(1)}` : figure);
    figures[`${name('p50Ms')}@${rate}`] = round(p50);
    figures[`${name('p90Ms')}@${rate}`] = round(p90);
    figures[`${name('p99Ms')}@${rate}`] = round(p99);
    figures[`${name('maxMs')}@${rate}`] = round(max);
    figures[`${name('errors')}@${rate}`] = errors;
    figures[`${name('sqsSendP99Ms')}@${rate}`] = round(sendP99);
    if (processor === 'on') figures[`queuedAfter@${rate}`] = queued;
    log(
      `ingest HTTP ${rate} req/s, processor ${processor}: p50 ${round(p50)} ms, p90 ${round(p90)} ms, p99 ${round(p99)} ms, max ${round(max)} ms, ${errors} non-200; ` +
        `SendMessage inside ingest p50 ${round(sendP50)} / p99 ${round(sendP99)} ms; ${queued} queued`,
    );
    return p99;
  };

  try {
    // Warm-up: JIT, key cache, connections, the processor's first batches.
    await client.send({ url: pipeline.webhookUrl, events: await signedJoins(quick ? 20 : 200, 'warm'), rate: 100 });
    await drained(pipeline, 30_000);
    for (const rate of rates) {
      const p99 = await measure(rate, 'on');
      if (GOAL_RATES.includes(rate)) goalWorstP99 = Math.max(goalWorstP99, p99);
      // Each rate starts with the processor caught up, as a steady state at that rate would be.
      const left = await drained(pipeline, quick ? 10_000 : 60_000);
      if (left > 0) notDrained.push(`${left} messages still queued 60 s after the ${rate} req/s run`);
    }
    // The same load with the processor paused: ingest alone on the cores (not the headline).
    await pipeline.eventSource.stop();
    await measure(pausedRate, 'paused');
  } finally {
    await client.stop();
    await pipeline.stop();
  }
  const goalRates = quick ? [] : GOAL_RATES;
  const table: Table = {
    columns: [
      'processor',
      'req/s',
      'requests',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      '≥ 20 ms',
      'non-200',
      'SendMessage p50 ms',
      'SendMessage p99 ms',
      'queued after',
    ],
    rows,
  };
  return {
    id: 'ingestHttp',
    title: 'Ingest over HTTP (loopback, local front door, processor running)',
    goal: `p99 ≤ ${GOAL_P99_MS} ms at ${GOAL_RATES.join(' and ')} req/s with the processor running, no errors (LiveKit waits 3 s)`,
    met: quick ? null : goalWorstP99 <= GOAL_P99_MS && totalErrors === 0,
    method: `startLocalPipeline as \`npm run local\` runs it (default config, processor running; ingest with its front door, the processor and the publisher each on a worker thread of their own; the processor, the publisher and DynamoDB Local at background CPU priority, as local/cpu-priority.ts explains); open loop from a client on its own thread, ${seconds} s per rate, keep-alive connections, signed participant_joined bodies; latency from scheduled send to full answer; queue drained before each rate; last row: processor paused`,
    figures: { ...figures, ...(goalRates.length > 0 ? { goalWorstP99Ms: round(goalWorstP99) } : {}), errors: totalErrors },
    tables: { byRate: table },
    notes: [
      `Client, front door, ingest handler, processor, SQS emulator and DynamoDB Local share this machine's cores (load average ${loadavg()
        .map((n) => n.toFixed(2))
        .join(' / ')} at the end of this section); a p99 above the goal with a low p50 is scheduling on shared cores, not steady cost.`,
      '"queued after": messages in the queue (visible + in flight) when the rate\'s last answer came: the processor\'s backlog at that moment.',
      "\"SendMessage\": the SQS emulator's answer time to the ingest handler's one request per event, timed inside the ingest function: the part of the answer time spent in the emulator, which the processor's pollers share locally (on AWS, SQS is not shared with our own processor's CPU).",
      ...notDrained,
    ],
  };
};
