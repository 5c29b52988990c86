/**
 * Structured JSON logs, one object per line, as CloudWatch Logs Insights reads them. Each line
 * carries the fields bound with `child()` (event id, type, room) so an event can be followed
 * through every stage, and the Lambda request id of the invocation it belongs to (bound by
 * `withRequestId` at the handler's entry), so every line of one invocation is found with one
 * filter. Errors are written with their name, message and stack (never their cause, see
 * serializeError). Never pass secrets or whole bodies.
 *
 * In a function, every line also names its pipeline (`pipeline`, from PIPELINE_NAME): the log
 * metric filters take their `Pipeline` dimension from that field, so a line without it would count
 * for no pipeline's alarm.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { PIPELINE_LOG_FIELD } from '../../contracts/metrics';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  readonly service: string;
  /**
   * The pipeline's name (the function's PIPELINE_NAME), written as `pipeline` on every line.
   * Tests and scripts that feed no metric filter leave it out.
   */
  readonly pipeline?: string;
  readonly level?: LogLevel;
  /** Where lines go; defaults to stdout. Tests and the local runtime pass their own. */
  readonly sink?: (line: string) => void;
}

/**
 * The invocation a line belongs to. Async-local, not a global: the local runtime runs several
 * invocations of a handler at once in one process, and each line must name its own.
 */
const invocation = new AsyncLocalStorage<{ readonly requestId: string }>();

/** The Lambda context fields used here (a subset of aws-lambda's `Context`). */
export interface InvocationContext {
  readonly awsRequestId?: string;
}

/**
 * Wraps a handler so every log line written during an invocation carries `requestId` (the
 * context's `awsRequestId`). Without a context (tests, scripts) lines have no request id.
 */
export function withRequestId<E, R>(handler: (event: E) => Promise<R>): (event: E, context?: InvocationContext) => Promise<R> {
  return (event, context) => {
    const requestId = context?.awsRequestId;
    return requestId ? invocation.run({ requestId }, () => handler(event)) : handler(event);
  };
}

/** The request id of the invocation running now, if any. */
export function currentRequestId(): string | undefined {
  return invocation.getStore()?.requestId;
}

/**
 * An error as a plain object for JSON: name, message, stack, and an AWS SDK error's code and HTTP
 * status. Not its `cause`: code that wraps an error to keep its text out of the logs (the key
 * store wraps a secret that failed to parse, whose parse error quotes the secret) keeps it out.
 */
export function serializeError(error: Error): LogFields {
  const fields: LogFields = { name: error.name, message: error.message };
  if (error.stack) fields.stack = error.stack;
  // AWS SDK errors carry the HTTP status and the service's error code; keep what explains a failure.
  const extra = error as Error & { code?: unknown; $metadata?: { httpStatusCode?: unknown } };
  if (typeof extra.code === 'string' || typeof extra.code === 'number') fields.code = extra.code;
  if (extra.$metadata?.httpStatusCode !== undefined) fields.httpStatusCode = extra.$metadata.httpStatusCode;
  return fields;
}

export class Logger {
  private readonly threshold: number;
  private readonly sink: (line: string) => void;

  constructor(
    private readonly options: LoggerOptions,
    private readonly bound: LogFields = {},
  ) {
    this.threshold = RANK[options.level ?? 'info'];
    this.sink = options.sink ?? ((line) => process.stdout.write(line + '\n'));
  }

  child(fields: LogFields): Logger {
    return new Logger(this.options, { ...this.bound, ...fields });
  }

  debug(message: string, fields?: LogFields): void {
    this.write('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.write('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.write('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.write('error', message, fields);
  }

  private write(level: LogLevel, message: string, fields?: LogFields): void {
    if (RANK[level] < this.threshold) return;
    const requestId = currentRequestId();
    const line: LogFields = {
      level,
      time: new Date().toISOString(),
      service: this.options.service,
      ...(this.options.pipeline !== undefined ? { [PIPELINE_LOG_FIELD]: this.options.pipeline } : {}),
      message,
      ...(requestId ? { requestId } : {}),
      ...this.bound,
      ...fields,
    };
    // Any Error among the fields (`error`, `cause`, ...): JSON.stringify would write `{}`.
    for (const [key, value] of Object.entries(line)) if (value instanceof Error) line[key] = serializeError(value);
    this.sink(JSON.stringify(line));
  }
}

/** Reads a level name from the environment value given; anything else means `info`. */
export function parseLogLevel(value: string | undefined): LogLevel {
  return value === 'debug' || value === 'info' || value === 'warn' || value === 'error' ? value : 'info';
}
