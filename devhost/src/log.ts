/** How much the host prints: `quiet` keeps start-up, warnings and errors; `verbose` adds engine details. */
export type LogLevel = 'quiet' | 'info' | 'verbose';

export function parseLogLevel(value: string | undefined, source: string): LogLevel {
  if (value === undefined || value === '') return 'info';
  if (value === 'quiet' || value === 'info' || value === 'verbose') return value;
  throw new Error(`${source} must be quiet, info or verbose, got "${value}".`);
}

/** The host's log: one sink, lines grouped by what they are about so each kind can be turned down. */
export class HostLog {
  constructor(
    private readonly sink: (line: string) => void,
    readonly level: LogLevel,
  ) {}

  /** Start-up and shutdown lines: always shown. */
  info(line: string): void {
    this.sink(line);
  }

  /** One line per HTTP request. */
  request(line: string): void {
    if (this.level !== 'quiet') this.sink(line);
  }

  /** Milestones of an orchestration: a stage it reports, its end. One line each, at info and verbose. */
  event(line: string): void {
    if (this.level !== 'quiet') this.sink(line);
  }

  /** Executing/Executed lines. */
  invocation(line: string): void {
    if (this.level !== 'quiet') this.sink(line);
  }

  /** What the app itself logs through context.log and friends. */
  app(level: string, line: string): void {
    if (this.level === 'quiet' && !isWarningOrWorse(level)) return;
    if (level === 'trace' || level === 'debug') {
      if (this.level === 'verbose') this.sink(line);
      return;
    }
    this.sink(line);
  }

  debug(line: string): void {
    if (this.level === 'verbose') this.sink(line);
  }

  warn(line: string): void {
    this.sink(`WARNING: ${line}`);
  }

  error(line: string): void {
    this.sink(`ERROR: ${line}`);
  }
}

function isWarningOrWorse(level: string): boolean {
  return level === 'warning' || level === 'error' || level === 'critical';
}

/** The message and the stack (when there is one) of anything thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.stack ?? `${error.name}: ${error.message}`;
  return typeof error === 'string' ? error : JSON.stringify(error);
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}
