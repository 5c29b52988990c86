import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ChangeMessageVisibilityCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../../../lib/config';
import type { ChangePublisher, StateChange } from '../../../lambda/process/publisher';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../local/local-aws';
import { LocalPipeline, startLocalPipeline } from '../../../local/local-pipeline';
import type { LocalStatus } from '../../../local/status-page';
import { invocationRecord, parseInvocationRecord } from '../../../scripts/oncall/invocation-record';
import { participantJoined, participantLeft, roomStarted } from '../../../simulator/events';
import { signWebhook } from '../../../simulator/signing';
import { Engines, eventually, startEngines } from '../../support/e2e';
import { REPO_ROOT } from '../../support/paths';

/*
 * The publisher DLQ end to end on the local runtime (DynamoDB Local's stream, the SQS emulator,
 * the real publisher): the bus refuses everything (an EventBridge outage) until the stream source
 * gives the batches up; each lands in the publisher DLQ as Lambda's invocation record, and nothing
 * was published. The bus comes back; `npm run publisher:redrive -- --local <ready line>`, run as a
 * user runs it, reads each range back from the stream and invokes the publisher through Lambda's
 * Invoke API: every change of those records reaches the bus once, the DLQ is empty, and a second
 * run has nothing to do.
 */
const run = promisify(execFile);
const KEYS = { APIredrive: 'publisher-redrive-secret-of-32-chars!!' };
const config = parseConfig({ processing: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 2 } });

let engines: Engines;
let pipeline: LocalPipeline;
let busDown = true;
/** Every change id the bus refused while it was down. */
const refused = new Set<string>();

beforeAll(async () => {
  engines = await startEngines();
  pipeline = await startLocalPipeline({
    config,
    keys: KEYS,
    engines,
    logLevel: 'error',
    logSink: () => undefined,
    // Two invocations per batch instead of Lambda's 101: the batch is given up on in well under a second.
    publisherRetryAttempts: 1,
    wrapBus: (bus: ChangePublisher): ChangePublisher => ({
      async publish(changes: readonly StateChange[]) {
        if (!busDown) return bus.publish(changes);
        for (const change of changes) refused.add(change.changeId);
        return {
          failedChangeIds: changes.map((change) => change.changeId),
          error: Object.assign(new Error('bus unavailable'), { name: 'InternalException' }),
        };
      },
    }),
  });
}, 90_000);

afterAll(async () => {
  await pipeline?.stop();
  await engines?.stop();
});

const post = async (event: { id: string }) => {
  const body = JSON.stringify(event);
  const [apiKey, apiSecret] = Object.entries(KEYS)[0];
  const response = await fetch(pipeline.webhookUrl, {
    method: 'POST',
    body,
    headers: { authorization: await signWebhook(body, apiKey, apiSecret), 'content-type': 'application/webhook+json' },
  });
  expect(response.status).toBe(200);
  return event.id;
};

