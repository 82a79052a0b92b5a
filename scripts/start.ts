/**
 * `npm start`: the whole product on one machine with nothing configured. Azurite for storage, the
 * offline AI emulators when no Azure OpenAI endpoint is configured, and the app under the devhost.
 *
 *   npm start -- [--port 7071] [--data .data] [--log quiet|info|verbose] [--store sqlite|memory] [--app DIR]
 *                [--auth none|azure]
 *
 * Everything the product keeps lives under --data: the devhost's SQLite store (runs, approvals, quotas) in
 * `<data>/devhost` and Azurite's blobs in `<data>/azurite`, so a restart - even after kill -9 - continues
 * where it stopped. --app runs another copy of the app, such as an unpacked deployment package
 * (npm run package). --auth azure runs it behind Azure's gates: function keys by authLevel and App Service
 * Authentication with the settings Bicep deploys (bicep/modules/functionapp.authsettings.json), the app
 * with AUTH_MODE=appservice.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDevHost } from '../devhost/src';
import { parseLogLevel } from '../devhost/src/log';
import { startEmulators } from '../emulators/src';
import { startAzurite } from './azurite';

const root = path.resolve(__dirname, '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '7071' },
      data: { type: 'string', default: path.join(root, '.data') },
      log: { type: 'string' },
      store: { type: 'string', default: 'sqlite' },
      app: { type: 'string', default: root },
      auth: { type: 'string', default: 'none' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(
      'Usage: npm start -- [--port 7071] [--data DIR] [--log quiet|info|verbose] [--store sqlite|memory] [--app DIR]\n' +
        '                    [--auth none|azure]\n\n' +
        '  --data   where runs, quotas (SQLite) and result blobs (Azurite) are kept; default .data\n' +
        '  --log    quiet: start-up, warnings, errors; info (default): plus one line per request and per run\n' +
        "           event; verbose: plus every invocation, including the app's own durable API calls\n" +
        '  --store  sqlite (default) keeps everything across restarts; memory forgets it when stopped\n' +
        '  --app    the app folder to run; default this project (for example an unpacked deployment package)\n' +
        '  --auth   none (default): every caller is local-user unless it sends App Service headers (AUTH_MODE=dev);\n' +
        "           azure: Azure's gates - function keys by authLevel, and App Service Authentication as Bicep\n" +
        '           deploys it (browsers sign in at /.auth/login/aad, API clients send a token); AUTH_MODE=appservice',
    );
    return;
  }
  if (values.store !== 'sqlite' && values.store !== 'memory') {
    throw new Error(`--store must be sqlite or memory, got "${values.store}".`);
  }
  if (values.auth !== 'none' && values.auth !== 'azure') {
    throw new Error(`--auth must be none or azure, got "${values.auth}".`);
  }
  const logLevel = parseLogLevel(
    values.log ?? process.env.DEVHOST_LOG,
    values.log !== undefined ? '--log' : 'DEVHOST_LOG',
  );
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be a port number (0-65535), got "${values.port}".`);
  }
  const dataDir = path.resolve(values.data);

  const settings = localSettings();
  // Like func start: variables already set in the environment win over the settings file.
  for (const [key, value] of Object.entries(settings.values)) process.env[key] ??= value;
  console.log(`Settings: ${settings.source}`);
  const azureAuth = values.auth === 'azure';
  if (azureAuth) {
    // The app trusts only App Service Authentication's headers, which the devhost now sets, as in Azure.
    process.env.AUTH_MODE = 'appservice';
    process.env.RUN_URL_SIGNING_KEY ||= runUrlSigningKey(values.store === 'sqlite' ? dataDir : undefined);
  }

  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };

  try {
    const storage = process.env.AzureWebJobsStorage ?? '';
    if (storage === '' || storage === 'UseDevelopmentStorage=true') {
      const azurite = await startAzurite({
        location: path.join(dataDir, 'azurite'),
        // --port 0 (tests, several products at once): Azurite takes free ports too.
        ...(port === 0 ? { blobPort: 0 } : {}),
        services: 'all',
        log: (line) => console.log(line),
      });
      stops.push(() => azurite.stop());
      process.env.AzureWebJobsStorage = azurite.connectionString;
      console.log(
        `Azurite (local Azure Storage) is running on ${azurite.blobEndpoint}; its data is in ${dataDir}/azurite.`,
      );
    }

    if (!process.env.AZURE_OPENAI_ENDPOINT) {
      // 30 ms a chunk, about what a deployed model streams, so the answer is seen growing.
      const emulators = await startEmulators({ port: 0, streamChunkDelayMs: 30 });
      stops.push(() => emulators.stop());
      process.env.AZURE_OPENAI_ENDPOINT = emulators.openaiEndpoint;
      process.env.AZURE_OPENAI_API_KEY = emulators.apiKey;
      if (!process.env.AZURE_AI_PROJECT_ENDPOINT) {
        process.env.AZURE_AI_PROJECT_ENDPOINT = emulators.projectEndpoint;
        process.env.BING_CONNECTION_ID = 'emulator-bing-connection';
      }
      console.log(
        `OFFLINE: answers come from the local AI emulator at ${emulators.url}, not from Azure. ` +
          'Set AZURE_OPENAI_ENDPOINT (and AZURE_AI_PROJECT_ENDPOINT, BING_CONNECTION_ID) in local.settings.json to use Azure.',
      );
    }

    const appDir = path.resolve(values.app);
    console.log(`App: ${appDir}`);
    const host = await startDevHost({
      appDir,
      port,
      logLevel,
      ...(values.store === 'sqlite' ? { dataDir: path.join(dataDir, 'devhost') } : {}),
      ...(azureAuth
        ? {
            azureAuth: {
              easyAuth: path.join(root, 'bicep', 'modules', 'functionapp.authsettings.json'),
              ...(values.store === 'sqlite' ? { keysFile: path.join(dataDir, 'devhost', 'keys.json') } : {}),
            },
          }
        : {}),
    });
    stops.push(() => host.stop());
    console.log(`Agent runs API: POST ${host.url}/api/agent-runs   (README.md has a curl walk-through)`);
    if (azureAuth) {
      console.log(
        `AUTH_MODE=appservice behind Azure's gates: open ${host.url}/api/agent-runs/<id>/approval in a browser to sign ` +
          `in; API clients send a token (POST ${host.url}/.auth/local/token) and the function key (README, "Trying Azure's gates locally").`,
      );
    }
  } catch (error) {
    await stopAll();
    throw error;
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping.`);
    void stopAll().then(() => process.exit(0));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

/**
 * A RUN_URL_SIGNING_KEY for --auth azure (AUTH_MODE=appservice refuses to start without one), kept under
 * --data so that per-run URLs handed out stay valid across a restart; new for each start without a folder.
 */
function runUrlSigningKey(dataDir: string | undefined): string {
  if (dataDir === undefined) return randomBytes(32).toString('base64url');
  const file = path.join(dataDir, 'run-url-signing-key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = randomBytes(32).toString('base64url');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** local.settings.json when there is one; the committed sample otherwise, so a fresh clone runs as is. */
function localSettings(): { values: Record<string, string>; source: string } {
  for (const name of ['local.settings.json', 'local.settings.sample.json']) {
    const file = path.join(root, name);
    if (!existsSync(file)) continue;
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> };
    const values = Object.fromEntries(
      Object.entries(parsed.Values ?? {}).flatMap(([k, v]) =>
        typeof v === 'string' && v !== '' ? [[k, v]] : [],
      ),
    );
    return { values, source: name === 'local.settings.json' ? name : `${name} (no local.settings.json yet)` };
  }
  return { values: {}, source: 'environment only' };
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
