import path from 'node:path';
import { startDevHostProcess } from '../../devhost/test/harness';
import { startEmulators } from '../../emulators/src';
import { startAzurite } from '../../scripts/azurite';

// Two levels up from this file, whether it runs from source (ts-jest) or compiled under dist/ (the bench).
const twoUp = path.resolve(__dirname, '..', '..');
export const projectRoot = path.basename(twoUp) === 'dist' ? path.dirname(twoUp) : twoUp;

export interface Product {
  /** http://127.0.0.1:PORT of the devhost running the app. */
  baseUrl: string;
  /** The AI emulators' base URL, for /_emulator/ faults and request logs. */
  emulatorUrl: string;
  blobConnectionString: string;
  /** The devhost's process id. */
  hostPid: number;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * The whole product on loopback, as `npm start` runs it but on free ports and in memory: Azurite (blob),
 * the AI emulators, and the built app under the devhost in a child process.
 */
export async function startProduct(
  /** `appDir`: another built copy of the app (a bench compares builds); this project by default. */
  options: { env?: Record<string, string>; agentRunDurationMs?: number; appDir?: string } = {},
): Promise<Product> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const azurite = await startAzurite({ blobPort: 0, services: 'blob' });
    stops.push(() => azurite.stop());
    const emulators = await startEmulators({
      port: 0,
      agentRunDurationMs: options.agentRunDurationMs ?? 300,
    });
    stops.push(() => emulators.stop());
    const host = await startDevHostProcess({
      appDir: options.appDir ?? projectRoot,
      env: {
        AzureWebJobsStorage: azurite.connectionString,
        AZURE_OPENAI_ENDPOINT: emulators.openaiEndpoint,
        AZURE_OPENAI_API_KEY: emulators.apiKey,
        AZURE_OPENAI_FAST_DEPLOYMENT: 'gpt-4o-mini',
        AZURE_OPENAI_STRONG_DEPLOYMENT: 'gpt-4o',
        AZURE_AI_PROJECT_ENDPOINT: emulators.projectEndpoint,
        BING_CONNECTION_ID: 'emulator-bing-connection',
        AUTH_MODE: 'dev',
        TASK_HUB_NAME: 'testhub',
        RUN_URL_SIGNING_KEY: 'test-only-run-url-signing-key-0123456789abcdef',
        ...options.env,
      },
    });
    stops.push(() => host.stop());
    return {
      baseUrl: host.baseUrl,
      emulatorUrl: emulators.url,
      blobConnectionString: azurite.connectionString,
      hostPid: host.pid,
      logs: () => host.logs(),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export interface JsonResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** A JSON request to the product; the body of the answer is parsed when it is JSON. */
export async function call<T = Record<string, unknown>>(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined
      ? {}
      : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

/** Polls until `done` holds for the fetched value, or fails with the last value seen. */
export async function pollUntil<T>(
  fetchValue: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  const giveUpAt = Date.now() + timeoutMs;
  let last: T = await fetchValue();
  while (!done(last)) {
    if (Date.now() > giveUpAt)
      throw new Error(`Timed out after ${timeoutMs} ms; last value: ${JSON.stringify(last, null, 2)}`);
    await new Promise((r) => setTimeout(r, 100));
    last = await fetchValue();
  }
  return last;
}

/** A principal header as App Service Authentication would send it. */
export function principalHeaders(
  userId: string,
  roles: string[] = [],
  name = `${userId}@example.com`,
  /** More claims, such as `preferred_username`, the sign-in name approver lists match. */
  claims: { typ: string; val: string }[] = [],
): Record<string, string> {
  const principal = {
    auth_typ: 'aad',
    name_typ: 'name',
    role_typ: 'roles',
    claims: [{ typ: 'name', val: name }, ...roles.map((val) => ({ typ: 'roles', val })), ...claims],
  };
  return {
    'x-ms-client-principal': Buffer.from(JSON.stringify(principal)).toString('base64'),
    'x-ms-client-principal-id': userId,
    'x-ms-client-principal-name': name,
  };
}