const depth = async () => {
  const { Attributes = {} } = await pipeline.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: pipeline.publisherDlqUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return { visible: Number(Attributes.ApproximateNumberOfMessages), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
};

const status = async (): Promise<LocalStatus> => (await fetch(JSON.parse(pipeline.readyLine()).statusUrl)).json() as Promise<LocalStatus>;

const redrive = (ready: string) => run('npm', ['run', '--silent', 'publisher:redrive', '--', '--local', ready], { cwd: REPO_ROOT });

test('the ready line names the publisher DLQ, the publish function and the Invoke API endpoint', () => {
  const ready = JSON.parse(pipeline.readyLine());
  expect(ready).toMatchObject({
    publisherDlqUrl: pipeline.publisherDlqUrl,
    publisherFunctionName: 'livekit-publish',
    lambdaEndpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
  });
});

test('changes the bus refused until the batch was given up on are republished from the stream by npm run publisher:redrive', async () => {
  const now = Math.floor(Date.now() / 1000);
  const room = { sid: 'RM_outage', name: 'outage-room' };
  const alice = { sid: 'PA_alice', identity: 'alice' };
  // One at a time, so each is applied (not found stale behind a later one).
  for (const event of [roomStarted(room, now - 3), participantJoined(room, alice, now - 2), participantLeft(room, alice, now - 1)]) {
    await pipeline.waitUntilProcessed([await post(event)]);
    expect(pipeline.processed.get(event.id)?.outcome).toBe('applied');
  }

  // Every batch is given up on and named in the publisher DLQ; nothing reached the bus.
  const failures = await pipeline.changeFeed.failures();
  expect(failures.length).toBeGreaterThan(0);
  await eventually(depth, (d) => d.visible === failures.length, 10_000, 'the publisher DLQ holds each batch given up on');
  expect(refused.size).toBeGreaterThanOrEqual(3);
  expect(pipeline.changes.filter((change) => refused.has(change.changeId))).toEqual([]);

  // What sits there is Lambda's invocation record of the range, not the changes (peeked, left in place).
  const { Messages = [] } = await pipeline.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: pipeline.publisherDlqUrl, MaxNumberOfMessages: 10 }),
  );
  for (const message of Messages)
    await pipeline.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: pipeline.publisherDlqUrl,
        ReceiptHandle: message.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
  expect(Messages.length).toBeGreaterThan(0);
  const record = parseInvocationRecord(Messages[0].Body!);
  expect(record.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 });
  expect(record.DDBStreamBatchInfo.streamArn).toMatch(/^arn:aws:dynamodb:.*:table\/.+\/stream\//);
  expect(failures.map((f) => f.startSequenceNumber)).toContain(record.DDBStreamBatchInfo.startSequenceNumber);
  await eventually(depth, (d) => d.visible === failures.length && d.inFlight === 0, 10_000, 'the peeked messages visible again');
  // /status shows the depth, and the page the deployed alarm would send.
  const during = await status();
  expect(during.publisherDlq).toEqual({ visible: failures.length, inFlight: 0 });
  expect(during.alarms['publisher-dlq-not-empty']).toMatchObject({ state: 'ALARM', severity: 'page' });

  // The bus is back; on-call runs the command.
  busDown = false;
  const ready = pipeline.readyLine();
  const { stdout } = await redrive(ready);
  const lines = stdout.trim().split('\n');
  expect(lines[0]).toMatch(new RegExp(`publisher DLQ holds ~${failures.length} message\\(s\\)`));
  const republished = lines.filter((line) => /^republished \d+ changes of \d+ records from shardId-\S+ \d+\.\.\d+$/.test(line));
  expect(republished).toHaveLength(failures.length);
  expect(lines[lines.length - 1]).toBe(`${failures.length} message(s) republished and deleted, 0 kept`);

  // Every refused change reached the bus, each once; the DLQ is empty.
  const published = pipeline.changes.filter((change) => refused.has(change.changeId)).map((change) => change.changeId);
  expect(new Set(published)).toEqual(refused);
  expect(published).toHaveLength(refused.size);
  expect(pipeline.changes.map((c) => c.detailType)).toEqual(
    expect.arrayContaining(['room.started', 'participant.joined', 'participant.left']),
  );
  expect(await depth()).toEqual({ visible: 0, inFlight: 0 });
  expect((await status()).alarms['publisher-dlq-not-empty']?.state).toBe('OK');

  // A second run has nothing to redrive.
  const again = await redrive(ready);
  expect(again.stdout).toMatch(/nothing to redrive/);
}, 120_000);

test('a message that is not an invocation record, and a range the stream does not hold, are kept and explained, exit 1', async () => {
  // The table's real stream; the shard below is not one of its shards.
  const ddb = new DynamoDBClient({ endpoint: pipeline.dynamodbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const { Table } = await ddb.send(new DescribeTableCommand({ TableName: pipeline.tableName }));
  ddb.destroy();
  const streamArn = Table?.LatestStreamArn;
  expect(streamArn).toBeDefined();
  await pipeline.sqs.send(new SendMessageCommand({ QueueUrl: pipeline.publisherDlqUrl, MessageBody: 'hello' }));
  const gone = invocationRecord({
    streamArn: streamArn!,
    shardId: 'shardId-00000000000000000000-00000000',
    startSequenceNumber: '100000000000000000000',
    endSequenceNumber: '100000000000000000001',
    batchSize: 2,
    firstArrival: new Date(Date.now() - 25 * 3_600_000),
    lastArrival: new Date(Date.now() - 25 * 3_600_000),
    condition: 'RecordAgeExceeded',
    invokeCount: 3,
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:livekit-publish',
    functionError: false,
  });
  await pipeline.sqs.send(new SendMessageCommand({ QueueUrl: pipeline.publisherDlqUrl, MessageBody: JSON.stringify(gone) }));
  await eventually(depth, (d) => d.visible === 2, 10_000, 'both messages in the publisher DLQ');

  const failed = await redrive(pipeline.readyLine()).then(
    () => undefined,
    (error: { code: number; stdout: string }) => error,
  );
  expect(failed?.code).toBe(1);
  expect(failed?.stdout).toMatch(/is not a Lambda invocation record \(not JSON/);
  expect(failed?.stdout).toMatch(
    /cannot republish shardId-00000000000000000000-00000000 100000000000000000000\.\.100000000000000000001: 2 records written .* \(RecordAgeExceeded\); the stream no longer holds them/,
  );
  expect(failed?.stdout).toMatch(/0 message\(s\) republished and deleted, 2 kept/);
  // Both kept, and visible again at once (the alarm keeps seeing them; the next run finds them).
  await eventually(depth, (d) => d.visible === 2 && d.inFlight === 0, 10_000, 'both messages kept and visible');
}, 60_000);
