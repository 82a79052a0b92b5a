import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import path from 'node:path';

/**
 * Azurite's well-known development account. It is public (documented by Microsoft for the emulator)
 * and only ever works against a local Azurite.
 */
export const devAccount = {
  name: 'devstoreaccount1',
  key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
};

export interface Azurite {
  blobEndpoint: string;
  /** A connection string for this Azurite; UseDevelopmentStorage=true when it runs on the standard ports. */
  connectionString: string;
  /** Always true: an Azurite this process did not start is never used (kept for callers that print it). */
  startedHere: boolean;
  /** The process id of Azurite (tests kill it to measure what survives). */
  pid: number;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Where Azurite keeps its data; omitted means in memory. */
  location?: string;
  /** 0 picks free ports (tests); the standard ports are 10000-10002, used when free. */
  blobPort?: number;
  /** Blob only (tests), or blob, queue and table as the Functions host expects (npm start). */
  services?: 'blob' | 'all';
  log?: (line: string) => void;
}

const standardPorts = { blob: 10000, queue: 10001, table: 10002 };

/**
 * Runs Azurite inside a watchdog: it reads its stdin, a pipe from this process, and asks Azurite to shut
 * down (SIGTERM, so Azurite saves its metadata) when the pipe ends or this process is gone, however this
 * process ended - kill -9 included. `node -e` keeps it one file, whether this module runs compiled or
 * under ts-jest. argv: the Azurite entry file, then its arguments.
 */
const watchdog = `
const [bin, ...args] = process.argv.slice(1);
const parent = Number(process.env.AZURITE_PARENT_PID);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  process.kill(process.pid, 'SIGTERM');
};
// Azurite closes its servers on SIGTERM; the pipe must not keep the process alive after that.
process.on('SIGTERM', () => {
  stopping = true;
  process.stdin.destroy();
  setTimeout(() => process.exit(0), 5000).unref();
});
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);
setInterval(() => { try { process.kill(parent, 0); } catch { stop(); } }, 500).unref();
process.argv = [process.argv[0], bin, ...args];
require(bin);
`;

/**
 * Starts Azurite from node_modules on 127.0.0.1, as a child that cannot outlive this process, and resolves
 * once it accepts connections. It never reuses an Azurite that is already running: with `--data` elsewhere
 * that one would hold other data. When the standard ports are taken, it listens on free ones instead.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const services = options.services ?? 'blob';
  const requested = options.blobPort ?? standardPorts.blob;
  let ports = { blob: requested, queue: standardPorts.queue, table: standardPorts.table };
  if (requested === 0) {
    ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
  } else if (requested === standardPorts.blob) {
    const busy = [];
    for (const port of services === 'all' ? Object.values(standardPorts) : [standardPorts.blob]) {
      if (await isListening(port)) busy.push(port);
    }
    if (busy.length > 0) {
      ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
      options.log?.(
        `Port ${busy.join(', ')} is in use (another Azurite?). It is not used: this Azurite listens on ` +
          `blob ${ports.blob}${services === 'all' ? `, queue ${ports.queue}, table ${ports.table}` : ''}.`,
      );
    }
  }
  const bin = require.resolve(
    services === 'all' ? 'azurite/dist/src/azurite.js' : 'azurite/dist/src/blob/main.js',
  );
  const args = [
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(ports.blob),
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
  ];
  if (services === 'all') {
    args.push(
      '--queueHost',
      '127.0.0.1',
      '--queuePort',
      String(ports.queue),
      '--tableHost',
      '127.0.0.1',
      '--tablePort',
      String(ports.table),
      '--disableTelemetry',
    );
  }
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', path.resolve(options.location));
  } else {
    args.push('--inMemoryPersistence');
  }
  const child = spawn(process.execPath, ['-e', watchdog, bin, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, AZURITE_PARENT_PID: String(process.pid) },
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  // The pipe exists only to end when this process does; a write error on it means the child is gone.
  child.stdin?.on('error', () => undefined);
  await waitForPort(ports.blob, child, () => output);

  const blobEndpoint = `http://127.0.0.1:${ports.blob}/${devAccount.name}`;
  const standard =
    services === 'all' &&
    ports.blob === standardPorts.blob &&
    ports.queue === standardPorts.queue &&
    ports.table === standardPorts.table;
  let connectionString = `DefaultEndpointsProtocol=http;AccountName=${devAccount.name};AccountKey=${devAccount.key};BlobEndpoint=${blobEndpoint};`;
  if (services === 'all' && !standard) {
    connectionString +=
      `QueueEndpoint=http://127.0.0.1:${ports.queue}/${devAccount.name};` +
      `TableEndpoint=http://127.0.0.1:${ports.table}/${devAccount.name};`;
  }
  if (standard) connectionString = 'UseDevelopmentStorage=true';
  return {
    blobEndpoint,
    connectionString,
    startedHere: true,
    pid: child.pid ?? 0,
    stop: () => stopChild(child),
  };
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether anything accepts connections on 127.0.0.1:`port`. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const giveUpAt = Date.now() + 30_000;
  while (Date.now() < giveUpAt) {
    if (child.exitCode !== null) throw new Error(`Azurite exited with code ${child.exitCode}:\n${output()}`);
    if (await isListening(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopChild(child);
  throw new Error(`Azurite did not listen on port ${port} within 30 s:\n${output()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
