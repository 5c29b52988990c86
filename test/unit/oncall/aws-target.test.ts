import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { EventBridgeClient, StartReplayCommand } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, ListMessageMoveTasksCommand, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { redriveDlq } from '../../../scripts/oncall/redrive-dlq';
import { parseRange, startReplay } from '../../../scripts/oncall/replay';
import { parseQuery } from '../../../scripts/oncall/state';
import { COMMAND as REDRIVE } from '../../../scripts/oncall/redrive-dlq';
import { COMMAND as STATE } from '../../../scripts/oncall/state';
import { parseArgs, stackTarget, UsageError } from '../../../scripts/oncall/target';

/*
 * The deployed side of the on-call commands, with the AWS calls mocked (no account here): the
 * target comes from the stack's outputs; redrive starts an SQS message move task from the DLQ to
 * the queue; replay starts an EventBridge replay from the archive to the bus for the range.
 */
const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/LiveKitWebhooks-EventsQueue';
const DLQ_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/LiveKitWebhooks-EventsDeadLetterQueue';
const arnOf = (url: string) => `arn:aws:sqs:eu-west-1:123456789012:${url.split('/').pop()}`;
const OUTPUTS = {
  QueueUrl: QUEUE_URL,
  DeadLetterQueueUrl: DLQ_URL,
  StateTableName: 'LiveKitWebhooks-StateTable',
  EventBusArn: 'arn:aws:events:eu-west-1:123456789012:event-bus/LiveKitWebhooksBus',
  EventArchiveArn: 'arn:aws:events:eu-west-1:123456789012:archive/LiveKitWebhooksArchive',
};

const cloudformation = mockClient(CloudFormationClient);
const sqs = mockClient(SQSClient);
const events = mockClient(EventBridgeClient);

beforeEach(() => {
  cloudformation.reset();
  sqs.reset();
  events.reset();
  cloudformation.on(DescribeStacksCommand).resolves({
    Stacks: [
      {
        StackName: 'LiveKitWebhooks',
        CreationTime: new Date(),
        StackStatus: 'UPDATE_COMPLETE',
        Outputs: Object.entries(OUTPUTS).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
      },
    ],
  });
  sqs.on(GetQueueAttributesCommand).callsFake((input) => ({ Attributes: { QueueArn: arnOf(input.QueueUrl) } }));
});

test('a stack target reads the queue, DLQ, table, bus and archive from the stack outputs', async () => {
  const target = await stackTarget('LiveKitWebhooks', 'eu-west-1');
  expect(cloudformation).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'LiveKitWebhooks' });
  expect(target).toMatchObject({ kind: 'aws', queueUrl: QUEUE_URL, dlqUrl: DLQ_URL, tableName: 'LiveKitWebhooks-StateTable' });
  expect(target.events).toMatchObject({ busArn: OUTPUTS.EventBusArn, archiveArn: OUTPUTS.EventArchiveArn });
  target.close();
});

test('a stack without the outputs is named in the error', async () => {
  cloudformation
    .on(DescribeStacksCommand)
    .resolves({ Stacks: [{ StackName: 'Old', CreationTime: new Date(), StackStatus: 'CREATE_COMPLETE', Outputs: [] }] });
  await expect(stackTarget('Old', 'eu-west-1')).rejects.toThrow(/stack Old has no output QueueUrl/);
  cloudformation.on(DescribeStacksCommand).rejects(new Error('Stack with id Gone does not exist'));
  await expect(stackTarget('Gone', 'eu-west-1')).rejects.toThrow(
    /could not read the outputs of stack Gone: Stack with id Gone does not exist/,
  );
});

