#!/usr/bin/env node
/**
 * `npm run bench`: every measurement of issue 7 in one run on this machine, then
 * bench/results/latest.{md,json} and a summary table on stdout.
 *   BENCH_QUICK=1        tiny loads (smoke test; figures not meaningful)
 *   BENCH_ONLY=a,b       run only these sections (ids: ingestCpu, ingestHttp, coldStart, processor,
 *                        endToEnd, reconciler, joinStorm, loss, cost)
 *   BENCH_RESULTS_DIR    where to write (default bench/results)
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { startDynamoDbLocal } from '../local/engines/dynamodb-local';
import { startSqsEmulator } from '../local/engines/sqs-emulator';
import { coldStart } from './cold-start';
import { cost } from './cost';
import { endToEnd } from './end-to-end';
import { ingestCpu } from './ingest-cpu';
import { ingestHttp } from './ingest-http';
import { joinStorm } from './join-storm';
import { loss } from './loss';
import { processor } from './processor';
import { reconciler } from './reconciler';
import { BenchReport, toConsole, writeReport } from './report';
import { BenchContext, round, Section, SectionResult } from './types';

export const SECTIONS: ReadonlyArray<readonly [string, string, Section]> = [
  ['ingestCpu', 'Ingest CPU per event', ingestCpu],
  ['ingestHttp', 'Ingest over HTTP (loopback, local front door, processor running)', ingestHttp],
  ['coldStart', 'Cold start proxy per function', coldStart],
  ['processor', 'Processor against DynamoDB Local', processor],
  ['endToEnd', 'End to end: POST to state in DynamoDB and to change published', endToEnd],
  ['reconciler', 'Reconciler at scale', reconciler],
  ['joinStorm', 'Join storm: one room, LiveKit serial queue', joinStorm],
  ['loss', 'Loss under report 1', loss],
  ['cost', 'Cost per million webhooks on AWS', cost],
];

export interface RunOptions {
  readonly quick: boolean;
  readonly only?: readonly string[];
  readonly resultsDir: string;
  readonly log?: (line: string) => void;
}

export async function runBench(options: RunOptions): Promise<{ report: BenchReport; files: { markdown: string; json: string } }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  const loadAverageAtStart = loadavg().map((n) => round(n));
  const [dynamodb, sqs] = await Promise.all([startDynamoDbLocal(), startSqsEmulator()]);
  const results = new Map<string, SectionResult>();
  try {
    const context: BenchContext = { quick: options.quick, engines: { dynamodb, sqs }, results, log };
    for (const [id, title, section] of SECTIONS) {
      if (options.only && !options.only.includes(id)) continue;
      log(`— ${title}`);
      const sectionStarted = performance.now();
      let result: SectionResult;
      try {
        result = { ...(await section(context)), seconds: round((performance.now() - sectionStarted) / 1000, 1) };
      } catch (error) {
        log(`  ${title} failed: ${error instanceof Error ? error.stack : String(error)}`);
        result = {
          id,
          title,
          met: false,
          method: 'failed before producing figures',
          figures: {},
          seconds: round((performance.now() - sectionStarted) / 1000, 1),
          error: error instanceof Error ? error.message : String(error),
        };
      }
      results.set(id, result);
    }
  } finally {
    await Promise.allSettled([dynamodb.stop(), sqs.stop()]);
  }
  const report: BenchReport = {
    date: new Date().toISOString(),
    quick: options.quick,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      memoryGb: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      loadAverageAtStart,
    },
    totalSeconds: round((performance.now() - started) / 1000, 1),
    sections: [...results.values()],
  };
  return { report, files: writeReport(report, options.resultsDir) };
}

if (require.main === module) {
  const quick = process.env.BENCH_QUICK === '1';
  const only = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',').map((s) => s.trim()) : undefined;
  const resultsDir = process.env.BENCH_RESULTS_DIR ?? join(__dirname, 'results');
  runBench({ quick, only, resultsDir })
    .then(({ report, files }) => {
      process.stdout.write(`${toConsole(report)}\n\nwrote ${files.markdown} and ${files.json}\n`);
      // Engines and sockets are closed; exit even if a library keeps a timer alive.
      process.exit(0);
    })
    .catch((error) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
}
