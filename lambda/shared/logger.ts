/**
 * Structured JSON logs, one object per line, as CloudWatch Logs Insights reads them. Each line
 * carries the fields bound with `child()` (event id, type, room) so an event can be followed
 * through every stage. Never pass secrets or whole bodies.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  readonly service: string;
  readonly level?: LogLevel;
  /** Where lines go; defaults to stdout. Tests and the local runtime pass their own. */
  readonly sink?: (line: string) => void;
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
    const line: LogFields = { level, time: new Date().toISOString(), service: this.options.service, message, ...this.bound, ...fields };
    if (line.error instanceof Error) line.error = { name: line.error.name, message: line.error.message };
    this.sink(JSON.stringify(line));
  }
}

/** Reads a level name from the environment value given; anything else means `info`. */
export function parseLogLevel(value: string | undefined): LogLevel {
  return value === 'debug' || value === 'info' || value === 'warn' || value === 'error' ? value : 'info';
}
