/**
 * `npm run bench:blobs`: how many blob writes Azurite acknowledged survive a kill -9. A writer process starts
 * Azurite as npm start does (scripts/azurite.ts, data on disk) and uploads blobs for two seconds, printing
 * each acknowledged name; then either the writer is killed with SIGKILL (the product dies: Azurite's
 * watchdog shuts it down cleanly) or Azurite itself is (nothing can save what it holds in memory). Azurite
 * is started again on the same folder and the acknowledged blobs are counted. Prints a table; asserts nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BlobServiceClient } from '@azure/storage-blob';
import { startAzurite } from '../scripts/azurite';

const container = 'bench';

async function writer(location: string): Promise<void> {
  const azurite = await startAzurite({ location, blobPort: 0, services: 'blob' });
  console.log(`azurite ${String(azurite.pid)}`);
  const client = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    container,
  );
  await client.createIfNotExists();
  console.log('ready');
  let n = 0;
  const lane = async () => {
    for (;;) {
      const name = `b${String(n++)}`;
      const body = JSON.stringify({ name, at: Date.now() });
      await client.getBlockBlobClient(name).upload(body, body.length);
      console.log(`ok ${name}`);
    }
  };
  await Promise.all([lane(), lane(), lane(), lane()]);
}

async function once(kill: 'product' | 'azurite', writeMs: number): Promise<{ acked: number; kept: number }> {
  const location = mkdtempSync(path.join(tmpdir(), 'bench-blobs-'));
  try {
    const child = spawn(process.execPath, [__filename, 'writer', location], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked = new Set<string>();
    let azuritePid = 0;
    let ready = false;
    let buffered = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('ok ')) acked.add(line.slice(3));
        else if (line.startsWith('azurite ')) azuritePid = Number(line.slice(8));
        else if (line === 'ready') ready = true;
      }
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    while (!ready) await sleep(20);
    await sleep(writeMs);
    if (kill === 'azurite') process.kill(azuritePid, 'SIGKILL');
    child.kill('SIGKILL');
    await exited;
    await waitGone(azuritePid);
    const counted = new Set(acked);
    const again = await startAzurite({ location, blobPort: 0, services: 'blob' });
    try {
      const client = BlobServiceClient.fromConnectionString(again.connectionString).getContainerClient(
        container,
      );
      let kept = 0;
      // A container lost with the rest lists as 404: nothing of it survived.
      if (await client.exists()) {
        for await (const blob of client.listBlobsFlat()) if (counted.has(blob.name)) kept++;
      }
      return { acked: counted.size, kept };
    } finally {
      await again.stop();
    }
  } finally {
    rmSync(location, { recursive: true, force: true });
  }
}

async function waitGone(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<void> {
  if (process.argv[2] === 'writer') {
    await writer(process.argv[3] ?? '');
    return;
  }
  const rows: string[][] = [['what is killed', 'acknowledged', 'survived', 'lost']];
  for (const kill of ['product', 'azurite'] as const) {
    let acked = 0;
    let kept = 0;
    for (let i = 0; i < 3; i++) {
      const result = await once(kill, 2000);
      acked += result.acked;
      kept += result.kept;
    }
    const label =
      kill === 'product'
        ? 'the product (Azurite shut down by its watchdog)'
        : 'Azurite itself (its 5 s metadata autosave)';
    rows.push([label, String(acked), String(kept), `${(((acked - kept) / acked) * 100).toFixed(1)}%`]);
  }
  console.log('\nBlob writes acknowledged in the 2 s before a kill -9 (3 runs each):\n');
  console.log(`| ${rows[0]?.join(' | ') ?? ''} |\n|${rows[0]?.map(() => '---').join('|') ?? ''}|`);
  for (const row of rows.slice(1)) console.log(`| ${row.join(' | ')} |`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
