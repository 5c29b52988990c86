/**
 * `npm run publisher:redrive -- [--stack <name> | --local <ready>] [--dry-run]`
 *
 * Republishes the stream ranges the publisher gave up on. Each message in the publisher's DLQ is
 * Lambda's invocation record (invocation-record.ts): the shard and sequence numbers of a batch,
 * not its records. For each: read the range back from the table's stream (stream-range.ts),
 * invoke the publisher function with exactly the event Lambda's DynamoDB event source would have
 * sent (its own code, role and bus publish the changes, under their deterministic change ids, which
 * consumers dedupe), and delete the message once the publisher reports no batch item failure.
 *
 * A message is kept, and the command exits 1, when it is not an invocation record, when the stream
 * no longer holds its range (records are trimmed 24 hours after their write: the changes cannot be
 * republished, consumers must resync from the state table), or when the publisher still fails (fix
 * the cause first; the remaining messages are left for the next run). `--dry-run` reads and
 * reports, and neither invokes nor deletes.
 */
import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import { InvokeCommand, InvokeCommandOutput } from '@aws-sdk/client-lambda';
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { changesFromStreamRecord, isEntityWrite } from '../../lambda/publish/change-feed';
import { InvocationRecord, InvocationRecordError, parseInvocationRecord, StreamBatchInfo } from './invocation-record';
import { lambdaEventRecord, lambdaEvents, readRange } from './stream-range';
import { queueDepth } from './queue-depth';
import { CommandSpec, OncallTarget, ParsedArgs, PublisherTarget, resolveTarget, runMain, TargetError } from './target';

export const USAGE = `usage: npm run publisher:redrive -- [--stack <name> [--region <r>] | --local '<ready JSON>'|<file>] [--dry-run]`;

export const COMMAND: CommandSpec = {
  usage: USAGE,
  description:
    "Republishes the state table's stream ranges the publisher gave up on (the messages of the publisher DLQ): reads each range from the stream, " +
    'invokes the publisher function with the event Lambda would have sent, and deletes the message once every record is published. ' +
    'The stream keeps records 24 hours; an expired range is kept and reported. Fix the cause first (docs/runbooks.md#runbook-publisher-dlq-not-empty).',
  options: {
    'dry-run': { type: 'boolean', description: 'read each range and report what would be republished; invoke and delete nothing' },
  },
};

export interface PublisherRedriveOptions {
  readonly dryRun?: boolean;
  readonly log?: (line: string) => void;
  /** Handle at most this many messages (default: the DLQ's depth when the command starts). */
  readonly maxMessages?: number;
}

export type MessageOutcome =
  | { readonly kind: 'republished'; readonly changes: number; readonly records: number }
  | { readonly kind: 'would-republish'; readonly changes: number; readonly records: number }
  | { readonly kind: 'not-an-invocation-record'; readonly error: string }
  | { readonly kind: 'expired'; readonly reason: string; readonly found: number }
  | { readonly kind: 'publisher-failed'; readonly reason: string };

export interface PublisherRedriveResult {
  readonly outcomes: readonly { readonly messageId?: string; readonly outcome: MessageOutcome }[];
  /** Messages deleted (republished). */
  readonly deleted: number;
  /** Messages left in the DLQ. */
  readonly kept: number;
  /** The run stopped early because the publisher still fails. */
  readonly stopped: boolean;
}

/** The publisher target, or a TargetError saying why this target has none. */
export function publisherOf(target: OncallTarget): PublisherTarget {
  if (!target.publisher) throw new TargetError(target.publisherMissing ?? `${target.description} has no publisher DLQ`);
  return target.publisher;
}

export const publisherDlqDepth = (target: OncallTarget): Promise<{ visible: number; inFlight: number }> =>
  queueDepth(target.sqs, publisherOf(target).dlqUrl);

/** `shardId-… 123..456`: how every line names a range. */
export function rangeName(batch: StreamBatchInfo): string {
  return `${batch.shardId} ${batch.startSequenceNumber}..${batch.endSequenceNumber}`;
}

function timeWindow(batch: StreamBatchInfo): string {
  const first = batch.approximateArrivalOfFirstRecord;
  const last = batch.approximateArrivalOfLastRecord;
  if (!first && !last) return 'written at an unknown time';
  return first === last || !last ? `written ${first}` : `written ${first ?? '?'} to ${last}`;
}

