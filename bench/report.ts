/** Writes the run's results as Markdown and JSON (bench/results/latest.{md,json}) and the console summary. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Figure, SectionResult, Table } from './types';

export interface BenchReport {
  readonly date: string;
  readonly quick: boolean;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGb: number;
    readonly node: string;
    readonly platform: string;
    readonly loadAverageAtStart: readonly number[];
  };
  readonly totalSeconds: number;
  readonly sections: readonly SectionResult[];
}

const status = (met: boolean | null, error?: string) => (error ? 'error' : met === null ? '—' : met ? 'met' : 'not met');

const cell = (value: Figure): string =>
  (value === null ? '—' : typeof value === 'number' ? String(value) : String(value)).replace(/\|/g, '\\|');

function markdownTable(table: Table): string {
  const lines = [`| ${table.columns.join(' | ')} |`, `|${table.columns.map(() => ' --- ').join('|')}|`];
  for (const row of table.rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

/** One line per section: the headline figures of latest.md's summary table. */
export function summaryRows(report: BenchReport): Table {
  return {
    columns: ['measurement', 'result', 'goal', 'status'],
    rows: report.sections.map((s) => [
      s.title,
      s.error ? `failed: ${s.error.split('\n')[0]}` : headline(s),
      s.goal ?? '—',
      status(s.met, s.error),
    ]),
  };
}

function headline(s: SectionResult): string {
  const f = s.figures;
  switch (s.id) {
    case 'ingestCpu':
      return `ours ${f.oursMicros} µs/event = ${f.oursVsLowerBound}x lower bound (${f.lowerBoundMicros} µs); jose TokenVerifier + hash + parse alone ${f.sdkVerifierVsLowerBound}x; WebhookReceiver ${f.webhookReceiverMicros} µs = ${f.webhookReceiverVsLowerBound}x`;
    case 'ingestHttp':
      return (
        Object.keys(f)
          .filter((k) => k.startsWith('p99Ms@'))
          .map(
            (k) =>
              `${k.slice(6)}/s: p50 ${f[`p50Ms@${k.slice(6)}`]} / p90 ${f[`p90Ms@${k.slice(6)}`]} / p99 ${f[k]} / max ${f[`maxMs@${k.slice(6)}`]} ms`,
          )
          .join('; ') + `; ${f.errors} errors (processor running)`
      );
    case 'coldStart':
      return Object.keys(f)
        .filter((k) => k.endsWith('BundleKB'))
        .map((k) => {
          const name = k.replace('BundleKB', '');
          return `${name} ${f[k]} KB, init ${f[`${name}InitMs`]} ms`;
        })
        .join('; ');
    case 'processor':
      return `${f.eventsPerSecond} events/s; ${f.wcuPerEvent} WCU, ${f.rcuPerEvent} RCU, ${f.dynamodbRequestsPerEvent} DynamoDB requests, ${f.changesPerEvent} bus entries per event`;
    case 'joinStorm':
      return `${f.participants} joins in ${f.secondsToGenerate} s: ${f.dropped} of ${f.eventsGenerated} dropped (MaxDepth ${f.droppedMaxDepth}, MaxAge ${f.droppedMaxAge}); state right after ${f.runsToCorrectState ?? '>6'} reconciler runs`;
    case 'endToEnd':
      return `at ${f.ratePerSecond}/s: POST → state p50 ${f.stateP50Ms} / p99 ${f.stateP99Ms} ms, POST → published p50 ${f.publishedP50Ms} / p99 ${f.publishedP99Ms} ms; ${f.sqsRequestsPerEvent} SQS requests/event; ${f.notApplied} not applied`;
    default:
      return String(f.summary ?? '');
  }
}

export function toMarkdown(report: BenchReport): string {
  const m = report.machine;
  const out: string[] = [
    '# Benchmark results',
    '',
    `${report.quick ? '**Quick (smoke) mode: tiny loads, figures not meaningful.** ' : ''}One run of \`npm run bench\` on ${report.date}: ${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB, Node ${m.node} (${m.platform}), load average at start ${m.loadAverageAtStart.join(' / ')}. Total wall time ${report.totalSeconds} s.`,
    'Timings are from this machine, with DynamoDB Local, the SQS emulator and the LiveKit simulator on the same cores; ratios within one run are the figures to compare across machines.',
    '',
    '## Summary',
    '',
    markdownTable(summaryRows(report)),
    '',
  ];
  for (const s of report.sections) {
    out.push(`## ${s.title}`, '');
    if (s.goal) out.push(`Goal: ${s.goal} — **${status(s.met, s.error)}**`, '');
    out.push(`Method: ${s.method}. Section wall time ${s.seconds} s.`, '');
    if (s.error) out.push('```', s.error, '```', '');
    const figures = Object.entries(s.figures);
    if (figures.length > 0) out.push(markdownTable({ columns: ['figure', 'value'], rows: figures.map(([k, v]) => [k, v]) }), '');
    for (const [name, table] of Object.entries(s.tables ?? {})) out.push(`**${name}**`, '', markdownTable(table), '');
    for (const note of s.notes ?? []) out.push(`- ${note}`);
    if ((s.notes ?? []).length > 0) out.push('');
  }
  return out.join('\n');
}

export function toConsole(report: BenchReport): string {
  const table = summaryRows(report);
  const lines = table.rows.map((row) => `${String(row[3]).padEnd(8)} ${String(row[0]).padEnd(44)} ${row[1]}`);
  return [
    `bench (${report.quick ? 'quick' : 'full'}) ${report.date}, ${report.machine.cpus} cpus, Node ${report.machine.node}, ${report.totalSeconds} s`,
    ...lines,
  ].join('\n');
}

export function writeReport(report: BenchReport, dir: string): { markdown: string; json: string } {
  mkdirSync(dir, { recursive: true });
  const markdown = join(dir, 'latest.md');
  const json = join(dir, 'latest.json');
  writeFileSync(markdown, toMarkdown(report) + '\n');
  writeFileSync(json, JSON.stringify(report, null, 2) + '\n');
  return { markdown, json };
}
