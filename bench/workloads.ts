/**
 * `npm run bench`: the devhost's durable engine on the workloads issue 12 names, on the memory store and on
 * the SQLite store, against the in-memory test backend of @microsoft/durabletask-js in the same run, and
 * against the floor under any host that runs the real SDK (bench/floor.ts). Each measurement is a whole run
 * in a fresh process (so peak RSS belongs to that workload alone); the devhost's requests come from a driver
 * process of their own, as a real client's would. The table shows the median of 3. Prints one table;
 * asserts nothing.
 *
 *   npm run bench -- [--runs 3] [--only fanout-1000,chain-100]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  InMemoryOrchestrationBackend,
  type OrchestrationContext,
  TestOrchestrationClient,
  TestOrchestrationWorker,
  whenAll,
} from '@microsoft/durabletask-js';
import { startDevHost } from '../devhost/src';
import { measureFloor } from './floor';

type Engine = 'memory' | 'sqlite' | 'peer' | 'floor';

interface Workload {
  id: string;
  label: string;
  orchestration?: 'FanOut' | 'Chain';
  /** Input of each orchestration. */
  size: number;
  /** How many orchestrations start at once. */
  instances: number;
  /** Signals to one entity, then a read (no orchestration). */
  signals?: number;
}

const workloads: Workload[] = [
  { id: 'fanout-100', label: 'fan-out/fan-in of 100', orchestration: 'FanOut', size: 100, instances: 1 },
  { id: 'fanout-1000', label: 'fan-out/fan-in of 1,000', orchestration: 'FanOut', size: 1000, instances: 1 },
  {
    id: 'fanout-10000',
    label: 'fan-out/fan-in of 10,000',
    orchestration: 'FanOut',
    size: 10_000,
    instances: 1,
  },
  { id: 'chain-100', label: '100 sequential activities', orchestration: 'Chain', size: 100, instances: 1 },
  {
    id: 'chain-1000',
    label: '1,000 sequential activities',
    orchestration: 'Chain',
    size: 1000,
    instances: 1,
  },
  {
    id: 'many-1000x5',
    label: '1,000 orchestrations × 5 activities',
    orchestration: 'Chain',
    size: 5,
    instances: 1000,
  },
  {
    id: 'signals-1000',
    label: '1,000 signals to one entity, then a read',
    size: 0,
    instances: 0,
    signals: 1000,
  },
];

const appDir = path.resolve(__dirname, '..', '..', 'bench', 'fixtures', 'app');

interface Sample {
  ms: number;
  rssMb: number;
  /** The run was stopped at the time limit: `ms` is the limit, a lower bound. */
  cut?: boolean;
}

/** A run that takes longer is stopped: its time is shown as "> limit". */
const limitMs = 60_000;

// ---------------------------------------------------------------- one measurement (child process)

/**
 * The bench's HTTP client: node:http on one kept-alive connection, in a process of its own (see `drive`), so
 * that what the host's process spends is the host's work, as with any real client.
 */
function client(
  origin: string,
): (method: string, path: string, body?: string, headers?: Record<string, string>) => Promise<Answer> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return (method, path, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const req = request(`${origin}${path}`, {
        method,
        agent,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      });
      req.once('error', reject);
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('error', reject);
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            text: Buffer.concat(chunks).toString('utf8'),
            continuation: res.headers['x-ms-continuation-token'] as string | undefined,
          }),
        );
      });
      req.end(body);
    });
}

interface Answer {
  status: number;
  text: string;
  continuation: string | undefined;
}

/**
 * Serves the workload from a devhost in this process while a driver process sends it; returns the time the
 * driver measured, from its first request to the answer that says nothing is still running.
 */
