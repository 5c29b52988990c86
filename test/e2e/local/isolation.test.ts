import { Worker } from 'node:worker_threads';
import { parseConfig } from '../../../lib/config';
import { LocalPipeline, startLocalPipeline } from '../../../local/local-pipeline';
import { eventually, Engines, KEY, SECRET, startEngines } from '../../support/e2e';
import { participantJoined } from '../../../simulator/events';
import { signWebhook } from '../../../simulator/signing';

/*
 * Functions run apart, as on AWS: ingest (with its front door) answers LiveKit while the main
 * thread, where the processor runs, cannot run a single callback. The main thread blocks itself
 * (Atomics.wait) and only a POST answered by another thread can wake it.
 */

/** Client on its own thread: waits until the main thread says it is blocked, POSTs, stores the status and wakes the main thread. */
const CLIENT = `
const { workerData } = require('node:worker_threads');
const flags = new Int32Array(workerData.shared);
Atomics.wait(flags, 2, 0); // until the main thread is blocked
fetch(workerData.url, { method: 'POST', headers: { 'content-type': 'application/webhook+json', authorization: workerData.token }, body: workerData.body })
  .then((response) => response.status, () => -1)
  .then((status) => {
    Atomics.store(flags, 1, status);
    Atomics.store(flags, 0, 1);
    Atomics.notify(flags, 0);
  });
`;

describe('local runtime isolation', () => {
  let engines: Engines;
  let pipeline: LocalPipeline;

  beforeAll(async () => {
    engines = await startEngines();
    pipeline = await startLocalPipeline({
      config: parseConfig({}),
      keys: { [KEY]: SECRET },
      engines,
      logLevel: 'warn',
      logSink: () => undefined,
    });
  }, 90_000);
  afterAll(async () => {
    await pipeline?.stop();
    await engines?.stop();
  });

  it('ingest answers a signed webhook with 200 while the main thread (processor, status page) is blocked, and the event is applied once it is free', async () => {
    const event = participantJoined({ sid: 'RM_isolation', name: 'isolation' }, { sid: 'PA_isolation', identity: 'blocked-main' }, Math.floor(Date.now() / 1000));
    const body = JSON.stringify(event);
    const shared = new SharedArrayBuffer(12);
    const flags = new Int32Array(shared);
    const client = new Worker(CLIENT, { eval: true, workerData: { shared, url: pipeline.webhookUrl, body, token: await signWebhook(body, KEY, SECRET) } });
    try {
      // From here until the answer wakes it, the main thread runs nothing: no poller, no processor, no timer.
      Atomics.store(flags, 2, 1);
      Atomics.notify(flags, 2);
      const woken = Atomics.wait(flags, 0, 0, 30_000);
      expect({ woken, status: Atomics.load(flags, 1) }).toEqual({ woken: 'ok', status: 200 });
    } finally {
      await client.terminate();
    }
    await eventually(() => pipeline.changes.some((change) => change.eventId === event.id), (applied) => applied, 30_000, 'the event applied and its change published');
  });

  it('GET /status, served from the main thread, is forwarded by the front door and answered', async () => {
    const response = await fetch(`${pipeline.baseUrl}/status`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ queue: { visible: expect.any(Number) }, dlq: { visible: 0 } });
  });
});
