import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../support/paths';

/*
 * `npm run bench` in quick mode (BENCH_QUICK=1: tiny loads), as the command runs: it writes the
 * Markdown and JSON reports with every section, each with figures and no error, every number
 * finite. Timings are not asserted (they belong to the benchmark, not to a test).
 */
const root = REPO_ROOT;
const SECTIONS = ['ingestCpu', 'ingestHttp', 'coldStart', 'processor', 'endToEnd', 'reconciler', 'joinStorm', 'loss', 'cost'];

interface Report {
  quick: boolean;
  totalSeconds: number;
  machine: { cpus: number; node: string };
  sections: {
    id: string;
    title: string;
    method: string;
    figures: Record<string, unknown>;
    tables?: Record<string, { rows: unknown[][] }>;
    error?: string;
  }[];
}

describe('npm run bench (quick mode)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  let report: Report;
  let markdown: string;
  let stdout: string;

  beforeAll(async () => {
    const result = await promisify(execFile)(join(root, 'node_modules', '.bin', 'tsx'), ['bench/run.ts'], {
      cwd: root,
      env: { ...process.env, BENCH_QUICK: '1', BENCH_RESULTS_DIR: dir },
      timeout: 280_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    stdout = result.stdout;
    report = JSON.parse(readFileSync(join(dir, 'latest.json'), 'utf8'));
    markdown = readFileSync(join(dir, 'latest.md'), 'utf8');
  }, 300_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes latest.md and latest.json in the results directory', () => {
    expect(existsSync(join(dir, 'latest.md'))).toBe(true);
    expect(report.quick).toBe(true);
    expect(report.machine.cpus).toBeGreaterThan(0);
    expect(report.machine.node).toMatch(/^v\d+/);
  });

  it('has every section, each with a method, figures and no error', () => {
    expect(report.sections.map((s) => s.id)).toEqual(SECTIONS);
    for (const section of report.sections) {
      expect({ id: section.id, error: section.error }).toEqual({ id: section.id, error: undefined });
      expect(section.method.length).toBeGreaterThan(0);
      expect(Object.keys(section.figures).length).toBeGreaterThan(0);
    }
  });

  it('reports only finite numbers', () => {
    const numbers: [string, unknown][] = [['totalSeconds', report.totalSeconds]];
    for (const section of report.sections) {
      for (const [key, value] of Object.entries(section.figures))
        if (typeof value === 'number') numbers.push([`${section.id}.${key}`, value]);
      for (const [name, table] of Object.entries(section.tables ?? {})) {
        table.rows.forEach((row, i) =>
          row.forEach((value, j) => typeof value === 'number' && numbers.push([`${section.id}.${name}[${i}][${j}]`, value])),
        );
      }
    }
    expect(numbers.filter(([, value]) => !Number.isFinite(value as number))).toEqual([]);
    expect(numbers.length).toBeGreaterThan(SECTIONS.length);
  });

  it('prints the summary table and names every section in the Markdown', () => {
    for (const section of report.sections) {
      expect(markdown).toContain(`## ${section.title}`);
      expect(stdout).toContain(section.title);
    }
  });
});
