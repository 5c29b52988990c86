/**
 * The documentation's references resolve, and the README's copies of interfaces match the code.
 *
 * - Every relative link and `#anchor` in README.md and docs/*.md points at a file of this
 *   repository and, for a Markdown target, at a heading (GitHub's slug rules) or an explicit
 *   `<a id>` in it; every repository path quoted in code (`lambda/...`) exists.
 * - No file of the repository points outside it: at the background notes it was built from,
 *   or at a machine path.
 * - The README's ready-line example has every field `npm run local` prints, its outputs table
 *   every `CfnOutput` of the stack, and docs/configuration.md every setting `lib/config.ts` has.
 *
 * Reads files only: no engines, milliseconds.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ConfigError, configInputFromContext, DEFAULT_CONFIG, parseConfig } from '../../lib/config';

const ROOT = resolve(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

/** README.md and every Markdown file under docs/, as repository-relative paths. */
function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.md'))
    .map((name) => join('docs', name));
  return ['README.md', ...docs.sort()];
}

/** The lines of a Markdown text outside fenced code blocks (``` or ~~~), with inline code spans kept. */
function proseLines(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker && (fence === undefined || (marker[0] === fence[0] && marker.length >= fence.length))) {
      fence = fence === undefined ? marker : undefined;
      continue;
    }
    if (fence === undefined) lines.push(line);
  }
  return lines;
}

/**
 * GitHub's heading anchor: the rendered text (links reduced to their text, HTML tags dropped),
 * lower-cased, every character that is not a letter, mark, number, `_`, `-` or space removed,
 * each space made a `-` (github-slugger, which github.com follows).
 */
function githubSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor a Markdown document defines: its headings' slugs (repeats get -1, -2, ...) and `<a id|name="...">`. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line);
    if (heading) {
      const base = githubSlug(heading[1]);
      const count = seen.get(base) ?? 0;
      seen.set(base, count + 1);
      anchors.add(count === 0 ? base : `${base}-${count}`);
    }
    for (const m of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(m[1]);
  }
  return anchors;
}

/** Inline code spans removed, so a link shown as code (`[x](y)`) is not taken for a link. */
const withoutCode = (line: string): string => line.replace(/(`+)[^`]*?\1/g, '');

/** The inline links (`[text](target)`, images too) of a Markdown document. */
function linksOf(markdown: string): string[] {
  const links: string[] = [];
  for (const line of proseLines(markdown)) {
    for (const m of withoutCode(line).matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push(m[1]);
  }
  return links;
}

/** Inline code spans that name a path in this repository (`lambda/ingest/handler.ts`, `test/e2e/`). */
function repoPathsQuoted(markdown: string): string[] {
  const top = /^(?:bench|bin|consumer|docs|examples|lambda|lib|local|scripts|simulator|test)\/[\w./-]*$/;
  const paths: string[] = [];
  for (const line of proseLines(markdown)) {
    for (const m of line.matchAll(/`([^`\s]+)`/g)) if (top.test(m[1])) paths.push(m[1]);
  }
  return paths;
}

const isInside = (path: string): boolean => path === ROOT || path.startsWith(ROOT + sep);

/** What is wrong with one link of a document, or undefined when it resolves. */
function brokenLink(document: string, target: string, anchors: (path: string) => Set<string>): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined; // https:, mailto: ...: not ours to check offline
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash === -1 ? target : target.slice(0, hash));
  const anchor = hash === -1 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const file = path === '' ? join(ROOT, document) : resolve(ROOT, dirname(document), path);
  if (!isInside(file)) return `${target}: outside the repository`;
  if (!existsSync(file)) return `${target}: no such file (${relative(ROOT, file)})`;
  if (anchor === undefined) return undefined;
  if (!file.endsWith('.md')) return /^L\d+(-L\d+)?$/.test(anchor) ? undefined : `${target}: an anchor into a file that is not Markdown`;
  return anchors(relative(ROOT, file)).has(anchor) ? undefined : `${target}: no heading or <a id> "${anchor}" in ${relative(ROOT, file)}`;
}

describe('GitHub heading slugs', () => {
  it.each([
    ['Quick start', 'quick-start'],
    [
      'Metrics (CloudWatch EMF, namespace `LiveKitWebhooks`, one document per run)',
      'metrics-cloudwatch-emf-namespace-livekitwebhooks-one-document-per-run',
    ],
    [
      'Configuration (CDK context or a typed config file; only `bin/` reads the environment)',
      'configuration-cdk-context-or-a-typed-config-file-only-bin-reads-the-environment',
    ],
    ['On-call: alarms, runbooks, tooling', 'on-call-alarms-runbooks-tooling'],
    ['Ingest p99 latency', 'ingest-p99-latency'],
    ['The `agent_job_*` events', 'the-agent_job_-events'],
    ['See [the docs](docs/x.md) → here', 'see-the-docs--here'],
  ])('%s → #%s', (heading, slug) => expect(githubSlug(heading)).toBe(slug));

  it('numbers repeated headings as GitHub does, and reads <a id> anchors, not headings inside code blocks', () => {
    const anchors = anchorsOf('# A\n## A\n<a id="x"></a>\n```bash\n# not a heading\n```\n## A\n');
    expect([...anchors].sort()).toEqual(['a', 'a-1', 'a-2', 'x']);
  });
});

