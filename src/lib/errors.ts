/**
 * Errors that say whether trying again can help.
 *
 * An error's class does not survive the trip from an activity to its orchestrator (it arrives as a plain
 * `Error` carrying the message), so outcomes an orchestrator must branch on travel as an
 * `ActivityOutcome` value, and only transient faults are thrown for Durable's retry policy to retry.
 */
export abstract class AppError extends Error {
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A transient fault (a 500, a dropped connection): the same call may succeed later. */
export class RetryableError extends AppError {
  readonly retryable = true;
}

/** Trying again gives the same answer: bad request, denied, not found, content filtered. */
export class PermanentError extends AppError {
  readonly retryable = false;
}

/** The service asked us to wait `retryAfterMs` before the next call. */
export class RateLimitedError extends AppError {
  readonly retryable = true;
  constructor(
    message: string,
    readonly retryAfterMs: number,
    options?: ErrorOptions,
  ) {
    super(message, 429, options);
  }
}

/** What an activity returns when the orchestrator, not the retry policy, decides what happens next. */
export type ActivityOutcome<T> =
  | { ok: true; value: T }
  | { ok: false; kind: 'permanent'; message: string; status?: number }
  | { ok: false; kind: 'rate-limited'; message: string; retryAfterMs: number };

/** Turns an error into the outcome an orchestrator branches on; transient faults are rethrown. */
export function toOutcome<T>(error: unknown): ActivityOutcome<T> {
  if (error instanceof RateLimitedError) {
    return { ok: false, kind: 'rate-limited', message: error.message, retryAfterMs: error.retryAfterMs };
  }
  if (error instanceof PermanentError) {
    return {
      ok: false,
      kind: 'permanent',
      message: error.message,
      ...(error.status === undefined ? {} : { status: error.status }),
    };
  }
  throw error;
}

/**
 * Reads a retry-after delay from response headers: `retry-after-ms` (Azure OpenAI), then `retry-after`
 * in seconds or as an HTTP date. Returns undefined when neither is usable.
 */
export function retryAfterMsFrom(
  headers: { get(name: string): string | null } | undefined,
  now: number,
): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms >= 0 && headers.get('retry-after-ms') !== null) return ms;
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
