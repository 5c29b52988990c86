import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { parseConfig } from '../../../lib/config';
import { listRoomParticipants } from '../../../lambda/process/queries';
import { RepairTooLargeError, sqsEnqueue } from '../../../lambda/reconcile/enqueue';
import { LocalPipeline, startLocalPipeline } from '../../../local/local-pipeline';
import { emojiBody, GenuineBody, largeMetadataBody, nonCharacterBody, overSqsLimitBody } from '../../support/genuine-bodies';
import { SQS_MAX_MESSAGE_BYTES } from '../../../lambda/shared/sqs-safe-body';
import { LiveKitSimulator } from '../../../simulator/livekit-simulator';
import { signWebhook } from '../../../simulator/signing';
import { allApplied, Engines, eventually, KEY, SECRET, startEngines, target } from '../../support/e2e';

/*
 * Issue 11 cases 1 and 2 end to end, on `npm run local`'s engines: a signed webhook over real
 * HTTP to the local front door, the real ingest handler, the SQS emulator (fauxqs, which refuses
 * what SQS refuses, and also astral characters), the real processor, DynamoDB Local. Each genuine
 * event must be answered 200 and its participant appear with the exact strings LiveKit sent.
 * Cases 3–6 (keys, events that can never apply, auto-egress start failures, the feed's final
 * terminal state) are in genuine-events-applied.test.ts.
 */
const config = parseConfig({ processing: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 2 } });

/** The participant's stored info, whether the processor keeps it as a map or as JSON text. */
function storedInfo(item: Record<string, unknown>): Record<string, unknown> {
  const info = item.info;
  return (typeof info === 'string' ? JSON.parse(info) : info) as Record<string, unknown>;
}

