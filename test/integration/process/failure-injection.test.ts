/**
 * Failure injection with the real engines: DynamoDB Local for state and its stream always;
 * EventBridge failing at the SDK (aws-sdk-client-mock, EventBridge only) behind the real publisher;
 * DynamoDB throttling injected for one event; a message that can never apply and one that keeps
 * failing, driven through fauxqs and the local SQS event source.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { parseConfig } from '../../../lib/config';
import { MemoryMetricsSink, METRIC } from '../../../lambda/shared/metrics';
import { createProcessor } from '../../../lambda/process/processor';
import { EventBridgePublisher } from '../../../lambda/process/publisher';
import { getEventRecord } from '../../../lambda/process/queries';
import type { WebhookEvent } from '../../../lambda/process/webhook-event';
import { SqsEmulator, startSqsEmulator } from '../../../local/engines/sqs-emulator';
import { SqsEventSource } from '../../../local/sqs-event-source';
import { waitUntil } from '../../../local/engines/free-port';
import {
  egressEvent,
  participantJoined,
  participantLeft,
  roomFinished,
  roomStarted,
  sqsRecord,
  trackPublished,
} from '../../../simulator/events';
import { entityState, memoryLogger, scanAll } from '../../support/state';
import { startChangeFeed } from '../../support/change-feed';
import { useDynamoDbLocal } from '../../support/dynamodb';

const local = useDynamoDbLocal();

const T0 = 1_771_351_800;
const room = { sid: 'RM_fi', name: 'incident' };
const alice = { sid: 'PA_a', identity: 'alice' };

/** Throws the SDK's throttling error for any command that touches `eventId`'s items. */
function throttling(ddb: DynamoDBDocumentClient, eventId: string, times: number): DynamoDBDocumentClient {
  let remaining = times;
  return new Proxy(ddb, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return (command: { input: unknown }) => {
        if (remaining > 0 && JSON.stringify(command.input).includes(eventId)) {
          remaining--;
          return Promise.reject(
            new ProvisionedThroughputExceededException({ message: 'Rate of requests exceeds the allowed throughput', $metadata: {} }),
          );
        }
        return target.send(command as never);
      };
    },
  });
}

