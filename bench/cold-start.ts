/**
 * Cold start proxy per Lambda: the bundle as the stack builds it (esbuild with lib/lambda-defaults.ts'
 * settings) and the time `node` takes to load it (module init: imports, clients, config from env).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { NODE_TARGET } from '../lib/lambda-defaults';
import { median, percentile, round, Section, Table } from './types';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');
/** Under the repo so `@aws-sdk/*` (external, as on Lambda) resolves from node_modules. Gitignored. */
const OUT_DIR = join(__dirname, 'results', 'bundles.tmp');

/** Dummy values for what each handler reads at load (the names the stack passes). */
const ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  LOG_LEVEL: 'info',
  LIVEKIT_KEYS_SECRET_ID: 'bench-secret',
  QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench',
  KEY_CACHE_SECONDS: '300',
  PIPELINE_NAME: 'LiveKitWebhooks',
  MAX_BODY_BYTES: '65536',
  CLOCK_TOLERANCE_SECONDS: '30',
  TABLE_NAME: 'bench-table',
  EVENT_BUS_NAME: 'bench-bus',
  EVENT_RECORD_TTL_DAYS: '30',
  OUTBOX_LEASE_SECONDS: '30',
  LIVEKIT_URL: 'http://127.0.0.1:7880',
  LIVEKIT_API_KEY: 'APIbench',
  RECONCILE_INTERVAL_MINUTES: '1',
  RECONCILE_GRACE_SECONDS: '55',
  RECONCILE_REQUEST_BUDGET: '1000',
  RECONCILE_CONCURRENCY: '8',
  RECONCILE_TIME_BUDGET_MS: '48000',
  RECONCILE_FULL_CHECK_MINUTES: '30',
};

const INIT_SCRIPT = `const t=process.hrtime.bigint();require(process.argv[1]);process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6));process.exit(0)`;

export const coldStart: Section = async ({ quick, log }) => {
  mkdirSync(OUT_DIR, { recursive: true });
  const functions = ['ingest', 'process', 'reconcile'].filter((name) => existsSync(join(ROOT, 'lambda', name, 'handler.ts')));
  const spawns = quick ? 2 : 12;
  const rows: (number | string)[][] = [];
  const figures: Record<string, number | string> = {};
  const notes: string[] = [];
  let ingestOk = false;
  for (const name of functions) {
    const outfile = join(OUT_DIR, `${name}.js`);
    // Mirrors lib/lambda-defaults.ts `bundling` (minify, source map, target, CJS, @aws-sdk/* external)
    // and what NodejsFunction adds (bundle, platform node); the target constant is imported from there.
    await build({
      entryPoints: [join(ROOT, 'lambda', name, 'handler.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: NODE_TARGET,
      minify: true,
      sourcemap: true,
      external: ['@aws-sdk/*'],
      logLevel: 'silent',
    });
    const bytes = statSync(outfile).size;
    const measure = async (nodeOptions: string) => {
      const times: number[] = [];
      let failure: string | undefined;
      for (let i = 0; i < spawns; i++) {
        try {
          const { stdout } = await run(process.execPath, ['-e', INIT_SCRIPT, outfile], {
            env: { PATH: process.env.PATH ?? '', ...ENV, NODE_OPTIONS: nodeOptions },
            timeout: 30_000,
          });
          times.push(Number(stdout));
        } catch (error) {
          failure =
            String((error as { stderr?: string }).stderr ?? error)
              .split('\n')
              .find((line) => /Error/.test(line)) ?? String(error);
          break;
        }
      }
      return { times, failure };
    };
    // As deployed: NODE_OPTIONS=--enable-source-maps (lib/lambda-defaults.ts).
    const deployed = await measure('--enable-source-maps');
    const plain = await measure('');
    if (deployed.failure) notes.push(`${name}: the bundle failed to load with dummy env: ${deployed.failure}`);
    const initMs = median(deployed.times);
    const initP90 = percentile(deployed.times, 90);
    const plainMs = median(plain.times);
    rows.push([name, round(bytes / 1024, 1), round(initMs, 1), round(initP90, 1), round(plainMs, 1)]);
    figures[`${name}BundleKB`] = round(bytes / 1024, 1);
    figures[`${name}InitMs`] = round(initMs, 1);
    figures[`${name}InitNoSourceMapsMs`] = round(plainMs, 1);
    if (name === 'ingest') ingestOk = bytes < 200 * 1024 && initMs < 100;
    log(`cold start ${name}: ${round(bytes / 1024, 1)} KB, init ${round(initMs, 1)} ms (${round(plainMs, 1)} ms without source maps)`);
  }
  return {
    id: 'coldStart',
    title: 'Cold start proxy per function',
    goal: 'ingest bundle under 200 KB minified and init under 100 ms',
    met: ingestOk,
    method: `esbuild with lib/lambda-defaults.ts settings (minify, source map, ${NODE_TARGET}, CJS, @aws-sdk/* external); init = require() of the bundle in a fresh node, median of ${spawns}, dummy env`,
    figures,
    tables: {
      byFunction: {
        columns: ['function', 'bundle KB', 'init ms (median)', 'init ms (p90)', 'init ms without --enable-source-maps'],
        rows,
      } satisfies Table,
    },
    notes: [
      `Node ${process.version} here; Lambda runs Node 24 on arm64. The AWS SDK v3 is external: loaded from node_modules here, from the runtime on Lambda. Bundle size excludes the .map file.`,
      ...notes,
    ],
  };
};