describe('the documentation', () => {
  const cache = new Map<string, Set<string>>();
  const anchors = (path: string): Set<string> => {
    if (!cache.has(path)) cache.set(path, anchorsOf(read(path)));
    return cache.get(path)!;
  };

  it('is README.md and docs/*.md', () => {
    expect(documents()).toContain('README.md');
    expect(documents().length).toBeGreaterThan(3);
  });

  it.each(documents())('%s: every relative link and #anchor resolves', (document) => {
    const broken = linksOf(read(document))
      .map((target) => brokenLink(document, target, anchors))
      .filter((problem): problem is string => problem !== undefined);
    expect(broken).toEqual([]);
  });

  it.each(documents())('%s: every repository path it quotes exists', (document) => {
    const missing = repoPathsQuoted(read(document)).filter((path) => !existsSync(join(ROOT, path)));
    expect(missing).toEqual([]);
  });

  it('checks what it claims: a missing file, a missing anchor and an escape are each reported', () => {
    expect(brokenLink('README.md', 'docs/no-such-file.md', anchors)).toMatch(/no such file/);
    expect(brokenLink('README.md', 'docs/runbooks.md#no-such-anchor', anchors)).toMatch(/no heading/);
    expect(brokenLink('docs/runbooks.md', '../../shared/notes.md', anchors)).toMatch(/outside the repository/);
    expect(brokenLink('docs/runbooks.md', '#runbook-missed-events', anchors)).toBeUndefined();
    expect(linksOf('see `[x](nowhere.md)` and [y](docs/a.md "title")\n```\n[z](in-code.md)\n```')).toEqual(['docs/a.md']);
  });
});

/** The benchmark result files (bench/results/**: Markdown and the JSON beside it), as repository-relative paths. */
function benchResults(): string[] {
  return readdirSync(join(ROOT, 'bench', 'results'), { recursive: true, encoding: 'utf8' })
    .filter((name) => /\.(?:md|json)$/.test(name))
    .map((name) => join('bench', 'results', name).split(sep).join('/'))
    .sort();
}

/** Repository paths of files named anywhere in a text, code span or prose (`... (test/e2e/reconcile/scale.test.ts).`). */
function repoFilesNamed(text: string): string[] {
  const path = /(?<![\w./-])(?:bench|bin|consumer|docs|examples|lambda|lib|local|scripts|simulator|test)\/[\w./-]*\.(?:ts|js|md|json)\b/g;
  return [...text.matchAll(path)].map((m) => m[0]);
}

describe('the benchmark results', () => {
  it('are the Markdown and JSON under bench/results/', () => {
    expect(benchResults()).toEqual(expect.arrayContaining(['bench/results/latest.md', 'bench/results/reconciler/latest.md']));
  });

  it('finds a path in prose, not a longer path or a URL that merely contains one', () => {
    expect(repoFilesNamed('late webhook (test/reconcile/scale.test.ts). See lib/config.ts, x/lib/a.ts and https://h/lib/b.ts')).toEqual([
      'test/reconcile/scale.test.ts',
      'lib/config.ts',
    ]);
  });

  it.each(benchResults())('%s: every repository file it names exists (tests moved under test/<kind>/)', (file) => {
    const missing = repoFilesNamed(read(file)).filter((path) => !existsSync(join(ROOT, path)));
    expect(missing).toEqual([]);
  });
});

/** Text files of the repository (what git would track: no dependencies, build output or scratch). */
function repositoryTextFiles(): string[] {
  const skipDirs = new Set(['node_modules', '.git', 'cdk.out', 'coverage', '.local', '.scratch', 'dist']);
  const text = /\.(?:ts|js|cjs|mjs|json|md|ya?ml|sh|txt)$|(?:^|\/)(?:run|\.gitignore)$/;
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (!skipDirs.has(entry.name)) walk(path);
      } else if (text.test(path) && path !== 'package-lock.json' && statSync(join(ROOT, path)).size < 5_000_000) {
        files.push(path);
      }
    }
  };
  walk('');
  return files;
}

