import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { OFFLINE_ENV, REPO_ROOT } from '../../support/paths';

/*
 * The on-call commands as users type them: a real `--help` (exit 0, every option), and a strict
 * parser: a misspelt option (`--stak prod`) or a missing value is a usage error (exit 2), never a
 * query of the default stack. No AWS call is made in any of these.
 */
const root = REPO_ROOT;
const run = promisify(execFile);
const npm = (...args: string[]) => run('npm', ['run', '--silent', ...args], { cwd: root, env: OFFLINE_ENV });

describe.each([
  ['missed', ['--since', '--json']],
  ['state', ['--json']],
  ['dlq:redrive', ['--copy', '--max', '--wait']],
  ['replay', ['--from', '--to', '--wait']],
])('npm run %s', (command, ownOptions) => {
  it('answers --help with its usage, what it does and every option, exit 0', async () => {
    const { stdout, stderr } = await npm(command, '--', '--help');
    expect(stderr).toBe('');
    expect(stdout).toMatch(new RegExp(`^usage: npm run ${command} -- `));
    for (const option of [...ownOptions, '--stack', '--region', '--local', '--help']) expect(stdout).toContain(option);
  });

  it('refuses a misspelt option with exit 2, naming it, instead of acting on the default stack', async () => {
    await expect(npm(command, '--', '--stak', 'prod')).rejects.toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(/^Unknown option '--stak'[\s\S]*usage: npm run /),
    });
  });
});

it('refuses an option without its value, and a value for a flag', async () => {
  await expect(npm('missed', '--', '--since')).rejects.toMatchObject({
    code: 2,
    stderr: expect.stringContaining("Option '--since <value>' argument missing"),
  });
  await expect(npm('missed', '--', '--since', '90s')).rejects.toMatchObject({
    code: 2,
    stderr: expect.stringContaining('--since must be a duration like 30m, 1h or 2d'),
  });
  await expect(npm('state', '--', '--json=yes', 'rooms')).rejects.toMatchObject({ code: 2 });
});

it('refuses a --local that is neither a ready line nor a readable file as wrong usage, and says when the pipeline behind a ready line is gone', async () => {
  await expect(npm('state', '--', '--local', '/no/such/ready-file', 'rooms')).rejects.toMatchObject({
    code: 2,
    stderr: expect.stringMatching(/^--local: cannot read "\/no\/such\/ready-file" \(ENOENT\); give npm run local's ready line/),
  });
  // The ready line of an npm run local that has stopped: port 1 answers nothing.
  const stale = JSON.stringify({
    ready: true,
    dynamodbEndpoint: 'http://127.0.0.1:1',
    sqsEndpoint: 'http://127.0.0.1:1',
    tableName: 'livekit-state',
    queueUrl: 'http://sqs.us-east-1.localhost:1/000000000000/livekit-events',
    dlqUrl: 'http://sqs.us-east-1.localhost:1/000000000000/livekit-events-dlq',
  });
  await expect(npm('state', '--', '--local', stale, 'rooms')).rejects.toMatchObject({
    code: 1,
    stderr: expect.stringMatching(
      /nothing answers at 127\.0\.0\.1:1: is the npm run local that printed this ready line still running\?\n$/,
    ),
  });
});