/** Invokes the publisher with one event; the reason it failed, or undefined when every record was published. */
async function invoke(publisher: PublisherTarget, records: DynamoDBRecord[]): Promise<string | undefined> {
  let output: InvokeCommandOutput;
  try {
    output = await publisher.lambda.send(
      new InvokeCommand({
        FunctionName: publisher.functionName,
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify({ Records: records })),
      }),
    );
  } catch (error) {
    // Throttled, not allowed (lambda:InvokeFunction), no such function: nothing was published by us.
    return `could not invoke ${publisher.functionName}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`;
  }
  const text = output.Payload ? Buffer.from(output.Payload).toString('utf8') : '';
  if (output.FunctionError) return `the function failed (${output.FunctionError}): ${text.slice(0, 500)}`;
  let response: Partial<DynamoDBBatchResponse> | null;
  try {
    response = JSON.parse(text) as Partial<DynamoDBBatchResponse> | null;
  } catch {
    return `the function answered something other than a batch response: ${text.slice(0, 200)}`;
  }
  const failures = response?.batchItemFailures;
  if (!Array.isArray(failures)) return `the function answered something other than a batch response: ${text.slice(0, 200)}`;
  if (failures.length > 0)
    return `the bus did not take every change (batchItemFailures from sequence number ${failures.map((f) => f.itemIdentifier).join(', ')})`;
  return undefined;
}

/** The changes a record carries, as the publisher derives them (for the report; a record it cannot read counts none, and fails there). */
function changeCount(record: DynamoDBRecord): number {
  try {
    return changesFromStreamRecord(record).length;
  } catch {
    return 0;
  }
}

async function handleMessage(
  publisher: PublisherTarget,
  message: Message,
  dryRun: boolean,
): Promise<{ outcome: MessageOutcome; record?: InvocationRecord }> {
  let record: InvocationRecord;
  try {
    record = parseInvocationRecord(message.Body ?? '');
  } catch (error) {
    if (error instanceof InvocationRecordError) return { outcome: { kind: 'not-an-invocation-record', error: error.message } };
    throw error;
  }
  const batch = record.DDBStreamBatchInfo;
  const range = await readRange(publisher.streams, batch);
  if (!range.complete) return { record, outcome: { kind: 'expired', reason: range.reason, found: range.records.length } };
  // The event source's filter (lib/processing.ts): entity writes only; the others were never sent.
  const sent = range.records.map((r) => lambdaEventRecord(r, batch.streamArn)).filter(isEntityWrite);
  const changes = sent.reduce((sum, r) => sum + changeCount(r), 0);
  if (dryRun) return { record, outcome: { kind: 'would-republish', changes, records: sent.length } };
  for (const event of lambdaEvents(sent)) {
    const failed = await invoke(publisher, event.Records);
    if (failed) return { record, outcome: { kind: 'publisher-failed', reason: failed } };
  }
  return { record, outcome: { kind: 'republished', changes, records: sent.length } };
}

function describe(messageId: string | undefined, outcome: MessageOutcome, record: InvocationRecord | undefined): string {
  const batch = record?.DDBStreamBatchInfo;
  const name = batch ? rangeName(batch) : '';
  switch (outcome.kind) {
    case 'republished':
      return `republished ${outcome.changes} changes of ${outcome.records} records from ${name}`;
    case 'would-republish':
      return `would republish ${outcome.changes} changes of ${outcome.records} records from ${name} (dry run)`;
    case 'not-an-invocation-record':
      return `message ${messageId} is not a Lambda invocation record (${outcome.error}); kept. Look at it (aws sqs receive-message), then delete it by hand.`;
    case 'expired':
      return (
        `cannot republish ${name}: ${batch!.batchSize} records ${timeWindow(batch!)} (${record!.requestContext.condition}); ` +
        `the stream no longer holds them (${outcome.reason}; ${outcome.found} found). Kept message ${messageId}. ` +
        'Their changes never reached the bus; the state table is correct: consumers must resync the entities of that window from it ' +
        '(docs/state-model.md, access patterns), then delete the message (docs/runbooks.md#runbook-publisher-dlq-not-empty).'
      );
    case 'publisher-failed':
      return (
        `the publisher failed on ${name}: ${outcome.reason}. Kept message ${messageId}; ` +
        'fix the cause (docs/runbooks.md#runbook-publisher-errors) and run this again. Stopping here.'
      );
  }
}

