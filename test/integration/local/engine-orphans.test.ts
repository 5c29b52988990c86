import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/*
 * A script or tool that starts a local engine and dies without stopping it (an uncaught error)
 * must not leave the engine running: a child process outlives its parent unless killed, and an
 * orphaned DynamoDB Local keeps its port and about 200 MB of memory.
 */
const fixture = join(__dirname, 'fixtures', 'crash-with-engines.ts');

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  return !alive(pid);
}

test('DynamoDB Local is killed when the process that started it dies of an uncaught error', async () => {
  const result = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture], { cwd: join(__dirname, '..', '..', '..') }).then(
    () => {
      throw new Error('the fixture was expected to crash');
    },
    (error: { code?: number; stdout?: string; stderr?: string }) => error,
  );
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('crash without stopping the engine');
  const { pid } = JSON.parse(String(result.stdout).trim().split('\n').at(-1)!) as { pid: number };
  expect(typeof pid).toBe('number');
  const killed = await gone(pid, 5_000);
  if (!killed) process.kill(pid, 'SIGKILL');
  expect(killed).toBe(true);
}, 60_000);
