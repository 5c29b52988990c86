import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { overview, SUBCOMMANDS } from '../../../scripts/oncall/cli';
import { OFFLINE_ENV, REPO_ROOT } from '../../support/paths';

/*
 * `npm run publisher:redrive` and `livekit-webhooks publisher-redrive` as users type them (the
 * cli-args.test.ts pattern): --help, a strict parser, and the CLI's registration. No AWS call is
 * made in any of these.
 */
const run = promisify(execFile);
const npm = (...args: string[]) => run('npm', ['run', '--silent', ...args], { cwd: REPO_ROOT, env: OFFLINE_ENV });

it('npm run publisher:redrive answers --help with its usage and every option, exit 0', async () => {
  const { stdout, stderr } = await npm('publisher:redrive', '--', '--help');
  expect(stderr).toBe('');
  expect(stdout).toMatch(/^usage: npm run publisher:redrive -- /);
  for (const option of ['--dry-run', '--stack', '--region', '--local', '--help']) expect(stdout).toContain(option);
});

it('refuses a misspelt option with exit 2 instead of acting on the default stack', async () => {
  await expect(npm('publisher:redrive', '--', '--dryrun')).rejects.toMatchObject({
    code: 2,
    stdout: '',
    stderr: expect.stringMatching(/^Unknown option '--dryrun'[\s\S]*usage: npm run publisher:redrive /),
  });
});

it('is the CLI subcommand publisher-redrive, listed in the overview, with the CLI name in its usage', async () => {
  expect(Object.keys(SUBCOMMANDS)).toContain('publisher-redrive');
  expect(overview()).toMatch(/^ {2}publisher-redrive +Republishes the state table's stream ranges the publisher gave up on/m);
  const cli = run(process.execPath, ['--import', 'tsx', 'scripts/oncall/bin.ts', 'publisher-redrive', '--bogus'], {
    cwd: REPO_ROOT,
    env: OFFLINE_ENV,
  });
  await expect(cli).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('usage: livekit-webhooks publisher-redrive') });
});

it('a ready line from before the publisher DLQ says so and exits 1', async () => {
  const old =
    '{"ready":true,"dynamodbEndpoint":"http://127.0.0.1:1","sqsEndpoint":"http://127.0.0.1:2","tableName":"t","queueUrl":"q","dlqUrl":"d"}';
  await expect(npm('publisher:redrive', '--', '--local', old)).rejects.toMatchObject({
    code: 1,
    stderr: expect.stringContaining('the local ready line has no "publisherDlqUrl", "publisherFunctionName", "lambdaEndpoint"'),
  });
});
