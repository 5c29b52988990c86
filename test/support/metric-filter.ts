/**
 * CloudWatch Logs JSON filter patterns, evaluated against log lines, for the subset the pipeline's
 * metric filters use (lib/monitoring.ts LOG_METRICS): `{ <expr> }` where an expression is
 * `$.field = "text"`, `$.field = *` (the field exists), a parenthesised expression, or terms
 * joined by `&&` or `||`. So a test can count the lines of a real run that a filter would count.
 * Anything else (another operator, `&&` and `||` mixed without parentheses, whose precedence a
 * test should not guess) throws, rather than match by accident.
 */

type Node =
  | { readonly kind: 'equals'; readonly path: readonly string[]; readonly value: string }
  | { readonly kind: 'exists'; readonly path: readonly string[] }
  | { readonly kind: 'and' | 'or'; readonly terms: readonly Node[] };

const TOKEN = /\s*(\$(?:\.[A-Za-z_][A-Za-z0-9_]*)+|"(?:[^"\\]|\\.)*"|&&|\|\||[(){}=*])/y;

function tokenize(pattern: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < pattern.length) {
    const start = TOKEN.lastIndex;
    const match = TOKEN.exec(pattern);
    if (!match) {
      if (/^\s*$/.test(pattern.slice(start))) break;
      throw new Error(`unsupported filter pattern syntax at ${start}: ${pattern}`);
    }
    tokens.push(match[1]);
  }
  return tokens;
}

/** Parses a JSON filter pattern of the supported subset. */
export function parseFilterPattern(pattern: string): Node {
  const tokens = tokenize(pattern);
  let at = 0;
  const next = () => tokens[at++];
  const expect = (token: string) => {
    if (tokens[at] !== token) throw new Error(`expected ${token} at token ${at} of ${pattern}`);
    at++;
  };
  const term = (): Node => {
    if (tokens[at] === '(') {
      at++;
      const inner = expression();
      expect(')');
      return inner;
    }
    const selector = next();
    if (!selector?.startsWith('$.')) throw new Error(`expected a $.field selector at token ${at - 1} of ${pattern}`);
    expect('=');
    const value = next();
    const path = selector.slice(2).split('.');
    if (value === '*') return { kind: 'exists', path };
    if (value?.startsWith('"')) return { kind: 'equals', path, value: JSON.parse(value) as string };
    throw new Error(`unsupported value ${value} in ${pattern}`);
  };
  const expression = (): Node => {
    const terms = [term()];
    let op: '&&' | '||' | undefined;
    while (tokens[at] === '&&' || tokens[at] === '||') {
      if (op !== undefined && tokens[at] !== op) throw new Error(`&& and || mixed without parentheses in ${pattern}`);
      op = tokens[at] as '&&' | '||';
      at++;
      terms.push(term());
    }
    return op === undefined ? terms[0] : { kind: op === '&&' ? 'and' : 'or', terms };
  };
  expect('{');
  const root = expression();
  expect('}');
  if (at !== tokens.length) throw new Error(`trailing tokens in ${pattern}`);
  return root;
}

function field(line: unknown, path: readonly string[]): unknown {
  let value = line;
  for (const name of path) {
    if (typeof value !== 'object' || value === null || !Object.prototype.hasOwnProperty.call(value, name)) return undefined;
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

function evaluate(node: Node, line: unknown): boolean {
  switch (node.kind) {
    case 'equals':
      return field(line, node.path) === node.value;
    case 'exists':
      return field(line, node.path) !== undefined;
    case 'and':
      return node.terms.every((term) => evaluate(term, line));
    case 'or':
      return node.terms.some((term) => evaluate(term, line));
  }
}

/** Whether a metric filter with this JSON pattern counts this log line (a JSON text, or already parsed). */
export function matchesFilterPattern(pattern: string, line: string | Record<string, unknown>): boolean {
  const parsed: unknown = typeof line === 'string' ? JSON.parse(line) : line;
  return evaluate(parseFilterPattern(pattern), parsed);
}
