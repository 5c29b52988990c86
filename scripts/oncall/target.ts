/**
 * Which pipeline the on-call commands act on: the deployed stack (its CloudFormation outputs,
 * with the caller's AWS credentials) or `npm run local` (the endpoints of its ready line).
 *
 *   --stack <name> [--region <region>]   a deployed stack (default name LiveKitWebhooks)
 *   --local '<ready JSON>' | <file>      `npm run local`'s ready line, or a file holding it
 */
import { readFileSync } from 'node:fs';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../lambda/process/document-client';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/engines/dynamodb-local';

export interface OncallTarget {
  readonly kind: 'aws' | 'local';
  /** Human description, printed by every command so nobody acts on the wrong pipeline. */
  readonly description: string;
  readonly sqs: SQSClient;
  readonly ddb: DynamoDBDocumentClient;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly tableName: string;
  /** Deployed only: the EventBridge side (no bus or archive runs locally). */
  readonly events?: { readonly client: EventBridgeClient; readonly busArn: string; readonly archiveArn: string };
  close(): void;
}

/** The fields of `npm run local`'s ready line the tools need. */
export interface LocalReady {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly tableName: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
}

/** The target could not be reached (no credentials, no such stack): said plainly, without a stack trace. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function localTarget(ready: LocalReady): OncallTarget {
  for (const field of ['dynamodbEndpoint', 'sqsEndpoint', 'tableName', 'queueUrl', 'dlqUrl'] as const) {
    if (typeof ready[field] !== 'string' || ready[field] === '') throw new UsageError(`the local ready line has no "${field}"`);
  }
  // Static dummy credentials: the local engines accept any, and real ones must never be picked up.
  const sqs = new SQSClient({ endpoint: ready.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const dynamodb = new DynamoDBClient({ endpoint: ready.dynamodbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  return {
    kind: 'local',
    description: `npm run local (queue ${ready.queueUrl}, table ${ready.tableName})`,
    sqs,
    ddb: createDocumentClient(dynamodb),
    queueUrl: ready.queueUrl,
    dlqUrl: ready.dlqUrl,
    tableName: ready.tableName,
    close: () => {
      sqs.destroy();
      dynamodb.destroy();
    },
  };
}

/** Reads `--local`'s value: the ready JSON itself, or a file whose last `{"ready":true...}` line is it. */
export function parseLocalReady(value: string): LocalReady {
  const text = value.trim().startsWith('{') ? value : readFileSync(value, 'utf8');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  const line = [...lines].reverse().find((l) => l.includes('"ready":true')) ?? (lines.length === 1 ? lines[0] : undefined);
  if (!line) throw new UsageError(`no {"ready":true,...} line in ${value}`);
  try {
    return JSON.parse(line) as LocalReady;
  } catch {
    throw new UsageError(`--local must be npm run local's ready line (JSON) or a file holding it, got ${value.slice(0, 80)}`);
  }
}

export async function stackTarget(stackName: string, region?: string): Promise<OncallTarget> {
  const cloudformation = new CloudFormationClient(region ? { region } : {});
  let outputs: Record<string, string>;
  try {
    const { Stacks } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = Object.fromEntries((Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  } catch (error) {
    throw new TargetError(
      `could not read the outputs of stack ${stackName}: ${error instanceof Error ? error.message : String(error)}. ` +
        'Use AWS credentials and a region for the account it is deployed in (AWS_PROFILE, AWS_REGION or --region), or --local for npm run local.',
    );
  } finally {
    cloudformation.destroy();
  }
  const need = (key: string) => {
    const value = outputs[key];
    if (!value) throw new TargetError(`stack ${stackName} has no output ${key} (deployed from an older version? run cdk deploy)`);
    return value;
  };
  const sqs = new SQSClient(region ? { region } : {});
  const dynamodb = new DynamoDBClient(region ? { region } : {});
  const events = new EventBridgeClient(region ? { region } : {});
  return {
    kind: 'aws',
    description: `stack ${stackName}${region ? ` in ${region}` : ''}`,
    sqs,
    ddb: createDocumentClient(dynamodb),
    queueUrl: need('QueueUrl'),
    dlqUrl: need('DeadLetterQueueUrl'),
    tableName: need('StateTableName'),
    events: outputs.EventBusArn && outputs.EventArchiveArn ? { client: events, busArn: outputs.EventBusArn, archiveArn: outputs.EventArchiveArn } : undefined,
    close: () => {
      sqs.destroy();
      dynamodb.destroy();
      events.destroy();
    },
  };
}

export interface ParsedArgs {
  readonly target: { readonly local: LocalReady } | { readonly stack: string; readonly region?: string };
  /** Positional arguments and flags the command itself handles. */
  readonly rest: string[];
  readonly flags: Readonly<Record<string, string | true>>;
}

/** Splits argv into the target, `--flag value` / `--flag` pairs, and positionals. */
export function parseArgs(argv: readonly string[], booleanFlags: readonly string[] = []): ParsedArgs {
  const flags: Record<string, string | true> = {};
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      rest.push(arg);
      continue;
    }
    const name = arg.slice(2);
    if (booleanFlags.includes(name)) {
      flags[name] = true;
      continue;
    }
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
    flags[name] = value;
    i++;
  }
  if (flags.local !== undefined && flags.stack !== undefined) throw new UsageError('give either --local or --stack, not both');
  const target =
    typeof flags.local === 'string'
      ? { local: parseLocalReady(flags.local) }
      : { stack: typeof flags.stack === 'string' ? flags.stack : 'LiveKitWebhooks', ...(typeof flags.region === 'string' ? { region: flags.region } : {}) };
  return { target, rest, flags };
}

export async function resolveTarget(parsed: ParsedArgs): Promise<OncallTarget> {
  return 'local' in parsed.target ? localTarget(parsed.target.local) : stackTarget(parsed.target.stack, parsed.target.region);
}

/** ARN of a queue, for APIs that want ARNs (message move tasks). */
export async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  if (!Attributes?.QueueArn) throw new Error(`no ARN for ${queueUrl}`);
  return Attributes.QueueArn;
}

/** Runs a command's main: usage errors exit 2 with the message, anything else exits 1 with the stack. */
export function runMain(main: () => Promise<number>, usage: string): void {
  main()
    .then((code) => process.exit(code))
    .catch((error) => {
      if (error instanceof UsageError) {
        process.stderr.write(`${error.message}\n\n${usage}\n`);
        process.exit(2);
      }
      if (error instanceof TargetError) {
        process.stderr.write(`${error.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
}
