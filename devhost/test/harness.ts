/**
 * Starts the built devhost (dist/devhost/src/cli.js) as a child process for tests. A child process is the
 * only dependable way: jest's module registry would keep the app's `@azure/functions` from seeing the
 * `@azure/functions-core` the host supplies. Run `npm run build` first (`npm test` does).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface DevHostProcess {
  /** `http://127.0.0.1:PORT`, without a trailing slash. */
  baseUrl: string;
  port: number;
  /** The host's process id, for measuring what it costs (bench/). */
  pid: number;
  /** Everything the host printed so far (stdout and stderr). */
  logs(): string;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s. Safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL at once, as a crash would; resolves when the process is gone. */
  kill(): Promise<void>;
  /** The folder of its SQLite store, when it has one. */
  dataDir?: string;
}

export interface DevHostProcessOptions {
  /** The Functions app folder to run. */
  appDir: string;
  /** Variables for the host and the app; they win over local.settings.json, as with func start. */
  env?: Record<string, string>;
  /** Extra CLI arguments, e.g. ['--log', 'verbose']. */
  args?: string[];
  /** How long to wait for the host to listen; 30 s unless given. */
  readyTimeoutMs?: number;
  /**
   * The SQLite store's folder, kept after the host stops (restart tests). Without it (and without `--store`
   * or `--data` in `args`) each host gets a fresh temporary folder, removed when it stops.
   */
  dataDir?: string;
}

// Two levels up from this file, whether it runs from source (ts-jest) or compiled under dist/ (the bench).
const twoUp = path.resolve(__dirname, '..', '..');
const projectRoot = path.basename(twoUp) === 'dist' ? path.dirname(twoUp) : twoUp;
export const devhostCli = path.join(projectRoot, 'dist', 'devhost', 'src', 'cli.js');

/** Spawns `node dist/devhost/src/cli.js start --app <appDir> --port 0` and resolves once it listens. */
export async function startDevHostProcess(options: DevHostProcessOptions): Promise<DevHostProcess> {
  if (!existsSync(devhostCli)) {
    throw new Error(`${devhostCli} does not exist: run "npm run build" before the tests.`);
  }
  const args = options.args ?? [];
  const ownsData = !options.dataDir && !args.includes('--store') && !args.includes('--data');
  const dataDir =
    options.dataDir ?? (ownsData ? mkdtempSync(path.join(tmpdir(), 'devhost-data-')) : undefined);
  const child = spawn(
    process.execPath,
    [
      devhostCli,
      'start',
      '--app',
      options.appDir,
      '--port',
      '0',
      ...(dataDir ? ['--data', dataDir] : []),
      ...args,
    ],
    {
      cwd: projectRoot,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString('utf8');
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const removeData = () => {
    if (ownsData && dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  const stop = once(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
    removeData();
  });
  const kill = once(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    removeData();
  });

  try {
    const baseUrl = await waitForReady(child, () => output, options.readyTimeoutMs ?? 30_000);
    return {
      baseUrl,
      port: Number(new URL(baseUrl).port),
      pid: child.pid ?? 0,
      logs: () => output,
      stop,
      kill,
      ...(dataDir ? { dataDir } : {}),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function waitForReady(child: ChildProcess, output: () => string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = /Listening on (http:\/\/[^\s]+)/.exec(output());
      if (match?.[1]) {
        cleanup();
        resolve(match[1]);
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(
        new Error(
          `The devhost exited before it was ready (code ${code}, signal ${signal}). Output:\n${output()}`,
        ),
      );
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`The devhost was not ready within ${timeoutMs} ms. Output:\n${output()}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= fn());
}
