/**
 * `npm run dlq:redrive -- [--stack <name> | --local <ready>] [--copy] [--max <n>] [--wait]`
 *
 * Moves the events in the dead-letter queue back to the event queue, where the processor applies
 * them (idempotently: an event already applied is recognised and ignored).
 * - Deployed: an SQS message move task (StartMessageMoveTask) from the DLQ to the queue; SQS does
 *   the work server-side and keeps each message's body and attributes. `--wait` follows it to the end.
 * - Local (the SQS emulator has no message move tasks), or `--copy`: receive → send → delete, in
 *   that order, with body and message attributes preserved. A crash between send and delete leaves
 *   a duplicate, never a loss; the processor ignores the duplicate.
 * Fix the cause first (see the runbook): a message that still fails comes back to the DLQ.
 */
import {
  DeleteMessageCommand,
  ListMessageMoveTasksCommand,
  Message,
  MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
  StartMessageMoveTaskCommand,
} from '@aws-sdk/client-sqs';
import { queueDepth } from './queue-depth';
import { CommandSpec, OncallTarget, ParsedArgs, queueArn, resolveTarget, runMain, UsageError } from './target';

export const USAGE = `usage: npm run dlq:redrive -- [--stack <name> [--region <r>] | --local '<ready JSON>'|<file>] [--copy] [--max <n>] [--wait]`;

export const COMMAND: CommandSpec = {
  usage: USAGE,
  description:
    'Moves the events in the dead-letter queue back to the event queue, where the processor applies them (idempotently). ' +
    'Deployed: an SQS message move task; locally or with --copy: receive, send, delete. Fix the cause first (docs/runbooks.md#runbook-dlq-not-empty).',
  options: {
    copy: { type: 'boolean', description: 'receive/send/delete copy instead of a message move task' },
    max: { type: 'string', value: '<n>', description: 'copy only: move at most n messages (default: the DLQ depth at the start)' },
    wait: { type: 'boolean', description: 'message move task: follow it until it ends' },
  },
};

export interface RedriveOptions {
  /** Force the receive/send/delete copy even where a message move task is available. */
  readonly copy?: boolean;
  /** Copy only: move at most this many (default: the DLQ's depth when the command starts). */
  readonly maxMessages?: number;
  /** Message move task: poll until it is no longer RUNNING. */
  readonly wait?: boolean;
  readonly log?: (line: string) => void;
}

export interface RedriveResult {
  readonly mode: 'message-move-task' | 'copy';
  /** Copy: messages moved. Move task: messages moved so far (when waited), else undefined. */
  readonly moved?: number;
  readonly taskHandle?: string;
  readonly status?: string;
}

export const dlqDepth = (target: OncallTarget): Promise<{ visible: number; inFlight: number }> => queueDepth(target.sqs, target.dlqUrl);

export async function redriveDlq(target: OncallTarget, options: RedriveOptions = {}): Promise<RedriveResult> {
  const log = options.log ?? (() => undefined);
  if (target.kind === 'aws' && !options.copy) return moveTask(target, options, log);
  return copy(target, options, log);
}