describe('end to end: genuine events LiveKit can send are accepted and applied', () => {
  let engines: Engines;
  let pipeline: LocalPipeline;
  const logs: string[] = [];

  beforeAll(async () => {
    engines = await startEngines();
    pipeline = await startLocalPipeline({
      config,
      keys: { [KEY]: SECRET },
      engines,
      visibilityTimeoutSeconds: 2,
      logLevel: 'warn',
      logSink: (line) => logs.push(line),
    });
  }, 120_000);
  afterAll(async () => {
    await pipeline?.stop();
    await engines?.stop();
  });

  async function post(body: GenuineBody): Promise<Response> {
    return fetch(pipeline.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/webhook+json', authorization: await signWebhook(body.text, KEY, SECRET) },
      body: body.text,
    });
  }

  it.each([
    ['40 KB room metadata + 40 KB participant metadata + attributes (over the old 64 KiB cap)', largeMetadataBody],
    ['U+FFFE and U+FFFF in the name, metadata and attributes (SQS refuses them raw)', nonCharacterBody],
    ['emoji in the name, metadata and attributes (the local SQS emulator refuses them raw)', emojiBody],
  ])('%s: 200, and the participant is in DynamoDB Local with the exact strings', async (_name, make) => {
    const body = make();
    const response = await post(body);
    expect([response.status, await response.text()]).toEqual([200, JSON.stringify({ ok: true, id: body.id })]);

    await allApplied(pipeline, [body.id]);
    const [participant] = await eventually(
      () => listRoomParticipants(target(pipeline), body.roomSid),
      (items) => items.length === 1,
      30_000,
      `participant of ${body.id}`,
    );
    const info = storedInfo(participant);
    expect(info.identity).toBe(body.identity);
    expect(info.name).toBe(body.name);
    expect(info.metadata).toBe(body.metadata);
    expect(info.attributes).toEqual(body.attributes);
  });

  it("a genuine participant_joined over 1 MiB (metadata at LiveKit's default limits): 200, stored by claim check, applied, its change published", async () => {
    const body = overSqsLimitBody();
    expect(Buffer.byteLength(body.text)).toBeGreaterThan(SQS_MAX_MESSAGE_BYTES);
    const response = await post(body);
    expect([response.status, await response.text()]).toEqual([200, JSON.stringify({ ok: true, id: body.id })]);

    await allApplied(pipeline, [body.id]);
    const [participant] = await eventually(
      () => listRoomParticipants(target(pipeline), body.roomSid),
      (items) => items.length === 1,
      30_000,
      `participant of ${body.id}`,
    );
    // DynamoDB's 400 KB item limit: the largest field of `info` is left out and named (docs/state-model.md, "Size").
    expect(participant.infoOmitted).toEqual(['metadata']);
    const info = storedInfo(participant);
    expect(info.identity).toBe(body.identity);
    expect(info.attributes).toEqual(body.attributes);
    await eventually(
      () => pipeline.changes.filter((change) => change.eventId === body.id).map((change) => change.detailType),
      (types) => types.includes('participant.joined'),
      30_000,
      `change of ${body.id}`,
    );
  });

  it("takes a repair over 1 MiB by claim check too (the reconciler's enqueue): applied, its change from the reconciler; without a bucket it fails loudly", async () => {
    const body = overSqsLimitBody();
    const repair = {
      id: body.id,
      eventType: 'participant_joined' as const,
      entityId: body.participantSid,
      roomName: body.roomName,
      body: body.text,
    };
    await expect(sqsEnqueue(engines.sqs.client, pipeline.queueUrl)(repair)).rejects.toThrow(RepairTooLargeError);

    await sqsEnqueue(engines.sqs.client, pipeline.queueUrl, Date.now, { s3: engines.sqs.s3, bucket: pipeline.claimCheckBucket })(repair);
    await allApplied(pipeline, [body.id]);
    const [participant] = await eventually(
      () => listRoomParticipants(target(pipeline), body.roomSid),
      (items) => items.length === 1,
      30_000,
      `participant of ${body.id}`,
    );
    expect(participant.infoOmitted).toEqual(['metadata']);
    expect(participant.lastEventSource).toBe('reconciler');
  });

  it("takes a repair built from the same data into the same queue (the reconciler's enqueue)", async () => {
    const body = nonCharacterBody();
    const emoji = emojiBody();
    const queues = await engines.sqs.createEventQueues(config);
    const enqueue = sqsEnqueue(engines.sqs.client, queues.queueUrl);
    await enqueue({
      id: body.id,
      eventType: 'participant_joined',
      entityId: body.participantSid,
      roomName: 'lobby \uFFFF',
      body: body.text,
    });
    await enqueue({
      id: emoji.id,
      eventType: 'participant_joined',
      entityId: emoji.participantSid,
      roomName: 'stand-up 🚀',
      body: emoji.text,
    });

    const received = await eventually(
      async () =>
        (
          await engines.sqs.client.send(
            new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'] }),
          )
        ).Messages ?? [],
      (messages) => messages.length === 2,
      10_000,
      'both repairs in the queue',
    );
    const byId = new Map(received.map((m) => [m.MessageAttributes?.eventId?.StringValue, m]));
    expect(JSON.parse(byId.get(body.id)!.Body!)).toEqual(JSON.parse(body.text));
    expect(JSON.parse(byId.get(emoji.id)!.Body!)).toEqual(JSON.parse(emoji.text));
    expect(byId.get(body.id)!.MessageAttributes?.roomName?.StringValue).toBe('lobby \\uffff');
  });

  it('answers a genuine event over a lowered ingest.maxBodyBytes 503 over HTTP (LiveKit retries, with its own backoff: no Retry-After), never 413', async () => {
    const small = await startLocalPipeline({
      config: parseConfig({ ingest: { maxBodyBytes: 65_536 } }),
      keys: { [KEY]: SECRET },
      engines,
      logLevel: 'error',
      logSink: () => undefined,
    });
    try {
      const body = largeMetadataBody();
      const response = await fetch(small.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/webhook+json', authorization: await signWebhook(body.text, KEY, SECRET) },
        body: body.text,
      });
      expect([response.status, response.headers.get('retry-after'), await response.json()]).toEqual([
        503,
        null,
        { error: 'event_too_large' },
      ]);
    } finally {
      await small.stop();
    }
  });

  it("leaves LiveKit's own retry backoff to a 503: 1, 2, 4, 8 s, not a Retry-After that would shorten its window to 4 s", async () => {
    const small = await startLocalPipeline({
      config: parseConfig({ ingest: { maxBodyBytes: 1024 } }),
      keys: { [KEY]: SECRET },
      engines,
      logLevel: 'error',
      logSink: () => undefined,
    });
    // LiveKit's open-source sender (go-retryablehttp: 4 retries, 1..30 s backoff), 100x faster.
    const sim = new LiveKitSimulator({
      keys: { [KEY]: SECRET },
      webhook: { urls: [small.webhookUrl], profile: 'open-source', timeScale: 0.01 },
    });
    await sim.start();
    try {
      sim.join('retry-window', 'alice', { metadata: 'm'.repeat(3000) });
      await sim.idle();
      const join = sim.deliveries().find((d) => d.type === 'participant_joined')!;
      expect([join.outcome, join.dropReason]).toEqual(['dropped', 'retries_exhausted']);
      expect(join.attempts.map((a) => a.status)).toEqual([503, 503, 503, 503, 503]);
      // go-retryablehttp DefaultBackoff: min * 2^n (10, 20, 40, 80 ms at this scale); with
      // Retry-After: 1 it would have waited 10 ms each time and given up after 40 ms.
      expect(join.attempts.slice(0, 4).map((a) => a.nextWaitMs)).toEqual([10, 20, 40, 80]);
    } finally {
      await sim.stop();
      await small.stop();
    }
  });

  it("runs on a local queue and DLQ that take SQS's largest message, as the stack's do", async () => {
    for (const QueueUrl of [pipeline.queueUrl, pipeline.dlqUrl]) {
      const { Attributes } = await engines.sqs.client.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['MaximumMessageSize'] }),
      );
      // SQS's largest (SQS_MAX_MESSAGE_BYTES); bodies above it, up to ingest.maxBodyBytes, go by claim check.
      expect(Attributes?.MaximumMessageSize).toBe(String(SQS_MAX_MESSAGE_BYTES));
    }
  });

  it('logged no error on the way', () => {
    expect(logs.map((line) => JSON.parse(line)).filter((line) => line.level === 'error')).toEqual([]);
  });
});
