/**
 * What a failure may say once it leaves the process: its message, without the stack frames, file paths
 * and host details that errors carry. Used where a failure becomes durable state (an activity's failure
 * details, a run's output), because everything stored there is shown to the run's owner.
 */

/** Absolute file paths (POSIX or Windows), not the path part of a URL. */
const filePath = /(?<![\w:/.-])(?:[A-Za-z]:\\|\/)(?:[\w .@+-]+[\\/])+[\w.@+-]*/g;

/** The first line of the message, with file paths replaced by `<path>`, at most 500 characters. */
export function safeMessage(error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  // The host joins a task's message and its details with " \n "; frames start with "at ".
  const firstLine = raw.split(/\r?\n/)[0]?.trim() ?? '';
  const cleaned = firstLine.replace(filePath, '<path>');
  const text = cleaned === '' ? 'unknown error' : cleaned;
  return text.length > 500 ? `${text.slice(0, 500)}...` : text;
}

/** An error that carries only `safeMessage(error)`, its stack reduced to that one line. Deterministic. */
export function messageOnly(error: unknown): Error {
  const message = safeMessage(error);
  const safe = new Error(message);
  safe.name = error instanceof Error && /^[A-Za-z]{1,40}$/.test(error.name) ? error.name : 'Error';
  safe.stack = `${safe.name}: ${message}`;
  return safe;
}