test('deployed redrive starts a message move task from the DLQ to the event queue, and can wait for it', async () => {
  sqs.on(StartMessageMoveTaskCommand).resolves({ TaskHandle: 'handle-1' });
  sqs
    .on(ListMessageMoveTasksCommand)
    .resolves({ Results: [{ Status: 'COMPLETED', ApproximateNumberOfMessagesMoved: 3, ApproximateNumberOfMessagesToMove: 3 }] });
  const target = await stackTarget('LiveKitWebhooks', 'eu-west-1');
  const result = await redriveDlq(target, { wait: true });
  expect(sqs).toHaveReceivedCommandWith(StartMessageMoveTaskCommand, { SourceArn: arnOf(DLQ_URL), DestinationArn: arnOf(QUEUE_URL) });
  expect(result).toEqual({ mode: 'message-move-task', taskHandle: 'handle-1', status: 'COMPLETED', moved: 3 });
  target.close();
});

test('deployed replay starts a replay of the archive onto the bus for exactly the range', async () => {
  events.on(StartReplayCommand).resolves({ State: 'STARTING' });
  const target = await stackTarget('LiveKitWebhooks', 'eu-west-1');
  const range = parseRange('2025-01-31T10:00:00Z', '2025-01-31T11:30:00Z');
  const { replayName, state } = await startReplay(target, range);
  expect(state).toBe('STARTING');
  expect(events).toHaveReceivedCommandWith(StartReplayCommand, {
    ReplayName: replayName,
    EventSourceArn: OUTPUTS.EventArchiveArn,
    Destination: { Arn: OUTPUTS.EventBusArn },
    EventStartTime: new Date('2025-01-31T10:00:00Z'),
    EventEndTime: new Date('2025-01-31T11:30:00Z'),
  });
  expect(replayName).toMatch(/^[\w.-]{1,64}$/);
  target.close();
});

test('arguments: stack by default, --local or --stack but not both, and checked ranges and commands', () => {
  expect(parseArgs([]).target).toEqual({ stack: 'LiveKitWebhooks' });
  expect(parseArgs(['--stack', 'Prod', '--region', 'eu-west-1', 'rooms'], STATE).target).toEqual({ stack: 'Prod', region: 'eu-west-1' });
  expect(parseArgs(['--stack', 'Prod', 'rooms'], STATE).rest).toEqual(['rooms']);
  expect(
    parseArgs([
      '--local',
      '{"ready":true,"dynamodbEndpoint":"http://127.0.0.1:1","sqsEndpoint":"http://127.0.0.1:2","tableName":"t","queueUrl":"q","dlqUrl":"d"}',
    ]).target,
  ).toMatchObject({ local: { tableName: 't' } });
  expect(() => parseArgs(['--local', '{}', '--stack', 'x'])).toThrow(UsageError);
  // Strict: a misspelt option is an error, never a query of the default stack.
  expect(() => parseArgs(['--stak', 'prod', 'rooms'], STATE)).toThrow(UsageError);
  expect(() => parseArgs(['--stak', 'prod', 'rooms'], STATE)).toThrow(/Unknown option '--stak'/);
  expect(() => parseArgs(['--max'], REDRIVE)).toThrow(UsageError);
  expect(() => parseArgs(['--max'], REDRIVE)).toThrow(/--max <value>' argument missing/);
  expect(() => parseArgs(['extra'], REDRIVE)).toThrow(/Unexpected argument 'extra'/);
  expect(() => parseArgs(['--copy=yes'], REDRIVE)).toThrow(UsageError);
  expect(parseArgs(['--max', '3', '--copy'], REDRIVE).flags).toMatchObject({ max: '3', copy: true });
  expect(parseArgs(['--help'], STATE).help).toBe(true);
  expect(parseArgs(['-h'], STATE).help).toBe(true);
  expect(() => parseRange('2025-01-31T11:00:00Z', '2025-01-31T10:00:00Z')).toThrow(/before/);
  expect(() => parseRange('yesterday', '2025-01-31T10:00:00Z')).toThrow(/ISO 8601/);
  expect(() => parseRange(undefined, undefined)).toThrow(/required/);
  expect(parseQuery(['participants', 'RM_x'])).toEqual({ kind: 'participants', room: 'RM_x' });
  expect(() => parseQuery(['participants'])).toThrow(/one room/);
});
