/**
 * `npm run bench:index`: what a page of the run list and a reconciler pass cost against a big task hub,
 * on the devhost. Seeds the devhost's store with `--instances` finished agent runs of `--owners` users
 * (spread over 62 days; `--ended` of them terminated behind the product's back and already settled),
 * writes their run index rows as the product would have (starter, then end), and measures:
 *
 * - list pages (limit 20): the first page, the next one, and a filtered one (`?status=terminated`);
 * - one reconciler pass with nothing new since the last.
 *
 * For each: requests to the task hub (the app's durable calls, from the devhost's log), status reads
 * among them, requests to the run index (through a counting proxy in front of Azurite), rows the index
 * returned (the app's own count), settle signals (the product's cancellation ends with one), and the
 * wall time (median of `--repeat`). With `--baseline-app <dir>` (another built copy of the app, e.g.
 * main's: `git worktree add`, link node_modules, `npx tsc -p tsconfig.build.json`) it measures that copy
 * on the same data too; the baseline's reconciler pass settles every ended run again, so it takes a while.
 *
 *   npm run bench:index -- [--instances 100000] [--owners 1000] [--ended 10000] [--repeat 5]
 *                          [--baseline-app <dir>]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { TableClient, type TransactionAction } from '@azure/data-tables';
import { startDevHostProcess, type DevHostProcess } from '../devhost/test/harness';
import { startOfflineBackends, type OfflineBackends } from '../scripts/offlineBackends';
import { ownerPartition, ownerRowKey, promptPreview } from '../src/runIndex/table';
import { startCountingProxy, tablePortOf, tableThroughProxy } from '../test/support/countingProxy';
import { call, principalHeaders, projectRoot } from '../test/support/product';
import { seededRun, seedHub, type SeededRun } from '../test/support/seedHub';

interface Measure {
  label: string;
  durableRequests: number;
  statusReads: number;
  tableRequests: number;
  indexRows: number | string;
  settles: number;
  ms: number;
}

const dayMs = 24 * 60 * 60 * 1000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      instances: { type: 'string', default: '100000' },
      owners: { type: 'string', default: '1000' },
      ended: { type: 'string', default: '10000' },
      repeat: { type: 'string', default: '5' },
      'baseline-app': { type: 'string' },
    },
  });
  const instances = Number(values.instances);
  const owners = Number(values.owners);
  const ended = Number(values.ended);
  const repeat = Number(values.repeat);
  const perOwner = Math.ceil(instances / owners);
  const endedPerOwner = Math.ceil(ended / owners);

  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-run-index-'));
  const backends = await startOfflineBackends({ agentRunDurationMs: 300 });
  const proxy = await startCountingProxy({
    host: '127.0.0.1',
    port: tablePortOf(backends.azurite.connectionString),
  });
  try {
    // Owner o's runs, newest first; the first `endedPerOwner` of each owner's oldest ones were
    // terminated behind the product's back (and settled since).
    const now = Date.now();
    const runs: SeededRun[] = [];
    for (let o = 0; o < owners; o++) {
      for (let r = 0; r < perOwner && runs.length < instances; r++) {
        const at = new Date(now - 60_000 - Math.floor(((r * owners + o) / instances) * 62 * dayMs));
        runs.push(seededRun(`user-${o}`, at, r >= perOwner - endedPerOwner ? 'Terminated' : 'Completed'));
      }
    }
    let started = Date.now();
    await seedHub(dataDir, runs);
    console.log(`Seeded ${runs.length.toLocaleString('en')} instances in ${ms(Date.now() - started)}.`);
    started = Date.now();
    await writeIndex(backends.azurite.connectionString, runs);
    console.log(`Wrote their run index rows in ${ms(Date.now() - started)}.`);

    const apps: [string, string][] = [['this build', projectRoot]];
    if (values['baseline-app']) apps.push(['baseline', path.resolve(values['baseline-app'])]);
    const rows: Measure[] = [];
    for (const [name, appDir] of apps) {
      const host = await startDevHostProcess({
        appDir,
        dataDir,
        readyTimeoutMs: 120_000,
        env: {
          ...backends.appSettings,
          AzureWebJobsStorage: tableThroughProxy(backends.azurite.connectionString, proxy),
          AUTH_MODE: 'dev',
          TASK_HUB_NAME: 'benchhub',
          RUN_URL_SIGNING_KEY: 'bench-only-run-url-signing-key-0123456789abcdef',
          DEVHOST_LOG: 'verbose',
        },
      });
      try {
        rows.push(...(await measureApp(name, host, backends, proxy, repeat, owners)));
      } finally {
        await host.stop();
      }
    }
    printTable(runs.length, owners, ended, rows);
  } finally {
    await proxy.stop();
    await backends.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The rows the product leaves for these runs: the starter's, then the end written down (and settled). */
