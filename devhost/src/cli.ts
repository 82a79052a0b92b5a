/**
 * `npm run devhost -- start [--app DIR] [--port 7071] [--host 127.0.0.1] [--log quiet|info|verbose]`
 *
 * Runs a Functions app folder (as built) like `func start`, with the Durable Task extension's behaviour.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDevHost } from './index';
import { errorMessage, forConsole, parseLogLevel } from './log';

const usage = `Usage: devhost start [--app DIR] [--port 7071] [--host 127.0.0.1] [--log quiet|info|verbose]
                     [--store sqlite|memory] [--data DIR]

  --app   the Functions app folder (host.json, package.json "main"); default: the current folder
  --port  port to listen on; 0 picks a free one; default 7071
  --host  interface to listen on; default 127.0.0.1
  --log   quiet (start-up, warnings, errors), info (plus requests and invocations), verbose (plus engine details);
          default: DEVHOST_LOG or info
  --store sqlite (default): instances, histories, messages and entities survive a restart or a crash;
          memory: gone when the process ends (fast tests)
  --data  folder for the SQLite store (durable.sqlite); default: <app>/.devhost`;

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
