import { Worker } from 'node:worker_threads';
import { parseConfig } from '../../../lib/config';
import { LocalPipeline, startLocalPipeline } from '../../../local/local-pipeline';
import { eventually, Engines, KEY, SECRET, startEngines } from '../../support/e2e';
import { participantJoined } from '../../../simulator/events';
import { signWebhook } from '../../../simulator/signing';

/*
 * Functions run apart, as on AWS: ingest (with its front door) answers LiveKit while the main
 * thread cannot run a single callback (it blocks itself with Atomics.wait, and only a POST answered
 * by another thread can wake it); and while the processor's thread is blocked (the pipeline's
 * test gate), ingest and the main thread (the status page) both answer.
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
  /** The processor's gate: [closed, batches that blocked]. */
  const gate = new Int32Array(new SharedArrayBuffer(8));

  beforeAll(async () => {
    engines = await startEngines();
    pipeline = await startLocalPipeline({
      config: parseConfig({}),
      keys: { [KEY]: SECRET },
      engines,
      logLevel: 'warn',
      logSink: () => undefined,
      processorGate: gate,
    });
  }, 90_000);
  afterAll(async () => {
    await pipeline?.stop();
    await engines?.stop();
  });

  it('ingest answers a signed webhook with 200 while the main thread (bus, status page) is blocked, and the change is published once it is free', async () => {
    const event = participantJoined(
      { sid: 'RM_isolation', name: 'isolation' },
      { sid: 'PA_isolation', identity: 'blocked-main' },
      Math.floor(Date.now() / 1000),
    );
    const body = JSON.stringify(event);
    const shared = new SharedArrayBuffer(12);
    const flags = new Int32Array(shared);
    const client = new Worker(CLIENT, {
      eval: true,
      workerData: { shared, url: pipeline.webhookUrl, body, token: await signWebhook(body, KEY, SECRET) },
    });
    try {
      // From here until the answer wakes it, the main thread runs nothing: no poller, no processor, no timer.
      Atomics.store(flags, 2, 1);
      Atomics.notify(flags, 2);
      const woken = Atomics.wait(flags, 0, 0, 30_000);
      expect({ woken, status: Atomics.load(flags, 1) }).toEqual({ woken: 'ok', status: 200 });
    } finally {
      await client.terminate();
    }
    await eventually(
      () => pipeline.changes.some((change) => change.eventId === event.id),
      (applied) => applied,
      30_000,
      'the event applied and its change published',
    );
  });

  it('a processor whose thread is blocked delays neither ingest nor the main thread, and applies what waited once it runs again', async () => {
    const room = { sid: 'RM_isolation_processor', name: 'isolation-processor' };
    const now = Math.floor(Date.now() / 1000);
    const first = participantJoined(room, { sid: 'PA_isolation_1', identity: 'first' }, now);
    const second = participantJoined(room, { sid: 'PA_isolation_2', identity: 'second' }, now);
    const post = async (event: object): Promise<number> => {
      const body = JSON.stringify(event);
      const response = await fetch(pipeline.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/webhook+json', authorization: await signWebhook(body, KEY, SECRET) },
        body,
      });
      await response.text();
      return response.status;
    };
    const blockedBefore = Atomics.load(gate, 1);
    Atomics.store(gate, 0, 1);
    try {
      expect(await post(first)).toBe(200);
      // The processor receives the event and its whole thread stops: no poller, no write, no log line.
      await eventually(
        () => Atomics.load(gate, 1),
        (blocked) => blocked > blockedBefore,
        30_000,
        'the processor blocked on the batch',
      );
      expect(await post(second)).toBe(200);
      const status = await fetch(`${pipeline.baseUrl}/status`);
      expect(status.status).toBe(200);
      expect(await status.json()).toMatchObject({ queue: { visible: expect.any(Number) } });
      expect(pipeline.processed.has(first.id)).toBe(false);
    } finally {
      Atomics.store(gate, 0, 0);
      Atomics.notify(gate, 0);
    }
    await pipeline.waitUntilProcessed([first.id, second.id]);
    expect([first.id, second.id].map((id) => pipeline.processed.get(id)?.outcome)).toEqual(['applied', 'applied']);
    const published = new Set(pipeline.changes.map((change) => change.eventId));
    expect([published.has(first.id), published.has(second.id)]).toEqual([true, true]);
  });

  it('GET /status, served from the main thread, is forwarded by the front door and answered', async () => {
    const response = await fetch(`${pipeline.baseUrl}/status`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ queue: { visible: expect.any(Number) }, dlq: { visible: 0 } });
  });
});
