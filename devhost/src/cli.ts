/**
 * `npm run devhost -- start [--app DIR] [--port 7071] [--host 127.0.0.1] [--log quiet|info|verbose]
 *   [--auth none|azure] ...` (see usage below)
 *
 * Runs a Functions app folder (as built) like `func start`, with the Durable Task extension's behaviour.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDevHost } from './index';
import { errorMessage, forConsole, parseLogLevel } from './log';

const usage = `Usage: devhost start [--app DIR] [--port 7071] [--host 127.0.0.1] [--log quiet|info|verbose]
                     [--store sqlite|memory] [--data DIR] [--auth none|azure [--keys FILE] [--easy-auth FILE]]

  --app   the Functions app folder (host.json, package.json "main"); default: the current folder
  --port  port to listen on; 0 picks a free one; default 7071
  --host  interface to listen on; default 127.0.0.1
  --log   quiet (start-up, warnings, errors), info (plus requests and invocations), verbose (plus engine details);
          default: DEVHOST_LOG or info
  --store sqlite (default): instances, histories, messages and entities survive a restart or a crash;
          memory: gone when the process ends (fast tests)
  --data  folder for the SQLite store (durable.sqlite); default: <app>/.devhost
  --auth  none (default): no key and no identity is checked, as with func start;
          azure: function keys by authLevel, the management API behind its system key, /admin behind the
          master key, and App Service Authentication from --easy-auth, as in Azure
  --keys  azure: the keys file (created with new keys when absent); default: <data>/keys.json with the
          SQLite store, new keys for this start with --store memory
  --easy-auth  azure: the App Service Authentication settings (authsettingsV2 properties as JSON); without
          it, only the keys are checked`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      app: { type: 'string' },
      port: { type: 'string', default: '7071' },
      host: { type: 'string', default: '127.0.0.1' },
      log: { type: 'string' },
      store: { type: 'string', default: 'sqlite' },
      data: { type: 'string' },
      auth: { type: 'string', default: 'none' },
      keys: { type: 'string' },
      'easy-auth': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const command = positionals[0] ?? 'start';
  if (command !== 'start') throw new Error(`Unknown command "${command}".\n\n${usage}`);
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port must be a port number (0-65535), got "${values.port}".`);
  }
  const logLevel = parseLogLevel(
    values.log ?? process.env.DEVHOST_LOG,
    values.log !== undefined ? '--log' : 'DEVHOST_LOG',
  );

  if (values.store !== 'sqlite' && values.store !== 'memory') {
    throw new Error(`--store must be sqlite or memory, got "${values.store}".`);
  }
  const appDir = path.resolve(values.app ?? process.cwd());
  const dataDir =
    values.store === 'sqlite' ? path.resolve(values.data ?? path.join(appDir, '.devhost')) : undefined;
  if (values.auth !== 'none' && values.auth !== 'azure') {
    throw new Error(`--auth must be none or azure, got "${values.auth}".`);
  }
  if (values.auth === 'none' && (values.keys !== undefined || values['easy-auth'] !== undefined)) {
    throw new Error('--keys and --easy-auth take effect with --auth azure; add it.');
  }
  const keysFile =
    values.keys !== undefined
      ? path.resolve(values.keys)
      : dataDir !== undefined
        ? path.join(dataDir, 'keys.json')
        : undefined;
  const easyAuth = values['easy-auth'] !== undefined ? path.resolve(values['easy-auth']) : undefined;

  process.on('unhandledRejection', (reason) => {
    console.error(forConsole(`ERROR: unhandled promise rejection in the app: ${errorMessage(reason)}`));
  });
  // Signals are handled from the start, so one that arrives while the app loads still stops it cleanly.
  let stopRequested: string | undefined;
  const control: { stop?: (signal: string) => void } = {};
  const onSignal = (signal: string) => {
    if (control.stop) control.stop(signal);
    else stopRequested ??= signal;
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));

  const host = await startDevHost({
    appDir,
    port,
    host: values.host,
    logLevel,
    ...(dataDir ? { dataDir } : {}),
    ...(values.auth === 'azure'
      ? { azureAuth: { ...(keysFile ? { keysFile } : {}), ...(easyAuth ? { easyAuth } : {}) } }
      : {}),
  });

  let stopping = false;
  control.stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping the host.`);
    void host.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(forConsole(`ERROR: stopping failed: ${errorMessage(error)}`));
        process.exit(1);
      },
    );
  };
  if (stopRequested) control.stop(stopRequested);
}

main().catch((error: unknown) => {
  console.error(forConsole(`ERROR: ${errorMessage(error)}`));
  process.exit(1);
});