async function writeIndex(connectionString: string, runs: SeededRun[]): Promise<void> {
  const table = TableClient.fromConnectionString(connectionString, 'runindex', {
    allowInsecureConnection: true,
  });
  await table.createTable();
  const byOwner = new Map<string, SeededRun[]>();
  for (const run of runs) byOwner.set(run.owner, [...(byOwner.get(run.owner) ?? []), run]);
  const batches: TransactionAction[][] = [];
  for (const [owner, own] of byOwner) {
    for (let i = 0; i < own.length; i += 100) {
      batches.push(
        own.slice(i, i + 100).map((run) => [
          'upsert',
          {
            partitionKey: ownerPartition(owner),
            rowKey: ownerRowKey(run.requestedAt, run.runId),
            runId: run.runId,
            createdTime: run.requestedAt,
            preview: promptPreview(run.prompt),
            state: 'ended',
            status: run.runtimeStatus === 'Completed' ? 'completed' : 'terminated',
            stage: run.runtimeStatus === 'Completed' ? 'done' : 'working',
            promptTokens: 120,
            completionTokens: 80,
            totalTokens: 200,
            lastUpdatedTime: new Date(Date.parse(run.requestedAt) + 4000).toISOString(),
            ...(run.runtimeStatus === 'Completed' ? {} : { settledAt: new Date().toISOString() }),
            source: 'start',
          },
        ]),
      );
    }
  }
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < batches.length) await table.submitTransaction(batches[next++] ?? []);
    }),
  );
  // The reconciler has passed before: its backfill is done and nothing is open.
  await table.upsertEntity({
    partitionKey: 'reconciler',
    rowKey: 'state',
    cutover: new Date(Date.now() - 62 * dayMs).toISOString(),
    backfilledFrom: '2017-01-01T00:00:00.000Z',
    windowDays: 1,
    backfillDone: true,
  });
}

async function measureApp(
  name: string,
  host: DevHostProcess,
  backends: OfflineBackends,
  proxy: Awaited<ReturnType<typeof startCountingProxy>>,
  repeat: number,
  owners: number,
): Promise<Measure[]> {
  const owner = `user-${Math.floor(owners / 2)}`;
  const headers = principalHeaders(owner);
  const measure = async (label: string, url: string, method: 'GET' | 'POST', done: RegExp) => {
    const samples: Measure[] = [];
    for (let i = 0; i < repeat; i++) {
      const logStart = host.logs().length;
      const tableStart = proxy.requests().length;
      const doneBefore = count(host.logs(), done);
      const t0 = performance.now();
      // The baseline's reconciler pass outlasts fetch's 5-minute header timeout: a plain request waits.
      const answer = method === 'POST' ? await postWithoutTimeout(url) : await call(url, { headers });
      const elapsed = performance.now() - t0;
      if (answer.status >= 400) throw new Error(`${label}: ${answer.status} ${JSON.stringify(answer.body)}`);
      while (count(host.logs(), done) <= doneBefore) await new Promise((r) => setTimeout(r, 10));
      const lines = host.logs().slice(logStart);
      const reported = /Run list: (\d+) index rows/.exec(lines)?.[1];
      samples.push({
        label: `${name}: ${label}`,
        durableRequests: count(lines, /(GET|POST|DELETE) \/durabletask\/(instances|entities)/g),
        statusReads: count(lines, /GET \/durabletask\/instances\/[0-9a-f-]{8,}/g),
        tableRequests: proxy.requests().length - tableStart,
        indexRows: reported !== undefined ? Number(reported) : '-',
        settles: count(lines, /op=settle/g),
        ms: elapsed,
      });
      // A reconciler pass of the baseline takes minutes: once is enough.
      if (method === 'POST' && elapsed > 60_000) break;
    }
    const sorted = [...samples].sort((a, b) => a.ms - b.ms);
    const median = sorted[Math.floor(sorted.length / 2)] as Measure;
    console.log(`${median.label}: ${JSON.stringify({ ...median, ms: Math.round(median.ms) })}`);
    return median;
  };
  const base = host.baseUrl;
  const first = await call<{ next: string | null }>(`${base}/api/agent-runs?limit=20`, { headers });
  const out: Measure[] = [];
  out.push(
    await measure(
      'list, first page',
      `${base}/api/agent-runs?limit=20`,
      'GET',
      /GET \/api\/agent-runs\?limit=20 200/g,
    ),
  );
  if (first.body.next) {
    const next = first.body.next;
    out.push(
      await measure(
        'list, next page',
        next,
        'GET',
        /GET \/api\/agent-runs\?limit=20&continuationToken=[^ ]+ 200/g,
      ),
    );
  }
  out.push(
    await measure(
      'list, ?status=terminated',
      `${base}/api/agent-runs?status=terminated&limit=20`,
      'GET',
      /GET \/api\/agent-runs\?status=terminated&limit=20 200/g,
    ),
  );
  out.push(
    await measure(
      'reconciler pass, nothing new',
      `${base}/admin/functions/reconcileReservations`,
      'POST',
      /POST \/admin\/functions\/reconcileReservations 202/g,
    ),
  );
  void backends;
  return out;
}

function postWithoutTimeout(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json' } },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end('{}');
  });
}

function count(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

function ms(value: number): string {
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

function printTable(instances: number, owners: number, ended: number, rows: Measure[]): void {
  console.log(
    `\n${instances.toLocaleString('en')} instances from ${owners.toLocaleString('en')} owners, ` +
      `${ended.toLocaleString('en')} of them terminated behind the product's back and settled; medians.\n`,
  );
  const header = [
    'measure',
    'task hub requests',
    'status reads',
    'index requests',
    'index rows',
    'settles',
    'time',
  ];
  const body = rows.map((r) => [
    r.label,
    r.durableRequests.toLocaleString('en'),
    r.statusReads.toLocaleString('en'),
    r.tableRequests.toLocaleString('en'),
    String(r.indexRows),
    r.settles.toLocaleString('en'),
    ms(r.ms),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const b of body) console.log(line(b));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