async function moveTask(target: OncallTarget, options: RedriveOptions, log: (line: string) => void): Promise<RedriveResult> {
  const [sourceArn, destinationArn] = await Promise.all([queueArn(target.sqs, target.dlqUrl), queueArn(target.sqs, target.queueUrl)]);
  if (options.maxMessages !== undefined) throw new UsageError('--max applies to --copy only: a message move task moves the whole DLQ');
  const { TaskHandle } = await target.sqs.send(new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn }));
  log(`message move task started: ${sourceArn} -> ${destinationArn}`);
  log(`follow it: aws sqs list-message-move-tasks --source-arn ${sourceArn}`);
  if (!options.wait) return { mode: 'message-move-task', taskHandle: TaskHandle, status: 'RUNNING' };
  for (;;) {
    const { Results = [] } = await target.sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 1 }));
    const task = Results[0];
    if (task && task.Status !== 'RUNNING') {
      log(
        `task ${task.Status}: ${task.ApproximateNumberOfMessagesMoved ?? 0} of ${task.ApproximateNumberOfMessagesToMove ?? '?'} moved${task.FailureReason ? `, ${task.FailureReason}` : ''}`,
      );
      return { mode: 'message-move-task', taskHandle: TaskHandle, status: task.Status, moved: task.ApproximateNumberOfMessagesMoved };
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/** What SendMessage accepts of a received message's attributes (list values are reserved by SQS). */
function sendableAttributes(attributes: Message['MessageAttributes']): Record<string, MessageAttributeValue> | undefined {
  if (!attributes || Object.keys(attributes).length === 0) return undefined;
  const result: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(attributes)) {
    result[name] = {
      DataType: value.DataType,
      ...(value.StringValue !== undefined ? { StringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined ? { BinaryValue: value.BinaryValue } : {}),
    };
  }
  return result;
}

async function copy(target: OncallTarget, options: RedriveOptions, log: (line: string) => void): Promise<RedriveResult> {
  // Bounded by the depth at the start, so messages that fail again and come back are not looped on.
  const limit = options.maxMessages ?? (await dlqDepth(target)).visible;
  let moved = 0;
  while (moved < limit) {
    const { Messages = [] } = await target.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: target.dlqUrl,
        MaxNumberOfMessages: Math.min(10, limit - moved),
        WaitTimeSeconds: 1,
        // Long enough to send and delete; if we crash, the message reappears in the DLQ.
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) break;
    for (const message of Messages) {
      await target.sqs.send(
        new SendMessageCommand({
          QueueUrl: target.queueUrl,
          MessageBody: message.Body ?? '',
          MessageAttributes: sendableAttributes(message.MessageAttributes),
        }),
      );
      await target.sqs.send(new DeleteMessageCommand({ QueueUrl: target.dlqUrl, ReceiptHandle: message.ReceiptHandle }));
      moved++;
      const eventId = message.MessageAttributes?.eventId?.StringValue;
      log(`moved ${message.MessageId}${eventId ? ` (event ${eventId})` : ''} back to the queue`);
    }
  }
  log(`${moved} message(s) moved from the DLQ back to the queue`);
  return { mode: 'copy', moved };
}

export async function main(parsed: ParsedArgs): Promise<number> {
  const max = parsed.flags.max === undefined ? undefined : Number(parsed.flags.max);
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw new UsageError('--max must be a positive integer');
  const target = await resolveTarget(parsed);
  try {
    const log = (line: string) => process.stdout.write(`${line}\n`);
    const depth = await dlqDepth(target);
    log(`${target.description}: DLQ holds ~${depth.visible} message(s) (${depth.inFlight} in flight)`);
    if (depth.visible === 0 && max === undefined) {
      if (depth.inFlight === 0) {
        log('nothing to redrive');
        return 0;
      }
      // Received by someone within their visibility timeout (the runbook's peek holds them 30 s):
      // the DLQ alarm counts them, a move task or a receive sees them only once it has passed. A
      // copy receives, which also makes an emulator that expires messages lazily give them back.
      if (target.kind !== 'aws' || parsed.flags.copy === true) {
        const result = await redriveDlq(target, { copy: true, maxMessages: depth.inFlight, log });
        if ((result.moved ?? 0) > 0) return 0;
      }
      log(
        `nothing visible to redrive yet: ${depth.inFlight} message(s) in flight, received within their visibility timeout ` +
          '(a peek holds them 30 s); run this again once it has passed',
      );
      return 1;
    }
    await redriveDlq(target, { copy: parsed.flags.copy === true, maxMessages: max, wait: parsed.flags.wait === true, log });
    return 0;
  } finally {
    target.close();
  }
}

if (require.main === module) runMain(main, COMMAND);
