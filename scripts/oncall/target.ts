/**
 * Which pipeline the on-call commands act on: the deployed stack (its CloudFormation outputs,
 * with the caller's AWS credentials) or `npm run local` (the endpoints of its ready line).
 *
 *   --stack <name> [--region <region>]   a deployed stack (default name LiveKitWebhooks)
 *   --local '<ready JSON>' | <file>      `npm run local`'s ready line, or a file holding it
 */
import { readFileSync } from 'node:fs';
import { parseArgs as nodeParseArgs } from 'node:util';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../lambda/process/document-client';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/local-aws';

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
  /**
   * The publisher's side (npm run publisher:redrive): undefined, with `publisherMissing` saying
   * why, for a stack deployed before its outputs existed or an older ready line.
   */
  readonly publisher?: PublisherTarget;
  readonly publisherMissing?: string;
  close(): void;
}

/** The publisher's on-failure queue and function, and the clients to read the stream and invoke it. */
export interface PublisherTarget {
  readonly dlqUrl: string;
  readonly functionName: string;
  readonly lambda: LambdaClient;
  readonly streams: DynamoDBStreamsClient;
}

/** The fields of `npm run local`'s ready line the tools need. */
export interface LocalReady {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  readonly tableName: string;
  readonly queueUrl: string;
  readonly dlqUrl: string;
  /** The publisher's DLQ (the stream ranges it gave up on), its function's name, and the endpoint serving Lambda's Invoke API for it. */
  readonly publisherDlqUrl?: string;
  readonly publisherFunctionName?: string;
  readonly lambdaEndpoint?: string;
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
  const publisherFields = ['publisherDlqUrl', 'publisherFunctionName', 'lambdaEndpoint'] as const;
  const absent = publisherFields.filter((field) => typeof ready[field] !== 'string' || ready[field] === '');
  const publisher: PublisherTarget | undefined =
    absent.length === 0
      ? {
          dlqUrl: ready.publisherDlqUrl!,
          functionName: ready.publisherFunctionName!,
          lambda: new LambdaClient({ endpoint: ready.lambdaEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
          // DynamoDB Local serves the Streams API on its own port.
          streams: new DynamoDBStreamsClient({ endpoint: ready.dynamodbEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
        }
      : undefined;
  return {
    kind: 'local',
    description: `npm run local (queue ${ready.queueUrl}, table ${ready.tableName})`,
    sqs,
    ddb: createDocumentClient(dynamodb),
    queueUrl: ready.queueUrl,
    dlqUrl: ready.dlqUrl,
    tableName: ready.tableName,
    publisher,
    publisherMissing: publisher
      ? undefined
      : `the local ready line has no ${absent.map((f) => `"${f}"`).join(', ')} (from an npm run local older than the publisher DLQ; restart it)`,
    close: () => {
      sqs.destroy();
      dynamodb.destroy();
      publisher?.lambda.destroy();
      publisher?.streams.destroy();
    },
  };
}

/** Reads `--local`'s value: the ready JSON itself, or a file whose last `{"ready":true...}` line is it. */
export function parseLocalReady(value: string): LocalReady {
  let text: string;
  try {
    text = value.trim().startsWith('{') ? value : readFileSync(value, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new UsageError(
      `--local: cannot read ${JSON.stringify(value)} (${reason}); give npm run local's ready line (JSON) or a file holding it`,
    );
  }
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'));
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
  const missingOutputs = ['PublisherDeadLetterQueueUrl', 'PublisherFunctionName'].filter((key) => !outputs[key]);
  const publisher: PublisherTarget | undefined =
    missingOutputs.length === 0
      ? {
          dlqUrl: outputs.PublisherDeadLetterQueueUrl,
          functionName: outputs.PublisherFunctionName,
          lambda: new LambdaClient(region ? { region } : {}),
          streams: new DynamoDBStreamsClient(region ? { region } : {}),
        }
      : undefined;
  return {
    kind: 'aws',
    description: `stack ${stackName}${region ? ` in ${region}` : ''}`,
    sqs,
    ddb: createDocumentClient(dynamodb),
    queueUrl: need('QueueUrl'),
    dlqUrl: need('DeadLetterQueueUrl'),
    tableName: need('StateTableName'),
    events:
      outputs.EventBusArn && outputs.EventArchiveArn
        ? { client: events, busArn: outputs.EventBusArn, archiveArn: outputs.EventArchiveArn }
        : undefined,
    publisher,
    publisherMissing: publisher
      ? undefined
      : `stack ${stackName} has no output ${missingOutputs.join(' or ')} (deployed from a version before them? run cdk deploy)`,
    close: () => {
      sqs.destroy();
      dynamodb.destroy();
      events.destroy();
      publisher?.lambda.destroy();
      publisher?.streams.destroy();
    },
  };
}

export type Target = { readonly local: LocalReady } | { readonly stack: string; readonly region?: string };

export interface ParsedArgs {
  readonly target: Target;
  /** Positional arguments the command itself handles. */
  readonly rest: string[];
  /** The command's own options, as parsed (strings and booleans). */
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  /** `--help` / `-h` was given: print `helpText` and do nothing else. */
  readonly help: boolean;
}

/** One option of a command, for node:util's parseArgs and the `--help` text. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** For `--help`: the value's placeholder (string options) and what it does. */
  readonly value?: string;
  readonly description: string;
}

/** The target options every on-call command takes. */
export const TARGET_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  stack: {
    type: 'string',
    value: '<name>',
    description: 'a deployed stack (default LiveKitWebhooks); uses your AWS credentials and its outputs',
  },
  region: { type: 'string', value: '<region>', description: "the stack's region (default: your AWS configuration)" },
  local: {
    type: 'string',
    value: "'<ready JSON>'|<file>",
    description: "npm run local's ready line, or a file holding it (e.g. npm run local | tee local.out)",
  },
  help: { type: 'boolean', short: 'h', description: 'print this help and exit' },
};

/** What a command declares: its usage line, a paragraph on what it does, and its own options. */
export interface CommandSpec {
  readonly usage: string;
  readonly description: string;
  readonly options?: Readonly<Record<string, OptionSpec>>;
  /** Whether positional arguments are accepted (default: no). */
  readonly positionals?: boolean;
}

/** The `--help` text: usage, what it does, every option. */
export function helpText(spec: CommandSpec): string {
  const options = { ...(spec.options ?? {}), ...TARGET_OPTIONS };
  const rows = Object.entries(options).map(([name, option]) => [
    `${option.short ? `-${option.short}, ` : ''}--${name}${option.value ? ` ${option.value}` : ''}`,
    option.description,
  ]);
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return `${spec.usage}\n\n${spec.description}\n\noptions:\n${rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`).join('\n')}\n`;
}

/**
 * Parses argv with node:util's parseArgs, strictly: an unknown option (`--stak prod`), an option
 * without its value, a value given to a boolean, or an unexpected positional is a UsageError, never
 * a silent fallback to the default stack.
 */
export function parseArgs(argv: readonly string[], spec: CommandSpec = { usage: '', description: '' }): ParsedArgs {
  const options = { ...(spec.options ?? {}), ...TARGET_OPTIONS };
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = nodeParseArgs({
      args: [...argv],
      options: Object.fromEntries(
        Object.entries(options).map(([name, o]) => [name, { type: o.type, ...(o.short ? { short: o.short } : {}) }]),
      ),
      strict: true,
      allowPositionals: spec.positionals === true,
    });
  } catch (error) {
    // ERR_PARSE_ARGS_UNKNOWN_OPTION, _INVALID_OPTION_VALUE, _UNEXPECTED_POSITIONAL: say it plainly.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const help = values.help === true;
  if (help) return { target: { stack: DEFAULT_STACK }, rest: positionals, flags: values, help };
  if (values.local !== undefined && values.stack !== undefined) throw new UsageError('give either --local or --stack, not both');
  if (values.local !== undefined && values.region !== undefined) throw new UsageError('--region applies to --stack only');
  const target: Target =
    typeof values.local === 'string'
      ? { local: parseLocalReady(values.local) }
      : {
          stack: typeof values.stack === 'string' ? values.stack : DEFAULT_STACK,
          ...(typeof values.region === 'string' ? { region: values.region } : {}),
        };
  return { target, rest: positionals, flags: values, help };
}

export const DEFAULT_STACK = 'LiveKitWebhooks';

export async function resolveTarget(parsed: ParsedArgs): Promise<OncallTarget> {
  return 'local' in parsed.target ? localTarget(parsed.target.local) : stackTarget(parsed.target.stack, parsed.target.region);
}

/** ARN of a queue, for APIs that want ARNs (message move tasks). */
export async function queueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  if (!Attributes?.QueueArn) throw new Error(`no ARN for ${queueUrl}`);
  return Attributes.QueueArn;
}

/**
 * Runs a command: parses argv against its spec (strict), prints the help and exits 0 on `--help`;
 * usage errors exit 2 with the message and the usage line; a target that cannot be reached exits
 * 1 with its message; anything else exits 1 with the stack.
 */
/** The address of a refused connection, anywhere in an error's cause chain (the SDK wraps it). */
function connectionRefused(error: unknown): string | undefined {
  for (
    let e = error as (NodeJS.ErrnoException & { address?: string; port?: number; cause?: unknown }) | undefined;
    e;
    e = e.cause as typeof e
  ) {
    if (e.code === 'ECONNREFUSED') return e.address !== undefined ? `${e.address}:${e.port}` : 'the local endpoints';
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) {
      const found = connectionRefused(inner);
      if (found) return found;
    }
  }
  return undefined;
}

export function runMain(
  main: (args: ParsedArgs) => Promise<number>,
  spec: CommandSpec,
  argv: readonly string[] = process.argv.slice(2),
): void {
  Promise.resolve()
    .then(() => parseArgs(argv, spec))
    .then((args) => {
      if (args.help) {
        process.stdout.write(helpText(spec));
        return 0;
      }
      return main(args);
    })
    .then((code) => process.exit(code))
    .catch((error) => {
      if (error instanceof UsageError) {
        process.stderr.write(`${error.message}\n\n${spec.usage}\n(--help for every option)\n`);
        process.exit(2);
      }
      if (error instanceof TargetError) {
        process.stderr.write(`${error.message}\n`);
        process.exit(1);
      }
      // A ready line of a local pipeline that has stopped: its engines' ports answer nothing.
      const refused = connectionRefused(error);
      if (refused) {
        process.stderr.write(`nothing answers at ${refused}: is the npm run local that printed this ready line still running?\n`);
        process.exit(1);
      }
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    });
}
