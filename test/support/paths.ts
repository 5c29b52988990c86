import { join } from 'node:path';

/** The repository's root directory, for tests that read its files or run its npm scripts (independent of where the test file sits). */
export const REPO_ROOT = join(__dirname, '..', '..');

/** A path inside the repository, from its root: `repoPath('lambda', 'ingest', 'handler.ts')`. */
export function repoPath(...parts: string[]): string {
  return join(REPO_ROOT, ...parts);
}

/**
 * The environment for a child process that must make no AWS call with anyone's credentials: no
 * keys, no profile, no region (what a command run "offline" sees).
 */
export const OFFLINE_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  AWS_ACCESS_KEY_ID: '',
  AWS_SECRET_ACCESS_KEY: '',
  AWS_PROFILE: '',
  AWS_REGION: '',
  AWS_DEFAULT_REGION: '',
};
