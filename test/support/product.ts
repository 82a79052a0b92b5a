import path from 'node:path';
import { startDevHostProcess } from '../../devhost/test/harness';
import { call as devhostCall, pollUntil as devhostPollUntil, type Answer } from '../../devhost/test/support';
import { startOfflineBackends } from '../../scripts/offlineBackends';

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
  options: {
    env?: Record<string, string>;
    agentRunDurationMs?: number;
    /** Another built copy of the app (a bench compares builds); this project by default. */
    appDir?: string;
    /**
     * Azure's gates, as `npm start -- --auth azure`: function keys from `keysFile` and App Service
     * Authentication as Bicep deploys it, the app with AUTH_MODE=appservice.
     */
    azureAuth?: { keysFile: string };
  } = {},
): Promise<Product> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const backends = await startOfflineBackends({ agentRunDurationMs: options.agentRunDurationMs ?? 300 });
    stops.push(() => backends.stop());
    const host = await startDevHostProcess({
      appDir: options.appDir ?? projectRoot,
      env: {
        ...backends.appSettings,
        AUTH_MODE: options.azureAuth ? 'appservice' : 'dev',
        TASK_HUB_NAME: 'testhub',
        RUN_URL_SIGNING_KEY: 'test-only-run-url-signing-key-0123456789abcdef',
        ...options.env,
      },
      ...(options.azureAuth
        ? {
            args: [
              '--auth',
              'azure',
              '--keys',
              options.azureAuth.keysFile,
              '--easy-auth',
              path.join(projectRoot, 'bicep', 'modules', 'functionapp.authsettings.json'),
            ],
          }
        : {}),
    });
    stops.push(() => host.stop());
    return {
      baseUrl: host.baseUrl,
      emulatorUrl: backends.emulators.url,
      blobConnectionString: backends.azurite.connectionString,
      hostPid: host.pid,
      logs: () => host.logs(),
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** An answer of the product: status, headers, and the body parsed when it is JSON. */
export type JsonResponse<T = Record<string, unknown>> = Omit<Answer<T>, 'text'>;

/** A JSON request to the product; the body of the answer is parsed when it is JSON. */
export function call<T = Record<string, unknown>>(
  url: string,
  init: Parameters<typeof devhostCall>[1] = {},
): Promise<JsonResponse<T>> {
  return devhostCall<T>(url, init);
}

/** Starts a run through the product as the caller the headers name, and gives its id; anything but 202 throws. */
export async function startRun(
  product: Product,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<string> {
  const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, { body, headers });
  if (started.status !== 202) throw new Error(`start answered ${started.status}`);
  return started.body.runId;
}

/**
 * Polls until `done` holds for the fetched value, or fails with the last value seen. Slower and more
 * patient than the devhost tests' polling: each fetch goes through the whole product.
 */
export function pollUntil<T>(
  fetchValue: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
): Promise<T> {
  return devhostPollUntil(fetchValue, done, timeoutMs, 100);
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
