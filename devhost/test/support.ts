import path from 'node:path';

export const fixture = (name: string): string => path.join(__dirname, 'fixtures', name);

export interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** One HTTP call; the body is parsed when it is JSON. */
export async function call<T = unknown>(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const hasBody = init.body !== undefined;
  const response = await fetch(url, {
    method: init.method ?? (hasBody ? 'POST' : 'GET'),
    headers: { ...(hasBody ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(hasBody ? { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) } : {}),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, body: body as T, text };
}

export interface Status {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
  createdTime: string;
  lastUpdatedTime: string;
  historyEvents?: Record<string, unknown>[];
}

/** Polls `fetchValue` every `intervalMs` until `done` holds; fails with the last value after `timeoutMs`. */
export async function pollUntil<T>(
  fetchValue: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 15_000,
  intervalMs = 20,
): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  let last = await fetchValue();
  while (!done(last)) {
    if (Date.now() > giveUpAt)
      throw new Error(`Timed out after ${timeoutMs} ms; last value: ${JSON.stringify(last, null, 2)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    last = await fetchValue();
  }
  return last;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until the host's output matches: log lines are written just after the answer goes out. */
export async function waitForLog(logs: () => string, pattern: RegExp, timeoutMs = 5000): Promise<void> {
  await pollUntil(
    async () => Promise.resolve(pattern.test(logs())),
    (found) => found,
    timeoutMs,
  ).catch(() => {
    throw new Error(`No log line matched ${String(pattern)}. Output:\n${logs()}`);
  });
}
