import { spawnSync } from 'node:child_process';
import { createServer, Server } from 'node:net';
import { REPO_ROOT } from '../../support/paths';

/*
 * `npm run local` with an environment it cannot use: one line that names the variable and what to
 * do, exit 1, and nothing left running. (Started as the script starts it, without npm in between.)
 */
function runLocal(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'bin/local.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', LIVEKIT_API_KEY: '', LIVEKIT_API_SECRET: '', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  // The AWS SDK's Node-version notice is not ours: leave it out of what the user is told.
  const lines = result.stderr
    .split('\n')
    .filter(
      (line) =>
        line.trim() !== '' &&
        !/NodeVersionSupportWarning|node >=22|^\(Use `node|receiving updates|c895JFp|versions published|will require node/.test(line),
    );
  return { status: result.status, lines };
}

describe('npm run local refuses an environment it cannot use, in a line or two', () => {
  it('an unknown LOG_LEVEL is an error naming the levels (not silently info)', () => {
    const { status, lines } = runLocal({ LOG_LEVEL: 'verbose' });
    expect(status).toBe(1);
    expect(lines).toEqual(['Invalid pipeline configuration:', '  - LOG_LEVEL must be one of debug, info, warn, error, got "verbose"']);
  }, 60_000);

  it('LOG_LEVEL is read case-insensitively', () => {
    // DEBUG is the level "debug", not an error: the pipeline gets as far as the port check.
    const { lines } = runLocal({ LOG_LEVEL: 'DEBUG', PORT: 'x' });
    expect(lines).toEqual(['Invalid pipeline configuration:', '  - PORT must be a port number, got x']);
  }, 60_000);

  describe('a PORT already in use', () => {
    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('says so in one line and what to do, not a stack trace', () => {
      const { status, lines } = runLocal({ PORT: String(port), LOG_LEVEL: 'error' });
      expect(status).toBe(1);
      expect(lines).toEqual([`PORT ${port} is in use by another process: stop it, or set PORT to a free port (PORT=0 picks one)`]);
    }, 120_000);
  });
});
