#!/usr/bin/env node
import { formatDemoReport, runDemo } from '../local/demo';

/**
 * `npm run demo`: the reported failures, played against the naive receiver and this pipeline side
 * by side (see local/demo.ts). DEMO_TIME_SCALE (default 0.1) scales LiveKit's timings; `--json`
 * prints the report as JSON.
 */
async function main(): Promise<void> {
  const timeScale = process.env.DEMO_TIME_SCALE ? Number(process.env.DEMO_TIME_SCALE) : 0.1;
  if (!(timeScale > 0 && timeScale <= 1)) throw new Error(`DEMO_TIME_SCALE must be in (0, 1], got ${process.env.DEMO_TIME_SCALE}`);
  const json = process.argv.includes('--json');
  const narrate = json ? undefined : (line: string) => process.stdout.write(`${line}\n`);
  narrate?.(`LiveKit (simulated, Cloud delivery rules at ${timeScale}x time) → the naive receiver and this pipeline\n`);
  const report = await runDemo({ timeScale, narrate });
  process.stdout.write(json ? JSON.stringify(report, null, 2) + '\n' : `\n${formatDemoReport(report)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
