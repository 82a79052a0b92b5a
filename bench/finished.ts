/**
 * `npm run bench:finished`: heap and RSS after 1,000 and after 10,000 finished orchestrations (3-step
 * chains, started 500 at a time), on the SQLite store and on the memory store. On SQLite the heap must not
 * grow with the number of finished instances: their histories live in the file, not in memory.
 *
 *   npm run bench:finished -- [--instances 10000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DurableEngine } from '../devhost/src/durable/engine';
import { SqliteStore } from '../devhost/src/durable/sqlite-store';
import { type DurableStore, MemoryStore } from '../devhost/src/durable/store';
import { findEntryPoints, loadEntryPoint } from '../devhost/src/functions/loader';
import { FunctionsRuntime } from '../devhost/src/functions/runtime';
import { HostLog } from '../devhost/src/log';

const appDir = path.resolve(__dirname, '..', '..', 'bench', 'fixtures', 'app');
const batch = 500;

async function measure(
  runtime: FunctionsRuntime,
  log: HostLog,
  store: DurableStore,
  instances: number,
): Promise<string[]> {
  const engine = new DurableEngine(store, runtime, log);
  const marks: string[] = [];
  const collect = (globalThis as { gc?: () => void }).gc;
  for (let done = 0; done < instances; done += batch) {
    const ids: string[] = [];
    for (let i = 0; i < batch; i++) ids.push(await engine.startOrchestration('Chain', undefined, '3'));
    for (const id of ids) {
      while ((await store.getInstance(id))?.runtimeStatus !== 'Completed') await sleep(2);
    }
    const finished = done + batch;
    if (finished === 1000 || finished === instances) {
      await sleep(100);
      collect?.();
      const { heapUsed, rss } = process.memoryUsage();
      marks.push(`${String(finished)} finished: heap ${mb(heapUsed)}, RSS ${mb(rss)}`);
    }
  }
  await engine.stop();
  return marks;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { instances: { type: 'string', default: '10000' } } });
  const instances = Number(values.instances);
  if (!(globalThis as { gc?: unknown }).gc)
    console.error('(run with node --expose-gc for exact heap figures)');
  const log = new HostLog(() => undefined, 'quiet');
  const runtime = new FunctionsRuntime(log);
  runtime.installCoreModule();
  for (const file of findEntryPoints(appDir)) await loadEntryPoint(appDir, file);
  await runtime.finishLoading();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-finished-'));
  try {
    const sqlite = new SqliteStore(dataDir);
    console.log(`SQLite: ${(await measure(runtime, log, sqlite, instances)).join('; ')}`);
    await sqlite.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`memory: ${(await measure(runtime, log, new MemoryStore(), instances)).join('; ')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
