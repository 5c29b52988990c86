/**
 * Failure injection with the real engines: DynamoDB Local for state always; EventBridge failing at
 * the SDK (aws-sdk-client-mock, EventBridge only); DynamoDB throttling injected for one event;
 * and a poison message driven through fauxqs and the local SQS event source into the DLQ.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { parseConfig } from '../../lib/config';
import { createProcessor } from '../../lambda/process/processor';
import { EventBridgePublisher, MemoryPublisher } from '../../lambda/process/publisher';
import { getEventRecord } from '../../lambda/process/queries';
import { DynamoDbLocal, startDynamoDbLocal } from '../../local/engines/dynamodb-local';
import { SqsEmulator, startSqsEmulator } from '../../local/engines/sqs-emulator';
import { SqsEventSource } from '../../local/sqs-event-source';
import { waitUntil } from '../../local/engines/free-port';
import { participantJoined, participantLeft, roomStarted, sqsRecord } from '../support/livekit-events';
import { entityState, memoryLogger } from '../support/state';

let engine: DynamoDbLocal;
beforeAll(async () => {
  engine = await startDynamoDbLocal();
});
afterAll(async () => {
  await engine?.stop();
});

const T0 = 1_771_351_800;
const room = { sid: 'RM_fi', name: 'incident' };
const alice = { sid: 'PA_a', identity: 'alice' };

describe('the bus fails after the state write', () => {
  const eventBridgeMock = mockClient(EventBridgeClient);
  afterEach(() => eventBridgeMock.reset());
  afterAll(() => eventBridgeMock.restore());

  async function setup() {
    const tableName = await engine.createStateTable();
    let now = T0 * 1000;
    const processor = createProcessor({
      ddb: engine.documentClient,
      tableName,
      publisher: new EventBridgePublisher(new EventBridgeClient({ region: 'us-east-1' }), 'bus'),
      logger: memoryLogger('error').logger,
      eventRecordTtlDays: 30,
      outboxLeaseSeconds: 30,
      clock: () => now,
    });
    // SQS brings a failed record back after the visibility timeout, well past the outbox lease.
    const redeliveryLater = () => (now += 200_000);
    return { tableName, processor, redeliveryLater };
  }
  test('the redelivered event publishes the committed change once, and a later duplicate publishes nothing', async () => {
    const { processor, tableName, redeliveryLater } = await setup();
    const joined = participantJoined(room, alice, T0 + 1);
    const okEntries = { FailedEntryCount: 0, Entries: [{ EventId: 'ok' }] };
    eventBridgeMock.on(PutEventsCommand).rejectsOnce(Object.assign(new Error('bus unavailable'), { name: 'InternalException' })).resolves(okEntries);

    const first = await processor.processBatch([sqsRecord(joined, { messageId: 'm1' })]);

    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'm1' }]);
    const afterFailure = await getEventRecord({ ddb: engine.documentClient, tableName }, joined.id);
    expect(afterFailure.record).toMatchObject({ outcome: 'applied' });
    expect(afterFailure.pendingChanges.map((change) => change.changeId)).toEqual(['participant:PA_a:started']);
    const state = await entityState(engine.documentClient, tableName);

    redeliveryLater();
    const second = await processor.processBatch([sqsRecord(joined, { messageId: 'm1', receiveCount: 2 })]);
    redeliveryLater();
    const third = await processor.processBatch([sqsRecord(joined, { messageId: 'm1', receiveCount: 3 })]);

    expect(second.batchItemFailures).toEqual([]);
    expect(third.batchItemFailures).toEqual([]);
    const calls = eventBridgeMock.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(2);
    expect(JSON.parse(calls[1].args[0].input.Entries![0].Detail!)).toMatchObject({ changeId: 'participant:PA_a:started', eventId: joined.id, old: null });
    expect((await getEventRecord({ ddb: engine.documentClient, tableName }, joined.id)).pendingChanges).toEqual([]);
    expect(await entityState(engine.documentClient, tableName)).toEqual(state);
  });

  test('entries the bus rejects (FailedEntryCount) stay in the outbox; the others are not sent again', async () => {
    const { processor, tableName, redeliveryLater } = await setup();
    const left = participantLeft(room, alice, T0 + 9);
    eventBridgeMock
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ EventId: 'ok' }, { ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }] })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'ok2' }] });

    expect((await processor.processBatch([sqsRecord(left, { messageId: 'm2' })])).batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect((await getEventRecord({ ddb: engine.documentClient, tableName }, left.id)).pendingChanges.map((c) => c.changeId)).toEqual(['participant:PA_a:ended']);

    redeliveryLater();
    expect((await processor.processBatch([sqsRecord(left, { messageId: 'm2' })])).batchItemFailures).toEqual([]);

    const sent = eventBridgeMock.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries!.map((entry) => JSON.parse(entry.Detail!).changeId));
    expect(sent).toEqual([['participant:PA_a:started', 'participant:PA_a:ended'], ['participant:PA_a:ended']]);
  });

  test('a duplicate that arrives while the first delivery may still be publishing leaves the outbox to it', async () => {
    const { processor, tableName } = await setup();
    const joined = participantJoined(room, alice, T0 + 1);
    eventBridgeMock.on(PutEventsCommand).rejects(Object.assign(new Error('bus unavailable'), { name: 'InternalException' }));
    await processor.processBatch([sqsRecord(joined)]);
    eventBridgeMock.reset();

    const duplicate = await processor.processRecords([sqsRecord(joined)]);

    expect(duplicate[0].error?.name).toBe('OutboxLeasedError');
    expect(eventBridgeMock.commandCalls(PutEventsCommand)).toHaveLength(0);
    expect((await getEventRecord({ ddb: engine.documentClient, tableName }, joined.id)).pendingChanges).toHaveLength(1);
  });
});

describe('DynamoDB throttles one record', () => {
  /** Throws the SDK's throttling error for any command that touches `eventId`'s items. */
  function throttling(ddb: DynamoDBDocumentClient, eventId: string, times: number): DynamoDBDocumentClient {
    let remaining = times;
    return new Proxy(ddb, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return (command: { input: unknown }) => {
          if (remaining > 0 && JSON.stringify(command.input).includes(`EVENT#${eventId}`)) {
            remaining--;
            return Promise.reject(new ProvisionedThroughputExceededException({ message: 'Rate of requests exceeds the allowed throughput', $metadata: {} }));
          }
          return target.send(command as never);
        };
      },
    });
  }

  test('only that record is reported failed, and it applies when redelivered', async () => {
    const tableName = await engine.createStateTable();
    const publisher = new MemoryPublisher();
    const events = [roomStarted(room, T0), ...['a', 'b', 'c', 'd'].map((x, i) => participantJoined(room, { sid: `PA_${x}`, identity: x }, T0 + i + 1))];
    const victim = events[2];
    const processor = createProcessor({
      ddb: throttling(engine.documentClient, victim.id, 1),
      tableName,
      publisher,
      logger: memoryLogger('error').logger,
      eventRecordTtlDays: 30,
    });
    const records = events.map((event, i) => sqsRecord(event, { messageId: `m${i}` }));

    const response = await processor.processBatch(records);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm2' }]);
    expect(publisher.published.map((c) => c.eventId).sort()).toEqual(events.filter((e) => e !== victim).map((e) => e.id).sort());

    const retry = await processor.processBatch([records[2]]);
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

  test('ends in the DLQ after maxReceiveCount without blocking the rest of its batch', async () => {
    const config = parseConfig({ queue: { maxReceiveCount: 3 }, processing: { batchSize: 10, maxBatchingWindowSeconds: 1, maxConcurrency: 2 } });
    // Everything from config except the visibility timeout, shortened so redeliveries take seconds,
    // not minutes. Not to 1 s: a batch that takes longer than the visibility timeout (DynamoDB Local
    // on a loaded machine) is redelivered while still processing, and after maxReceiveCount such
    // receives a good message would follow the poison into the DLQ, as it would on AWS.
    const queues = await sqs.createEventQueues(config, { visibilityTimeoutSeconds: 3 });
    const tableName = await engine.createStateTable();
    const publisher = new MemoryPublisher();
    const processor = createProcessor({ ddb: engine.documentClient, tableName, publisher, logger: memoryLogger('error').logger, eventRecordTtlDays: 30 });
    const poison = 'this is not an event';
    const good = [roomStarted(room, T0), participantJoined(room, alice, T0 + 1), participantLeft(room, alice, T0 + 5)];
    let poisonDeliveries = 0;
    const source = new SqsEventSource({
      client: sqs.client,
      queueUrl: queues.queueUrl,
      queueArn: queues.queueArn,
      processing: config.processing,
      handler: async (event) => {
        poisonDeliveries += event.Records.filter((record) => record.body === poison).length;
        return processor.processBatch(event.Records);
      },
    });

    await sqs.client.send(
      new SendMessageBatchCommand({
        QueueUrl: queues.queueUrl,
        Entries: [poison, ...good.map((event) => JSON.stringify(event))].map((body, i) => ({
          Id: String(i),
          MessageBody: body,
          MessageAttributes: { source: { DataType: 'String', StringValue: 'webhook' } },
        })),
      }),
    );
    source.start();
    try {
      const depth = async (url: string) => {
        const attributes = (await sqs.client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
        return Number(attributes.ApproximateNumberOfMessages ?? 0) + Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
      };
      await waitUntil(
        async () => {
          if ((await depth(queues.dlqUrl)) !== 1 || (await depth(queues.queueUrl)) !== 0) throw new Error('poison not yet in the DLQ');
        },
        60_000,
        'DLQ',
      );
    } finally {
      await source.stop();
    }

    expect(poisonDeliveries).toBe(config.queue.maxReceiveCount);
    expect(publisher.published.map((c) => c.detailType).sort()).toEqual(['participant.joined', 'participant.left', 'room.started']);
    const dead = await sqs.client.send(new ReceiveMessageCommand({ QueueUrl: queues.dlqUrl, MaxNumberOfMessages: 10 }));
    expect(dead.Messages?.map((message) => message.Body)).toEqual([poison]);
  }, 90_000);
});
