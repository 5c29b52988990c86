import { join } from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';
import { readFileSync } from 'node:fs';
import { BACKGROUND_NICENESS } from '../../../local/cpu-priority';
import { startFunctionWorker } from '../../../local/functions/function-worker';
import { eventually } from '../../support/e2e';

/*
 * The host that runs each local function on a worker thread of its own: TypeScript loads in the
 * worker under ts-jest (as under tsx), calls and errors cross in both directions, and a crash or a
 * failed start is reported instead of hanging.
 */
const entry = join(__dirname, 'fixtures', 'probe.worker.ts');

function start(
  init: { failStart?: boolean } = {},
  onCrash: (error: Error) => void = () => undefined,
  logSink: (line: string) => void = () => undefined,
  background = false,
  pipeline?: string,
) {
  return startFunctionWorker<typeof init, { threadId: number }>({
    name: 'probe',
    entry,
    init,
    pipeline,
    logSink,
    onCrash,
    handlers: { main: (value) => `hello ${String(value)}` },
    background,
  });
}

test('a function runs on its own thread, answers calls, calls the main thread back and sends its log lines to the main thread', async () => {
  const lines: string[] = [];
  const probe = await start({}, undefined, (line) => lines.push(line));
  try {
    expect(isMainThread).toBe(true);
    expect(probe.ready.threadId).not.toBe(threadId);
    expect(await probe.call('echo', { a: [1, 2] })).toEqual({ a: [1, 2] });
    expect(await probe.call('askMain', 'probe')).toBe('main said hello probe');
    await probe.call('log', 42);
    const line = await eventually(
      () => lines.find((l) => l.includes('probe log')),
      (found) => found !== undefined,
    );
    expect(JSON.parse(line!)).toMatchObject({ service: 'probe', message: 'probe log', value: 42 });
  } finally {
    await probe.stop();
  }
});

test("a pipeline's function gets its PIPELINE_NAME, as on AWS, and its log lines name the pipeline", async () => {
  const lines: string[] = [];
  const probe = await start({}, undefined, (line) => lines.push(line), false, 'lkw-local');
  try {
    expect(await probe.call('env', 'PIPELINE_NAME')).toBe('lkw-local');
    await probe.call('log', 1);
    const line = await eventually(
      () => lines.find((l) => l.includes('probe log')),
      (found) => found !== undefined,
    );
    expect(JSON.parse(line!)).toMatchObject({ service: 'probe', pipeline: 'lkw-local', message: 'probe log' });
  } finally {
    await probe.stop();
  }
});

test("an error thrown by a function's handler reaches the caller with its name, message and status fields", async () => {
  const probe = await start();
  try {
    await expect(probe.call('fail')).rejects.toMatchObject({ message: 'probe failed', status: 503, code: 'unavailable' });
  } finally {
    await probe.stop();
  }
});

test('a function that crashes fails the calls in flight and is reported once, instead of hanging', async () => {
  const crashes: Error[] = [];
  const probe = await start({}, (error) => crashes.push(error));
  await expect(probe.call('crashLater')).rejects.toThrow('probe crashed');
  await eventually(
    () => crashes.length,
    (n) => n >= 1,
  );
  expect(crashes).toHaveLength(1);
  expect(crashes[0].message).toContain('probe crashed');
  await expect(probe.call('echo', 1)).rejects.toThrow();
  await probe.stop();
});

test('a function that fails to start rejects the start with its error', async () => {
  await expect(start({ failStart: true })).rejects.toThrow('probe refused to start');
});

test('after stop() the thread is gone: calls fail, and stop() again is harmless', async () => {
  const probe = await start();
  await probe.stop();
  await expect(probe.call('echo', 1)).rejects.toThrow('stopped');
  await probe.stop();
});

/** The nice value of one thread of this process (Linux). */
const niceOf = (tid: number | 'thread-self') =>
  Number(
    readFileSync(tid === 'thread-self' ? '/proc/thread-self/stat' : `/proc/self/task/${tid}/stat`, 'utf8')
      .split(') ')[1]
      .split(' ')[16],
  );

(process.platform === 'linux' ? test : test.skip)(
  'a background function lowers its own thread to BACKGROUND_NICENESS and leaves the rest of the process alone; a foreground one stays at the default',
  async () => {
    const before = niceOf('thread-self');
    const background = await start({}, undefined, undefined, true);
    const foreground = await start();
    try {
      expect(await background.call('nice')).toBe(BACKGROUND_NICENESS);
      expect(await foreground.call('nice')).toBe(before);
      expect(niceOf('thread-self')).toBe(before);
    } finally {
      await background.stop();
      await foreground.stop();
    }
  },
);
