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
  /** False when an Azurite that was already running on the standard ports is reused. */
  startedHere: boolean;
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Where Azurite keeps its data; omitted means in memory. */
  location?: string;
  /** 0 picks free ports (tests); the standard ports are 10000-10002. */
  blobPort?: number;
  /** Blob only (tests), or blob, queue and table as the Functions host expects (npm start). */
  services?: 'blob' | 'all';
  log?: (line: string) => void;
}

const standardPorts = { blob: 10000, queue: 10001, table: 10002 };

/** Starts Azurite from node_modules on 127.0.0.1 and resolves once it accepts connections. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const services = options.services ?? 'blob';
  const requested = options.blobPort ?? standardPorts.blob;
  if (requested === standardPorts.blob && (await isListening(standardPorts.blob))) {
    options.log?.(`Azurite is already running on port ${standardPorts.blob}; using it.`);
    return {
      blobEndpoint: `http://127.0.0.1:${standardPorts.blob}/${devAccount.name}`,
      connectionString: 'UseDevelopmentStorage=true',
      startedHere: false,
      stop: () => Promise.resolve(),
    };
  }
  const blobPort = requested === 0 ? await freePort() : requested;
  const bin = require.resolve(
    services === 'all' ? 'azurite/dist/src/azurite.js' : 'azurite/dist/src/blob/main.js',
  );
  const args = [
    bin,
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(blobPort),
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
  ];
  if (services === 'all') {
    args.push(
      '--queuePort',
      String(standardPorts.queue),
      '--tablePort',
      String(standardPorts.table),
      '--disableTelemetry',
    );
  }
  if (options.location) {
    mkdirSync(options.location, { recursive: true });
    args.push('--location', path.resolve(options.location));
  } else {
    args.push('--inMemoryPersistence');
  }
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await waitForPort(blobPort, child, () => output);

  const blobEndpoint = `http://127.0.0.1:${blobPort}/${devAccount.name}`;
  const connectionString =
    blobPort === standardPorts.blob && services === 'all'
      ? 'UseDevelopmentStorage=true'
      : `DefaultEndpointsProtocol=http;AccountName=${devAccount.name};AccountKey=${devAccount.key};BlobEndpoint=${blobEndpoint};`;
  return { blobEndpoint, connectionString, startedHere: true, stop: () => stopChild(child) };
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

function isListening(port: number): Promise<boolean> {
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
