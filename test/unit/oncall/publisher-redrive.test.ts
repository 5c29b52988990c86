import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  _Record,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
} from '@aws-sdk/client-dynamodb-streams';
import { InvokeCommand, InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { InvocationRecordError, parseInvocationRecord } from '../../../scripts/oncall/invocation-record';
import { redrivePublisherDlq } from '../../../scripts/oncall/redrive-publisher';
import { lambdaEventRecord, lambdaEvents, readRange, selectRange } from '../../../scripts/oncall/stream-range';
import { stackTarget } from '../../../scripts/oncall/target';

/*
 * The publisher DLQ redrive, one module at a time with the AWS calls mocked (no account here):
 * the invocation record Lambda sends to a stream event source's on-failure destination, the range
 * of the shard it points at (sequence numbers compared as BigInt, across GetRecords pages), and the
 * deployed command: the stack's outputs, the event the publisher is invoked with, delete on success
 * only. The local runtime's end-to-end run is test/e2e/oncall/publisher-redrive.test.ts.
 */
const STREAM_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/LiveKitWebhooks-StateTable/stream/2025-06-05T18:00:00.000';
const SHARD = 'shardId-00000001749146400000-abcdef01';
// Sequence numbers of different lengths: a string comparison would order "9…" after "10…".
/** A range trimmed from the stream. */
const OLD = ['100000000000000000001', '100000000000000000002'];
const SEQ = ['900000000000000000001', '999999999999999999999', '1000000000000000000001', '1000000000000000000002'];

function invocationRecord(overrides: Record<string, unknown> = {}, condition = 'RetryAttemptsExhausted') {
  return {
    requestContext: {
      requestId: '316aa6d0-8154-xmpl-9af7-85d5f4a6bc81',
      functionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:LiveKitWebhooks-Publisher',
      condition,
      approximateInvokeCount: 101,
    },
    responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
    version: '1.0',
    timestamp: '2025-06-05T18:22:26.479Z',
    DDBStreamBatchInfo: {
      shardId: SHARD,
      startSequenceNumber: SEQ[1],
      endSequenceNumber: SEQ[2],
      approximateArrivalOfFirstRecord: '2025-06-05T18:21:49Z',
      approximateArrivalOfLastRecord: '2025-06-05T18:21:50Z',
      batchSize: 2,
      streamArn: STREAM_ARN,
      ...overrides,
    },
  };
}

function participantItem(status: string, version: number) {
  return {
    pk: 'ROOM#RM_1',
    sk: 'PARTICIPANT#PA_1',
    entityType: 'participant',
    entityId: 'PA_1',
    rev: `1.${String(version).padStart(4, '0')}`,
    info: JSON.stringify({ sid: 'PA_1', identity: 'alice' }),
    roomSid: 'RM_1',
    roomName: 'standup',
    participantSid: 'PA_1',
    identity: 'alice',
    status,
    terminal: status === 'DISCONNECTED',
    lastEventId: `EV_${version}`,
    lastEventType: status === 'DISCONNECTED' ? 'participant_left' : 'participant_joined',
    lastEventCreatedAt: 1749147709 + version,
    lastEventSource: 'webhook',
  };
}

function streamRecord(sequence: string, newItem?: Record<string, unknown>, oldItem?: Record<string, unknown>): _Record {
  return {
    eventID: `id-${sequence}`,
    eventName: oldItem ? 'MODIFY' : 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    dynamodb: {
      ApproximateCreationDateTime: new Date('2025-06-05T18:21:49Z'),
      Keys: marshall({ pk: 'ROOM#RM_1', sk: 'PARTICIPANT#PA_1' }),
      ...(newItem ? { NewImage: marshall(newItem) } : {}),
      ...(oldItem ? { OldImage: marshall(oldItem) } : {}),
      SequenceNumber: sequence,
      SizeBytes: 321,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

describe('parseInvocationRecord', () => {
  it('reads the invocation record of a batch whose retries are exhausted', () => {
    const record = parseInvocationRecord(JSON.stringify(invocationRecord()));
    expect(record.requestContext.condition).toBe('RetryAttemptsExhausted');
    expect(record.DDBStreamBatchInfo).toMatchObject({
      shardId: SHARD,
      startSequenceNumber: SEQ[1],
      endSequenceNumber: SEQ[2],
      batchSize: 2,
    });
  });

  it('reads one given up on for its age (RecordAgeExceeded)', () => {
    expect(parseInvocationRecord(JSON.stringify(invocationRecord({}, 'RecordAgeExceeded'))).requestContext.condition).toBe(
      'RecordAgeExceeded',
    );
  });

  it.each([
    ['not JSON', 'hello', /not JSON/],
    ['an SQS event, not an invocation record', JSON.stringify({ Records: [] }), /no DDBStreamBatchInfo/],
    ['no condition', JSON.stringify({ ...invocationRecord(), requestContext: {} }), /no requestContext\.condition/],
    [
      'a sequence number as a number',
      JSON.stringify(invocationRecord({ startSequenceNumber: 1 })),
      /startSequenceNumber is not a sequence number/,
    ],
    [
      'a sequence number too short',
      JSON.stringify(invocationRecord({ endSequenceNumber: '42' })),
      /endSequenceNumber is not a sequence number/,
    ],
    [
      'a range backwards',
      JSON.stringify(invocationRecord({ startSequenceNumber: SEQ[2], endSequenceNumber: SEQ[1] })),
      /after endSequenceNumber/,
    ],
    ['a zero batch size', JSON.stringify(invocationRecord({ batchSize: 0 })), /batchSize is not a positive integer/],
    ['a Kinesis ARN', JSON.stringify(invocationRecord({ streamArn: 'arn:aws:kinesis:eu-west-1:1:stream/x' })), /not a DynamoDB stream ARN/],
    ['no shard', JSON.stringify(invocationRecord({ shardId: '' })), /shardId missing/],
  ])('refuses %s with a clear error', (_name, body, message) => {
    expect(() => parseInvocationRecord(body)).toThrow(InvocationRecordError);
    expect(() => parseInvocationRecord(body)).toThrow(message);
  });
});

describe('selectRange', () => {
  it('compares sequence numbers as numbers, not strings', () => {
    const records = SEQ.map((s) => streamRecord(s));
    const { inRange, pastEnd } = selectRange(records, BigInt(SEQ[1]), BigInt(SEQ[2]));
    expect(inRange.map((r) => r.dynamodb?.SequenceNumber)).toEqual([SEQ[1], SEQ[2]]);
    expect(pastEnd).toBe(true);
  });

  it('a page that ends before the end of the range is not past it', () => {
    const { inRange, pastEnd } = selectRange([streamRecord(SEQ[1])], BigInt(SEQ[1]), BigInt(SEQ[3]));
    expect(inRange).toHaveLength(1);
    expect(pastEnd).toBe(false);
  });
});

describe('readRange', () => {
  const streams = mockClient(DynamoDBStreamsClient);
  beforeEach(() => streams.reset());
  const batch = parseInvocationRecord(JSON.stringify(invocationRecord({ endSequenceNumber: SEQ[3], batchSize: 3 }))).DDBStreamBatchInfo;

  it('follows GetRecords pages from the start until past the end', async () => {
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
    streams
      .on(GetRecordsCommand, { ShardIterator: 'it-1' })
      .resolves({ Records: [streamRecord(SEQ[1])], NextShardIterator: 'it-2' })
      .on(GetRecordsCommand, { ShardIterator: 'it-2' })
      .resolves({ Records: [], NextShardIterator: 'it-3' })
      .on(GetRecordsCommand, { ShardIterator: 'it-3' })
      .resolves({
        Records: [streamRecord(SEQ[2]), streamRecord(SEQ[3]), streamRecord('1000000000000000000003')],
        NextShardIterator: 'it-4',
      });
    const client = new DynamoDBStreamsClient({ region: 'eu-west-1' });
    const read = await readRange(client, batch);
    expect(streams).toHaveReceivedCommandWith(GetShardIteratorCommand, {
      StreamArn: STREAM_ARN,
      ShardId: SHARD,
      ShardIteratorType: 'AT_SEQUENCE_NUMBER',
      SequenceNumber: SEQ[1],
    });
    expect(read.complete).toBe(true);
    expect(read.records.map((r) => r.dynamodb?.SequenceNumber)).toEqual([SEQ[1], SEQ[2], SEQ[3]]);
    // It stopped at the page that went past the end.
    expect(streams).toHaveReceivedCommandTimes(GetRecordsCommand, 3);
  });

  it('a range trimmed from the stream (older than 24 hours) is incomplete, with the reason', async () => {
    streams
      .on(GetShardIteratorCommand)
      .rejects(new TrimmedDataAccessException({ message: 'The operation attempted to read past the oldest stream record', $metadata: {} }));
    const read = await readRange(new DynamoDBStreamsClient({ region: 'eu-west-1' }), batch);
    expect(read).toEqual({ complete: false, reason: expect.stringMatching(/^TrimmedDataAccessException/), records: [] });
  });

  it('a closed shard that ends before the range does is incomplete; so is a range with fewer records than the batch', async () => {
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
    streams.on(GetRecordsCommand).resolves({ Records: [streamRecord(SEQ[1]), streamRecord(SEQ[2])] });
    const client = new DynamoDBStreamsClient({ region: 'eu-west-1' });
    expect(await readRange(client, batch)).toMatchObject({ complete: false, reason: expect.stringContaining('last record') });
    const small = { ...batch, endSequenceNumber: SEQ[2], batchSize: 5 };
    expect(await readRange(client, small)).toMatchObject({ complete: false, reason: "2 of the batch's 5 records found" });
  });
});

describe('the Lambda event', () => {
  it('is the record as Lambda hands it over: stream ARN, epoch seconds, binary as base64', () => {
    const record = streamRecord(SEQ[1], { ...participantItem('ACTIVE', 2), blob: new Uint8Array([1, 2, 3]) }, participantItem('JOINED', 1));
    const event = lambdaEventRecord(record, STREAM_ARN);
    expect(event).toMatchObject({
      eventID: `id-${SEQ[1]}`,
      eventName: 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'eu-west-1',
      eventSourceARN: STREAM_ARN,
      dynamodb: {
        ApproximateCreationDateTime: Date.parse('2025-06-05T18:21:49Z') / 1000,
        Keys: { pk: { S: 'ROOM#RM_1' }, sk: { S: 'PARTICIPANT#PA_1' } },
        SequenceNumber: SEQ[1],
        SizeBytes: 321,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    });
    expect(event.dynamodb?.NewImage?.blob).toEqual({ B: 'AQID' });
    expect(event.dynamodb?.OldImage?.status).toEqual({ S: 'JOINED' });
    // JSON round trip: what the Invoke API carries.
    expect(JSON.parse(JSON.stringify(event))).toEqual(event);
  });

  it('splits only what would not fit one invocation', () => {
    const records = SEQ.map((s) => lambdaEventRecord(streamRecord(s, participantItem('ACTIVE', 1)), STREAM_ARN));
    expect(lambdaEvents(records)).toEqual([{ Records: records }]);
    // Sequence numbers of different lengths make the last two records a little larger.
    const size = Math.max(...records.map((r) => Buffer.byteLength(JSON.stringify(r)) + 1));
    expect(lambdaEvents(records, size * 2).map((e) => e.Records.length)).toEqual([2, 2]);
  });
});

describe('npm run publisher:redrive on a stack', () => {
  const PUBLISHER_DLQ = 'https://sqs.eu-west-1.amazonaws.com/123456789012/LiveKitWebhooks-PublisherDeadLetterQueue';
  const cloudformation = mockClient(CloudFormationClient);
  const sqs = mockClient(SQSClient);
  const streams = mockClient(DynamoDBStreamsClient);
  const lambda = mockClient(LambdaClient);
  const outputs: Record<string, string> = {
    QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/q',
    DeadLetterQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dlq',
    StateTableName: 'LiveKitWebhooks-StateTable',
    PublisherDeadLetterQueueUrl: PUBLISHER_DLQ,
    PublisherFunctionName: 'LiveKitWebhooks-Publisher',
  };
  const stack = (values: Record<string, string>) =>
    cloudformation.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'LiveKitWebhooks',
          CreationTime: new Date(),
          StackStatus: 'UPDATE_COMPLETE',
          Outputs: Object.entries(values).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
        },
      ],
    });
  const message = (id: string, body: unknown) => ({
    MessageId: id,
    ReceiptHandle: `rh-${id}`,
    Body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  // What the SDK hands back: the bytes, with its blob adapter's helpers (unused by the command).
  const payload = (text: string) => Buffer.from(text) as unknown as InvokeCommandOutput['Payload'];
  const ok = (batchItemFailures: { itemIdentifier: string }[] = []) => ({
    StatusCode: 200,
    Payload: payload(JSON.stringify({ batchItemFailures })),
  });

  beforeEach(() => {
    for (const mock of [cloudformation, sqs, streams, lambda]) mock.reset();
    stack(outputs);
    sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { ApproximateNumberOfMessages: '3' } });
    streams.on(GetShardIteratorCommand).resolves({ ShardIterator: 'it-1' });
    // The range: a join (INSERT), an event record (no entityType: the event source's filter drops
    // it), and the participant leaving: two changes.
    streams.on(GetRecordsCommand).resolves({
      Records: [
        streamRecord(SEQ[1], participantItem('ACTIVE', 1)),
        streamRecord(SEQ[2], { pk: 'EVENT#EV_1', sk: 'EVENT#EV_1', eventType: 'participant_joined' }),
        streamRecord(SEQ[3], participantItem('DISCONNECTED', 2), participantItem('ACTIVE', 1)),
      ],
      NextShardIterator: 'it-2',
    });
  });

  it('reads the publisher DLQ and function from the outputs; a stack without them says so', async () => {
    const target = await stackTarget('LiveKitWebhooks', 'eu-west-1');
    expect(target.publisher).toMatchObject({ dlqUrl: PUBLISHER_DLQ, functionName: 'LiveKitWebhooks-Publisher' });
    target.close();
    const { PublisherDeadLetterQueueUrl: _dlq, PublisherFunctionName: _fn, ...older } = outputs;
    stack(older);
    const old = await stackTarget('Old', 'eu-west-1');
    await expect(redrivePublisherDlq(old)).rejects.toThrow(
      'stack Old has no output PublisherDeadLetterQueueUrl or PublisherFunctionName (deployed from a version before them? run cdk deploy)',
    );
    old.close();
  });

  it('invokes the publisher with the event Lambda would have sent, deletes what it republished, keeps the rest', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          message('m-1', invocationRecord({ endSequenceNumber: SEQ[3], batchSize: 2 })),
          message('m-2', 'not a record'),
          message('m-3', invocationRecord({ startSequenceNumber: OLD[0], endSequenceNumber: OLD[1], batchSize: 1 })),
        ],
      })
      .resolves({ Messages: [] });
    streams
      .on(GetShardIteratorCommand, { SequenceNumber: OLD[0] })
      .rejects(new TrimmedDataAccessException({ message: 'trimmed', $metadata: {} }));
    lambda.on(InvokeCommand).resolves(ok());
    const lines: string[] = [];
    const target = await stackTarget('LiveKitWebhooks', 'eu-west-1');
    const result = await redrivePublisherDlq(target, { log: (line) => lines.push(line) });
    target.close();

    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    const input = lambda.commandCalls(InvokeCommand)[0].args[0].input;
    expect(input).toMatchObject({ FunctionName: 'LiveKitWebhooks-Publisher', InvocationType: 'RequestResponse' });
    const event = JSON.parse(Buffer.from(input.Payload as Uint8Array).toString('utf8'));
    expect(event.Records.map((r: { dynamodb: { SequenceNumber: string } }) => r.dynamodb.SequenceNumber)).toEqual([SEQ[1], SEQ[3]]);
    expect(event.Records[0]).toMatchObject({ eventSource: 'aws:dynamodb', eventSourceARN: STREAM_ARN, eventName: 'INSERT' });

    expect(sqs).toHaveReceivedCommandTimes(DeleteMessageCommand, 1);
    expect(sqs).toHaveReceivedCommandWith(DeleteMessageCommand, { QueueUrl: PUBLISHER_DLQ, ReceiptHandle: 'rh-m-1' });
    // The kept ones are visible again at once (the alarm keeps seeing them; the next run finds them).
    expect(sqs.commandCalls(ChangeMessageVisibilityCommand).map((c) => c.args[0].input)).toEqual([
      { QueueUrl: PUBLISHER_DLQ, ReceiptHandle: 'rh-m-2', VisibilityTimeout: 0 },
      { QueueUrl: PUBLISHER_DLQ, ReceiptHandle: 'rh-m-3', VisibilityTimeout: 0 },
    ]);
    expect(result).toMatchObject({ deleted: 1, kept: 2, stopped: false });
    expect(lines[0]).toBe(`republished 2 changes of 2 records from ${SHARD} ${SEQ[1]}..${SEQ[3]}`);
    expect(lines[1]).toMatch(/^message m-2 is not a Lambda invocation record \(not JSON/);
    expect(lines[2]).toMatch(
      new RegExp(
        `^cannot republish ${SHARD} ${OLD[0]}\\.\\.${OLD[1]}: 1 records written 2025-06-05T18:21:49Z to 2025-06-05T18:21:50Z \\(RetryAttemptsExhausted\\); the stream no longer holds them \\(TrimmedDataAccessException`,
      ),
    );
    expect(lines[2]).toContain('consumers must resync');
  });

  it('keeps the message and stops when the publisher still fails', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({
        Messages: [
          message('m-1', invocationRecord({ endSequenceNumber: SEQ[3], batchSize: 2 })),
          message('m-2', invocationRecord({ endSequenceNumber: SEQ[3], batchSize: 2 })),
        ],
      })
      .resolves({ Messages: [] });
    lambda.on(InvokeCommand).resolves(ok([{ itemIdentifier: SEQ[1] }]));
    const lines: string[] = [];
    const target = await stackTarget('LiveKitWebhooks', 'eu-west-1');
    const result = await redrivePublisherDlq(target, { log: (line) => lines.push(line) });
    target.close();
    expect(result).toMatchObject({ deleted: 0, kept: 2, stopped: true });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(sqs).not.toHaveReceivedCommand(DeleteMessageCommand);
    expect(lines).toEqual([expect.stringMatching(/^the publisher failed on .*batchItemFailures from sequence number 9/)]);
  });

  it('a function error is a failure too', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('m-1', invocationRecord({ endSequenceNumber: SEQ[3], batchSize: 2 }))] })
      .resolves({ Messages: [] });
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: payload('{"errorType":"AccessDeniedException"}'),
    });
    const target = await stackTarget('LiveKitWebhooks', 'eu-west-1');
    const result = await redrivePublisherDlq(target);
    target.close();
    expect(result.outcomes[0].outcome).toEqual({ kind: 'publisher-failed', reason: expect.stringContaining('AccessDeniedException') });
    expect(sqs).not.toHaveReceivedCommand(DeleteMessageCommand);
  });

  it('a publisher that cannot be invoked (no permission) keeps the message; an unexpected stream error keeps it visible and is thrown', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('m-1', invocationRecord({ endSequenceNumber: SEQ[3], batchSize: 2 }))] })
      .resolvesOnce({ Messages: [message('m-2', invocationRecord({ endSequenceNumber: SEQ[3], batchSize: 2 }))] })
      .resolves({ Messages: [] });
    lambda
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('not authorized to perform: lambda:InvokeFunction'), { name: 'AccessDeniedException' }));
    const target = await stackTarget('LiveKitWebhooks', 'eu-west-1');
    const result = await redrivePublisherDlq(target);
    expect(result.outcomes[0].outcome).toEqual({
      kind: 'publisher-failed',
      reason: 'could not invoke LiveKitWebhooks-Publisher: AccessDeniedException: not authorized to perform: lambda:InvokeFunction',
    });
    expect(sqs).not.toHaveReceivedCommand(DeleteMessageCommand);

    streams.on(GetRecordsCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'LimitExceededException' }));
    await expect(redrivePublisherDlq(target)).rejects.toThrow('Rate exceeded');
    expect(sqs).toHaveReceivedCommandWith(ChangeMessageVisibilityCommand, { ReceiptHandle: 'rh-m-2', VisibilityTimeout: 0 });
    target.close();
  });

  it('--dry-run reads and reports, and neither invokes nor deletes', async () => {
    sqs
      .on(ReceiveMessageCommand)
      .resolvesOnce({ Messages: [message('m-1', invocationRecord({ endSequenceNumber: SEQ[3], batchSize: 2 }))] })
      .resolves({ Messages: [] });
    const lines: string[] = [];
    const target = await stackTarget('LiveKitWebhooks', 'eu-west-1');
    await redrivePublisherDlq(target, { dryRun: true, log: (line) => lines.push(line) });
    target.close();
    expect(lines).toEqual([`would republish 2 changes of 2 records from ${SHARD} ${SEQ[1]}..${SEQ[3]} (dry run)`]);
    expect(lambda).not.toHaveReceivedCommand(InvokeCommand);
    expect(sqs).not.toHaveReceivedCommand(DeleteMessageCommand);
  });
});