async function measureDevhost(workload: Workload, store: 'memory' | 'sqlite'): Promise<number> {
  const dataDir = store === 'sqlite' ? mkdtempSync(path.join(tmpdir(), 'bench-sqlite-')) : undefined;
  const host = await startDevHost({
    appDir,
    port: 0,
    logLevel: 'quiet',
    log: () => undefined,
    ...(dataDir ? { dataDir } : {}),
  });
  try {
    return await new Promise<number>((resolve, reject) => {
      const driver = spawn(process.execPath, [__filename, '--drive', workload.id, '--url', host.url], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let output = '';
      driver.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
      driver.once('error', reject);
      driver.once('exit', (code) => {
        const ms = Number(output.trim().split('\n').pop());
        if (code === 0 && Number.isFinite(ms)) resolve(ms);
        else reject(new Error(`the driver for ${workload.id} exited with ${String(code)}:\n${output}`));
      });
    });
  } finally {
    await host.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The driver: sends the workload to the host at `origin`, checks every outcome, returns the time taken. */
async function drive(workload: Workload, origin: string): Promise<number> {
  const call = client(origin);
  const api = '/runtime/webhooks/durabletask';
  const started = performance.now();
  if (workload.signals) {
    for (let i = 0; i < workload.signals; i++) await call('POST', `${api}/entities/tally/k?op=add`, '1');
    for (;;) {
      const answer = await call('GET', `${api}/entities/tally/k`);
      const state = answer.status === 200 ? (JSON.parse(answer.text) as number) : 0;
      if (state === workload.signals) break;
      await sleep(2);
    }
    return performance.now() - started;
  }
  for (let i = 0; i < workload.instances; i++) {
    const answer = await call(
      'POST',
      `${api}/orchestrators/${workload.orchestration ?? ''}`,
      String(workload.size),
    );
    if (answer.status !== 202) throw new Error(`start answered ${String(answer.status)}: ${answer.text}`);
  }
  // One query says whether anything is still running: polling each instance would cost the host more
  // than the peer's in-process wait does.
  for (;;) {
    const answer = await call('GET', `${api}/instances?runtimeStatus=Pending,Running&top=1`);
    if ((JSON.parse(answer.text) as unknown[]).length === 0) break;
    await sleep(5);
  }
  const elapsed = performance.now() - started;
  // Outside the measured time: every instance completed with the right output.
  let seen = 0;
  let continuation: string | undefined;
  do {
    const answer = await call(
      'GET',
      `${api}/instances?top=1000`,
      undefined,
      continuation ? { 'x-ms-continuation-token': continuation } : {},
    );
    const page = JSON.parse(answer.text) as { instanceId: string; runtimeStatus: string; output: unknown }[];
    for (const status of page) {
      if (status.runtimeStatus !== 'Completed' || status.output !== workload.size)
        throw new Error(
          `${status.instanceId} ended ${status.runtimeStatus}: ${JSON.stringify(status.output)}`,
        );
    }
    seen += page.length;
    continuation = answer.continuation;
  } while (continuation);
  if (seen !== workload.instances)
    throw new Error(`${String(seen)} instances, not ${String(workload.instances)}`);
  return elapsed;
}

async function measurePeer(workload: Workload): Promise<number | undefined> {
  if (workload.signals) return undefined; // the test worker runs no entities
  const backend = new InMemoryOrchestrationBackend(1_000_000);
  const worker = new TestOrchestrationWorker(backend);
  worker.addNamedActivity('Noop', (_context: unknown, n: number) => n);
  // durabletask-js runs async generators only; these need no await of their own.
  /* eslint-disable @typescript-eslint/require-await */
  worker.addNamedOrchestrator('FanOut', async function* (context: OrchestrationContext, count: number) {
    const tasks = [];
    for (let i = 0; i < count; i++) tasks.push(context.callActivity('Noop', i));
    const results = (yield whenAll(tasks)) as number[];
    return results.length;
  });
  worker.addNamedOrchestrator('Chain', async function* (context: OrchestrationContext, count: number) {
    let total = 0;
    for (let i = 0; i < count; i++) total += (yield context.callActivity('Noop', 1)) as number;
    return total;
  });
  /* eslint-enable @typescript-eslint/require-await */
  await worker.start();
  const client = new TestOrchestrationClient(backend);
  try {
    const started = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < workload.instances; i++) {
      ids.push(await client.scheduleNewOrchestration(workload.orchestration ?? '', workload.size));
    }
    const expected = JSON.stringify(workload.size);
    for (const id of ids) {
      const state = await client.waitForOrchestrationCompletion(id, true, 600);
      // Both orchestrations return their input size: anything else means the peer did not do the work.
      if (state?.serializedOutput !== expected) {
        throw new Error(`peer ${id} ended with ${JSON.stringify(state?.serializedOutput)}, not ${expected}`);
      }
    }
    return performance.now() - started;
  } finally {
    await worker.stop();
    await client.stop();
  }
}

/** The worker pipeline and the SDK alone (bench/floor.ts); entities have no peer to compare with. */
async function floorOf(workload: Workload): Promise<number | undefined> {
  if (workload.signals || !workload.orchestration) return undefined;
  return measureFloor(appDir, {
    orchestration: workload.orchestration,
    size: workload.size,
    instances: workload.instances,
  });
}

// ---------------------------------------------------------------- the table (parent process)

function runChild(workload: Workload, engine: Engine): Promise<Sample | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--child', workload.id, '--engine', engine], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    let cut = false;
    const timer = setTimeout(() => {
      cut = true;
      child.kill('SIGKILL');
    }, limitMs);
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (cut) return resolve({ ms: limitMs, rssMb: Number.NaN, cut: true });
      const line = output.trim().split('\n').pop() ?? '';
      if (code !== 0)
        return reject(new Error(`${workload.id} on ${engine} exited with ${String(code)}:\n${output}`));
      resolve(line === 'n/a' ? undefined : (JSON.parse(line) as Sample));
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const fmtMs = (ms: number | undefined) =>
  ms === undefined ? 'n/a' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
const fmtRss = (mb: number | undefined) =>
  mb === undefined || Number.isNaN(mb) ? 'n/a' : `${mb.toFixed(0)} MB`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      child: { type: 'string' },
      engine: { type: 'string' },
      runs: { type: 'string', default: '3' },
      only: { type: 'string' },
      drive: { type: 'string' },
      url: { type: 'string' },
    },
  });
  if (values.drive) {
    const workload = workloads.find((w) => w.id === values.drive);
    if (!workload || !values.url) throw new Error(`--drive needs a known workload and --url`);
    process.stdout.write(`${String(await drive(workload, values.url))}\n`);
    process.exit(0);
  }
  if (values.child) {
    const workload = workloads.find((w) => w.id === values.child);
    if (!workload) throw new Error(`unknown workload ${values.child}`);
    const engine = values.engine as Engine;
    // The peer's default logger writes a line per episode; the devhost runs quiet, so the peer does too.
    if (engine === 'peer') {
      for (const level of ['log', 'info', 'debug', 'warn'] as const) console[level] = () => undefined;
    }
    const ms =
      engine === 'peer'
        ? await measurePeer(workload)
        : engine === 'floor'
          ? await floorOf(workload)
          : await measureDevhost(workload, engine);
    const rssMb = process.resourceUsage().maxRSS / 1024;
    process.stdout.write(`${ms === undefined ? 'n/a' : JSON.stringify({ ms, rssMb })}\n`);
    process.exit(0);
  }
  const runs = Number(values.runs);
  const only = values.only?.split(',');
  const header = [
    'workload',
    'devhost memory',
    'peak RSS',
    'devhost SQLite',
    'peak RSS',
    'durabletask-js in-memory',
    'peak RSS',
    'worker + SDK alone',
    'peer / devhost memory',
    'peer / devhost SQLite',
    'peer / worker + SDK alone',
  ];
  const rows: string[][] = [];
  for (const workload of workloads.filter((w) => !only || only.includes(w.id))) {
    const results: Record<Engine, { ms?: number; rssMb?: number; cut?: boolean }> = {
      memory: {},
      sqlite: {},
      peer: {},
      floor: {},
    };
    for (const engine of ['memory', 'sqlite', 'peer', 'floor'] as const) {
      const samples: Sample[] = [];
      for (let i = 0; i < runs; i++) {
        const sample = await runChild(workload, engine);
        if (sample) samples.push(sample);
        // One run past the limit says enough; three would only cost three minutes.
        if (sample?.cut) break;
      }
      if (samples.length > 0) {
        results[engine] = {
          ms: median(samples.map((s) => s.ms)),
          rssMb: median(samples.map((s) => s.rssMb)),
          cut: samples.some((s) => s.cut),
        };
      }
      process.stderr.write(`${workload.id} ${engine}: ${fmtMs(results[engine].ms)}\n`);
    }
    const ratio = (devhost?: number) =>
      devhost === undefined || results.peer.ms === undefined
        ? 'n/a'
        : `${results.peer.cut ? '> ' : ''}${(results.peer.ms / devhost).toFixed(2)}×`;
    const shown = (engine: Engine) => `${results[engine].cut ? '> ' : ''}${fmtMs(results[engine].ms)}`;
    rows.push([
      workload.label,
      shown('memory'),
      fmtRss(results.memory.rssMb),
      shown('sqlite'),
      fmtRss(results.sqlite.rssMb),
      shown('peer'),
      fmtRss(results.peer.rssMb),
      shown('floor'),
      ratio(results.memory.ms),
      ratio(results.sqlite.ms),
      ratio(results.floor.ms),
    ]);
  }
  console.log(
    `\nWhole-run medians of ${String(runs)}, each run in a fresh process (Node ${process.version}).\n`,
  );
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
