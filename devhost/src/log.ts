/** How much the host prints: `quiet` keeps start-up, warnings and errors; `verbose` adds engine details. */
export type LogLevel = 'quiet' | 'info' | 'verbose';

export function parseLogLevel(value: string | undefined, source: string): LogLevel {
  if (value === undefined || value === '') return 'info';
  if (value === 'quiet' || value === 'info' || value === 'verbose') return value;
  throw new Error(`${source} must be quiet, info or verbose, got "${value}".`);
}

/**
 * Control characters, C1 controls, line and paragraph separators and invisible formatting characters
 * (bidi overrides, zero-width characters), except the newline and tab that forConsole handles.
 */
const unprintable = /(?![\n\t])[\p{Cc}\p{Zl}\p{Zp}\p{Cf}]/gu;

/**
 * One log record as the console may show it. Apps log what their users and models wrote, and a
 * terminal obeys what it is sent: an escape sequence (`ESC ] 0 ; title BEL`) would retitle or repaint
 * it, a carriage return would overwrite the line. So every control and invisible formatting character
 * is printed as an escape (`\x1b`, `\r`, `\u{202e}`), and the lines after the first of a record (a
 * stack, or a line break in logged text) start with `  | `, so a line break can never forge a record of
 * its own (`[Functions.startAgentRun] ...` at the start of a line).
 */
export function forConsole(record: string): string {
  const escaped = record.replace(/\r\n/g, '\n').replace(unprintable, (c) => {
    const code = c.codePointAt(0) ?? 0;
    if (c === '\r') return '\\r';
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
  return escaped.split('\n').join('\n  | ');
}

/** The host's log: one sink, lines grouped by what they are about so each kind can be turned down. */
export class HostLog {
  private readonly sink: (line: string) => void;

  /** `sink` gets every record made fit for a console (see forConsole). */
  constructor(
    sink: (line: string) => void,
    readonly level: LogLevel,
  ) {
    this.sink = (line) => sink(forConsole(line));
  }

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