describe('the repository stands alone', () => {
  const self = relative(ROOT, __filename).split(sep).join('/');
  const files = repositoryTextFiles().filter((path) => path !== self);

  it('has text files to check', () => {
    expect(files).toEqual(expect.arrayContaining(['README.md', 'package.json', 'lib/config.ts']));
  });

  it('no doc or comment names the notes it was built from, or a machine path', () => {
    const forbidden = /\b(?:LIVEKIT|DESIGN|CONVENTIONS)\.md\b|\/work\/|\/home\/[a-z]|\/Users\/[A-Za-z]/;
    const hits = files.flatMap((path) =>
      read(path)
        .split('\n')
        .map((line, i) => (forbidden.test(line) ? `${path}:${i + 1}: ${line.trim().slice(0, 120)}` : undefined))
        .filter((hit): hit is string => hit !== undefined),
    );
    expect(hits).toEqual([]);
  });

  it('every docs/<name>.md (and #anchor) that code, tests and scripts cite exists', () => {
    const anchors = (path: string): Set<string> => anchorsOf(read(path));
    const broken = files
      .filter((path) => !path.endsWith('.md'))
      .flatMap((path) =>
        [...read(path).matchAll(/\bdocs\/([\w-]+\.md)(?:#([a-z0-9_-]+))?/g)]
          .map(([, name, anchor]) => brokenLink('README.md', `docs/${name}${anchor ? `#${anchor}` : ''}`, anchors))
          .filter((problem): problem is string => problem !== undefined)
          .map((problem) => `${path}: ${problem}`),
      );
    expect(broken).toEqual([]);
  });

  it('every `../shared` resolves to a folder of the repository (lambda/shared), never beside it', () => {
    const outside = files.flatMap((path) =>
      [...read(path).matchAll(/(?:\.\.\/)+shared\b/g)]
        .map((m) => resolve(ROOT, dirname(path), m[0]))
        .filter((target) => !isInside(target) || target === ROOT || !existsSync(target))
        .map((target) => `${path}: ${relative(ROOT, target)}`),
    );
    expect(outside).toEqual([]);
  });
});

describe('the README matches the code', () => {
  const readme = read('README.md');

  it('stays short: at most 250 lines, the details in docs/', () => {
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(250);
  });

  it("shows every field of `npm run local`'s ready line", () => {
    const source = read('local/local-pipeline.ts');
    const block = /readyLine:\s*\(\)\s*=>\s*JSON\.stringify\(\{([\s\S]*?)\}\)/.exec(source);
    if (!block) throw new Error('readyLine() not found in local/local-pipeline.ts: update this test with it');
    const printed = [...block[1].matchAll(/^\s*(\w+)\s*[:,]/gm)].map((m) => m[1]).sort();
    expect(printed).toEqual(expect.arrayContaining(['ready', 'webhookUrl', 'statusUrl']));
    const example = readme.split('\n').find((line) => line.startsWith('{"ready":true'));
    if (!example) throw new Error('README.md has no ready-line example ({"ready":true,...})');
    expect(Object.keys(JSON.parse(example)).sort()).toEqual(printed);
  });

  it('lists every CfnOutput of the stack in its outputs table', () => {
    const outputs = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
        const path = `${dir}/${entry.name}`;
        if (entry.isDirectory()) walk(path);
        else if (path.endsWith('.ts')) for (const m of read(path).matchAll(/new CfnOutput\(\s*\w+,\s*'(\w+)'/g)) outputs.add(m[1]);
      }
    };
    walk('lib');
    walk('bin');
    expect(outputs.size).toBeGreaterThanOrEqual(10);
    const rows = readme.split('\n').filter((line) => line.startsWith('| `'));
    expect([...outputs].filter((name) => !rows.some((row) => row.includes(`\`${name}\``)))).toEqual([]);
  });
});

describe('docs/configuration.md matches lib/config.ts', () => {
  const documented = (): string[] => [...read('docs/configuration.md').matchAll(/^\| `([\w.]+)` \|/gm)].map((m) => m[1]);

  it('documents every setting that has a default', () => {
    const paths = Object.entries(DEFAULT_CONFIG).flatMap(([section, value]) =>
      typeof value === 'object' && value !== null && !Array.isArray(value)
        ? Object.keys(value).map((key) => `${section}.${key}`)
        : [section],
    );
    expect(paths.filter((path) => !documented().includes(path))).toEqual([]);
  });

  it('documents no setting the config does not know', () => {
    const unknown = documented().filter((path) => {
      try {
        parseConfig(configInputFromContext({ [path]: '\u0000' }));
        return false;
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return error.problems.some((problem) => problem.includes('unknown setting'));
      }
    });
    expect(unknown).toEqual([]);
  });
});
