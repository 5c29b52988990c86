import { join } from 'node:path';

/** The repository's root directory, for tests that read its files or run its npm scripts (independent of where the test file sits). */
export const REPO_ROOT = join(__dirname, '..', '..');

/** A path inside the repository, from its root: `repoPath('lambda', 'ingest', 'handler.ts')`. */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}
