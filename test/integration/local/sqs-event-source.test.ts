/**
 * The local SQS event source against fauxqs: it scales its pollers as Lambda documents for a
 * standard queue (docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html): five at first
 * (or the maximum concurrency, if lower), more while batches come back full, never above the
 * maximum, and back to five once the backlog is gone. And DynamoDB Local runs at background CPU
 * priority (local/cpu-priority.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { parseConfig } from '../../../lib/config';
import { BACKGROUND_NICENESS } from '../../../local/cpu-priority';
import { startDynamoDbLocal } from '../../../local/engines/dynamodb-local';
import { SqsEmulator, startSqsEmulator } from '../../../local/engines/sqs-emulator';
import { INITIAL_POLLERS, SqsEventSource } from '../../../local/sqs-event-source';
import { eventually } from '../../support/e2e';

let sqs: SqsEmulator;
beforeAll(async () => {
  sqs = await startSqsEmulator();
});
afterAll(async () => {
  await sqs?.stop();
});

async function sendMessages(queueUrl: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 10) {
    await sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Array.from({ length: Math.min(10, count - start) }, (_, i) => ({ Id: String(i), MessageBody: `m${start + i}` })),
      }),
    );
  }
}

function source(maxConcurrency: number, queues: { queueUrl: string; queueArn: string }, seen: Set<string>, batchMs: number) {
  const config = parseConfig({ processing: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency } });
  return new SqsEventSource({
    client: sqs.client,
    queueUrl: queues.queueUrl,
    queueArn: queues.queueArn,
    processing: config.processing,
    handler: async (event) => {
      for (const record of event.Records) seen.add(record.body);
      // A slow function: messages wait in the queue, so receives come back full.
      await new Promise((resolve) => setTimeout(resolve, batchMs));
    },
  });
}

test('pollers: five at first; more while batches come back full, never above maxConcurrency; back to five when the queue is empty', async () => {
  const queues = await sqs.createEventQueues(parseConfig({}));
  const seen = new Set<string>();
  const events = source(10, queues, seen, 300);
  events.start();
  try {
    expect(events.stats.pollers).toBe(INITIAL_POLLERS);
    await sendMessages(queues.queueUrl, 400);
    await eventually(
      () => seen.size,
      (size) => size === 400,
      60_000,
      'every message handled',
    );
    expect(events.stats.maxPollers).toBeGreaterThan(INITIAL_POLLERS);
    expect(events.stats.maxPollers).toBeLessThanOrEqual(10);
    // An extra poller retires when its long poll (20 s) comes back empty.
    await eventually(
      () => events.stats.pollers,
      (pollers) => pollers === INITIAL_POLLERS,
      45_000,
      'back to five pollers',
    );
  } finally {
    await events.stop();
  }
  expect(events.stats.pollers).toBe(0);
});

test('with maxConcurrency below five, that many pollers and never more', async () => {
  const queues = await sqs.createEventQueues(parseConfig({}));
  const seen = new Set<string>();
  const events = source(2, queues, seen, 100);
  events.start();
  try {
    expect(events.stats.pollers).toBe(2);
    await sendMessages(queues.queueUrl, 100);
    await eventually(
      () => seen.size,
      (size) => size === 100,
      60_000,
      'every message handled',
    );
    expect(events.stats.maxPollers).toBe(2);
  } finally {
    await events.stop();
  }
});

(process.platform === 'linux' ? test : test.skip)('DynamoDB Local runs every thread at background priority', async () => {
  const engine = await startDynamoDbLocal();
  try {
    const pid = engine.pid;
    expect(pid).toBeDefined();
    const nices = readdirSync(`/proc/${pid}/task`).map((tid) =>
      Number(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]),
    );
    expect(nices.length).toBeGreaterThan(1);
    expect(new Set(nices)).toEqual(new Set([BACKGROUND_NICENESS]));
  } finally {
    await engine.stop();
  }
});