/** Redrives the publisher DLQ (see the module comment). Never deletes a message it did not republish. */
export async function redrivePublisherDlq(target: OncallTarget, options: PublisherRedriveOptions = {}): Promise<PublisherRedriveResult> {
  const publisher = publisherOf(target);
  const log = options.log ?? (() => undefined);
  const dryRun = options.dryRun === true;
  // Bounded by the depth at the start: a message kept (hidden while we work) is not looked at twice.
  const limit = options.maxMessages ?? (await publisherDlqDepth(target)).visible;
  const outcomes: { messageId?: string; outcome: MessageOutcome }[] = [];
  const seen = new Set<string>();
  const keep: Message[] = [];
  let deleted = 0;
  let stopped = false;
  try {
    while (outcomes.length < limit && !stopped) {
      const { Messages = [] } = await target.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: publisher.dlqUrl,
          MaxNumberOfMessages: Math.min(10, limit - outcomes.length),
          WaitTimeSeconds: 1,
          // Long enough to read a range and invoke the publisher (30 s timeout) a few times.
          VisibilityTimeout: 300,
        }),
      );
      if (Messages.length === 0) break;
      for (const message of Messages) {
        if (seen.has(message.MessageId ?? '')) continue;
        seen.add(message.MessageId ?? '');
        if (stopped) {
          keep.push(message);
          continue;
        }
        let handled: Awaited<ReturnType<typeof handleMessage>>;
        try {
          handled = await handleMessage(publisher, message, dryRun);
        } catch (error) {
          // An unexpected error (the stream throttled, access denied): kept, visible again below, then thrown.
          keep.push(message);
          throw error;
        }
        const { outcome, record } = handled;
        outcomes.push({ messageId: message.MessageId, outcome });
        log(describe(message.MessageId, outcome, record));
        if (outcome.kind === 'republished') {
          await target.sqs.send(new DeleteMessageCommand({ QueueUrl: publisher.dlqUrl, ReceiptHandle: message.ReceiptHandle }));
          deleted++;
        } else {
          keep.push(message);
          if (outcome.kind === 'publisher-failed') stopped = true;
        }
      }
    }
  } finally {
    // Kept messages become visible again now, not in 5 minutes: the DLQ alarm keeps seeing them
    // (no OK in between, then a second page) and the next run finds them.
    for (const message of keep) {
      try {
        await target.sqs.send(
          new ChangeMessageVisibilityCommand({ QueueUrl: publisher.dlqUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 0 }),
        );
      } catch (error) {
        log(
          `message ${message.MessageId} stays hidden until its visibility timeout ends (${error instanceof Error ? error.message : String(error)})`,
        );
      }
    }
  }
  return { outcomes, deleted, kept: keep.length, stopped };
}

export async function main(parsed: ParsedArgs): Promise<number> {
  const target = await resolveTarget(parsed);
  try {
    const log = (line: string) => process.stdout.write(`${line}\n`);
    const dryRun = parsed.flags['dry-run'] === true;
    const depth = await publisherDlqDepth(target);
    log(`${target.description}: publisher DLQ holds ~${depth.visible} message(s) (${depth.inFlight} in flight)`);
    if (depth.visible === 0) {
      log('nothing to redrive');
      return 0;
    }
    const result = await redrivePublisherDlq(target, { dryRun, log });
    const would = result.outcomes.filter((o) => o.outcome.kind === 'would-republish').length;
    log(
      dryRun
        ? `dry run: ${would} message(s) can be republished, ${result.outcomes.length - would} cannot; nothing invoked or deleted`
        : `${result.deleted} message(s) republished and deleted, ${result.kept} kept`,
    );
    const failed = result.outcomes.some((o) => o.outcome.kind !== 'republished' && o.outcome.kind !== 'would-republish');
    return failed || result.stopped ? 1 : 0;
  } finally {
    target.close();
  }
}

if (require.main === module) runMain(main, COMMAND);