describe('the bus is down, then up', () => {
  const eventBridgeMock = mockClient(EventBridgeClient);
  afterEach(() => eventBridgeMock.reset());
  afterAll(() => eventBridgeMock.restore());

  const busDown = () => Object.assign(new Error('bus unavailable'), { name: 'InternalException' });
  /** The change ids the bus accepted, in order, from the mock's calls and answers. */
  const accepted: string[] = [];
  beforeEach(() => {
    accepted.length = 0;
  });

  /** `before`: events written before the feed starts, so its first batch holds all their records. */
  async function setup(options: { retryAttempts?: number; before?: WebhookEvent[]; metrics?: MemoryMetricsSink } = {}) {
    const tableName = await local.engine.createStateTable();
    const processor = createProcessor({
      ddb: local.engine.documentClient,
      tableName,
      logger: memoryLogger('error').logger,
      eventRecordTtlDays: 30,
    });
    for (const event of options.before ?? []) await processor.processBatch([sqsRecord(event)]);
    const bus = new EventBridgePublisher(new EventBridgeClient({ region: 'us-east-1' }), 'bus');
    const feed = startChangeFeed(local.engine, tableName, {
      bus: {
        async publish(changes) {
          const result = await bus.publish(changes);
          const failed = new Set(result.failedChangeIds);
          accepted.push(...changes.filter((change) => !failed.has(change.changeId)).map((change) => change.changeId));
          return result;
        },
      },
      retryAttempts: options.retryAttempts ?? 1000,
      batchSize: 3,
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
    return { tableName, processor, feed };
  }

  const history = () => [
    roomStarted(room, T0),
    participantJoined(room, alice, T0 + 1),
    trackPublished(room, alice, 'TR_a', T0 + 2),
    egressEvent('egress_started', room, 'EG_a', 'EGRESS_STARTING', T0 + 3),
    egressEvent('egress_updated', room, 'EG_a', 'EGRESS_ACTIVE', T0 + 4),
    participantLeft(room, alice, T0 + 8),
    egressEvent('egress_ended', room, 'EG_a', 'EGRESS_COMPLETE', T0 + 9),
    roomFinished(room, T0 + 10),
  ];
  const expectedChanges = [
    'room:RM_fi:started',
    'participant:PA_a:started',
    'track:TR_a:started',
    'egress:EG_a:started',
    `egress:EG_a:updated:EGRESS_ACTIVE:${BigInt(T0 + 4) * 1_000_000_000n}`,
    'participant:PA_a:ended',
    'egress:EG_a:ended',
    'room:RM_fi:ended',
  ];

  test('every change of every write is published once in effect: nothing lost, repeats only under the same change id', async () => {
    const metrics = new MemoryMetricsSink();
    const { processor, feed, tableName } = await setup({ metrics });
    // Down for the first calls (the stream batches are retried from their first unpublished record), then up.
    let calls = 0;
    eventBridgeMock.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => {
      calls++;
      if (calls <= 6) throw busDown();
      return { FailedEntryCount: 0, Entries: input.Entries.map((_, i) => ({ EventId: `e${calls}-${i}` })) };
    });

    for (const event of history()) await processor.processBatch([sqsRecord(event)]);
    const state = await entityState(local.engine.documentClient, tableName);
    await feed.drain(60_000);

    expect(calls).toBeGreaterThan(6);
    expect(feed.source.failures).toEqual([]);
    // No invocation failed (each outage was a partial batch failure): the publisher-errors alarm
    // sees the outage through PublishFailures, one per change each failed call left unpublished.
    const refused = metrics.data.filter((datum) => datum.name === METRIC.publishFailures).reduce((sum, datum) => sum + datum.value, 0);
    expect(refused).toBeGreaterThanOrEqual(6);
    // Once in effect: a consumer deduping on changeId sees each change exactly once, in write order.
    expect([...new Set(accepted)]).toEqual(expectedChanges);
    // The state never waited for the bus.
    expect(state.map((item) => [item.pk, item.status])).toEqual([
      ['EGRESS#EG_a', 'EGRESS_COMPLETE'],
      ['PARTICIPANT#PA_a', 'LEFT'],
      ['ROOM#RM_fi', 'FINISHED'],
      ['TRACK#TR_a', 'PUBLISHED'],
    ]);
  });

  test('entries the bus refuses (FailedEntryCount) are retried from the first record that had one; the changes before it are not sent again', async () => {
    let calls = 0;
    eventBridgeMock.on(PutEventsCommand).callsFake((input: { Entries: { Detail: string }[] }) => {
      calls++;
      // The first call refuses its second entry (a throttled entry), everything else goes through.
      return {
        FailedEntryCount: calls === 1 ? 1 : 0,
        Entries: input.Entries.map((_, i) =>
          calls === 1 && i === 1 ? { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' } : { EventId: `e${calls}-${i}` },
        ),
      };
    });

    const { feed } = await setup({ before: [roomStarted(room, T0), participantLeft(room, alice, T0 + 9)] });
    await feed.drain();

    const sent = eventBridgeMock
      .commandCalls(PutEventsCommand)
      .map((call) => call.args[0].input.Entries!.map((entry) => JSON.parse(entry.Detail!).changeId));
    // One stream record (the leave) carries started + ended; the refused entry is its started, so
    // the batch is retried from that record: the room's record is checkpointed, not sent again.
    expect(sent).toEqual([
      ['room:RM_fi:started', 'participant:PA_a:started', 'participant:PA_a:ended'],
      ['participant:PA_a:started', 'participant:PA_a:ended'],
    ]);
    expect([...new Set(accepted)].sort()).toEqual(['participant:PA_a:ended', 'participant:PA_a:started', 'room:RM_fi:started']);
  });

  test('a bus down for longer than the retry attempts sends the batch to the on-failure destination, and the feed goes on', async () => {
    const { processor, feed } = await setup({ retryAttempts: 2 });
    let down = true;
    eventBridgeMock.on(PutEventsCommand).callsFake((input: { Entries: unknown[] }) => {
      if (down) throw busDown();
      return { FailedEntryCount: 0, Entries: input.Entries.map((_, i) => ({ EventId: `e${i}` })) };
    });

    await processor.processBatch([sqsRecord(roomStarted(room, T0))]);
    await feed.drain();
    expect(feed.source.failures).toEqual([expect.objectContaining({ batchSize: 1, startSequenceNumber: expect.any(String) })]);

    down = false;
    await processor.processBatch([sqsRecord(participantJoined(room, alice, T0 + 1))]);
    await feed.drain();
    expect(accepted).toEqual(['participant:PA_a:started']);
  });
});

describe('DynamoDB throttles one record', () => {
  test('only that record is reported failed, and it applies when redelivered', async () => {
    const tableName = await local.engine.createStateTable();
    const publisher = startChangeFeed(local.engine, tableName);
    const events = [
      roomStarted(room, T0),
      ...['a', 'b', 'c', 'd'].map((x, i) => participantJoined(room, { sid: `PA_${x}`, identity: x }, T0 + i + 1)),
    ];
    const victim = events[2];
    const processor = createProcessor({
      ddb: throttling(local.engine.documentClient, victim.id, 1),
      tableName,
      logger: memoryLogger('error').logger,
      eventRecordTtlDays: 30,
    });
    const records = events.map((event, i) => sqsRecord(event, { messageId: `m${i}` }));

    const response = await processor.processBatch(records);
    await publisher.drain();

    // Transient: reported for SQS to redeliver, not recorded as rejected.
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect((await getEventRecord({ ddb: local.engine.documentClient, tableName }, victim.id)).record).toBeUndefined();
    expect(publisher.published.map((c) => c.eventId).sort()).toEqual(
      events
        .filter((e) => e !== victim)
        .map((e) => e.id)
        .sort(),
    );

    const retry = await processor.processBatch([records[2]]);
    await publisher.drain();
    expect(retry.batchItemFailures).toEqual([]);
    expect(publisher.published.filter((c) => c.eventId === victim.id).map((c) => c.changeId)).toEqual(['participant:PA_b:started']);
  });
});

describe('a message that can never be processed', () => {
  let sqs: SqsEmulator;
  beforeAll(async () => {
    sqs = await startSqsEmulator();
  });
  afterAll(async () => {
    await sqs?.stop();
  });

  test('one that can never apply is recorded once and acknowledged; one that keeps failing ends in the DLQ after maxReceiveCount; neither blocks its batch', async () => {
    const config = parseConfig({
      queue: { maxReceiveCount: 3 },
      processing: { batchSize: 10, maxBatchingWindowSeconds: 1, maxConcurrency: 2 },
    });
    // Everything from config except the visibility timeout, shortened so redeliveries take seconds,
    // not minutes. Not to 1 s: a batch that takes longer than the visibility timeout (DynamoDB Local
    // on a loaded machine) is redelivered while still processing, and after maxReceiveCount such
    // receives a good message would follow the poison into the DLQ, as it would on AWS.
    const queues = await sqs.createEventQueues(config, { visibilityTimeoutSeconds: 3 });
    const tableName = await local.engine.createStateTable();
    const publisher = startChangeFeed(local.engine, tableName);
    const poison = 'this is not an event';
    const good = [roomStarted(room, T0), participantJoined(room, alice, T0 + 1), participantLeft(room, alice, T0 + 5)];
    // DynamoDB keeps throttling this one (a hot partition that never cools down): transient, every time.
    const stuck = participantJoined(room, { sid: 'PA_stuck', identity: 'stuck' }, T0 + 2);
    const processor = createProcessor({
      ddb: throttling(local.engine.documentClient, stuck.id, Infinity),
      tableName,
      logger: memoryLogger('error').logger,
      eventRecordTtlDays: 30,
    });
    let poisonDeliveries = 0;
    let stuckDeliveries = 0;
    const source = new SqsEventSource({
      client: sqs.client,
      queueUrl: queues.queueUrl,
      queueArn: queues.queueArn,
      processing: config.processing,
      handler: async (event) => {
        poisonDeliveries += event.Records.filter((record) => record.body === poison).length;
        stuckDeliveries += event.Records.filter((record) => record.body.includes(stuck.id)).length;
        return processor.processBatch(event.Records);
      },
    });

    await sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl: queues.queueUrl,
        Entries: [poison, ...[...good, stuck].map((event) => JSON.stringify(event))].map((body, i) => ({
          Id: String(i),
          MessageBody: body,
          MessageAttributes: { source: { DataType: 'String', StringValue: 'webhook' } },
        })),
      }),
    );
    source.start();
    try {
      const depth = async (url: string) => {
        const attributes =
          (await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
        return Number(attributes.ApproximateNumberOfMessages ?? 0) + Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
      };
      await waitUntil(
        async () => {
          if ((await depth(queues.dlqUrl)) !== 1 || (await depth(queues.queueUrl)) !== 0)
            throw new Error('the stuck message is not yet in the DLQ');
        },
        60_000,
        'DLQ',
      );
    } finally {
      await source.stop();
    }

    expect(poisonDeliveries).toBe(1);
    expect(stuckDeliveries).toBe(config.queue.maxReceiveCount);
    await publisher.drain();
    expect(publisher.published.map((c) => c.detailType).sort()).toEqual(['participant.joined', 'participant.left', 'room.started']);
    const dead = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: queues.dlqUrl, MaxNumberOfMessages: 10 }));
    expect(dead.Messages?.map((message) => message.Body)).toEqual([JSON.stringify(stuck)]);
    const records = (await scanAll(local.engine.documentClient, tableName)).filter((item) => String(item.pk).startsWith('EVENT#'));
    expect(records).toEqual([expect.objectContaining({ outcome: 'rejected', reason: 'body is not JSON', body: poison })]);
  }, 90_000);
});
