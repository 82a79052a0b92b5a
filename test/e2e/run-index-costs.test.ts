import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDevHostProcess, type DevHostProcess } from '../../devhost/test/harness';
import { startOfflineBackends, type OfflineBackends } from '../../scripts/offlineBackends';
import {
  startCountingProxy,
  tablePortOf,
  tableThroughProxy,
  type CountingProxy,
} from '../support/countingProxy';
import { call, pollUntil, principalHeaders, projectRoot } from '../support/product';
import { seededRun, seedHub, type SeededRun } from '../support/seedHub';

/**
 * What a page of the run list and a reconciler pass cost, counted where the requests land: the app's
 * durable client calls in the devhost's own log, and the run index's table requests through a counting
 * proxy in front of Azurite. The task hub grows between two measures by instances seeded into the
 * devhost's store (as finished runs of other users), so nothing else changes.
 */

let backends: OfflineBackends;
let proxy: CountingProxy;
let host: DevHostProcess;
const dataDir = mkdtempSync(path.join(tmpdir(), 'run-index-costs-'));
const baseUrl = () => host.baseUrl;

const alice = principalHeaders('alice-costs');

async function start(body: Record<string, unknown>, headers: Record<string, string>): Promise<string> {
  const started = await call<{ runId: string }>(`${baseUrl()}/api/agent-runs`, { body, headers });
  if (started.status !== 202)
    throw new Error(`start answered ${started.status}: ${JSON.stringify(started.body)}`);
  return started.body.runId;
}
const admin = principalHeaders('admin-costs', ['AgentRuns.Admin']);

async function startHost(): Promise<void> {
  host = await startDevHostProcess({
    appDir: projectRoot,
    dataDir,
    env: {
      ...backends.appSettings,
      AzureWebJobsStorage: tableThroughProxy(backends.azurite.connectionString, proxy),
      AUTH_MODE: 'dev',
      TASK_HUB_NAME: 'testhub',
      RUN_URL_SIGNING_KEY: 'test-only-run-url-signing-key-0123456789abcdef',
      // The app's own durable client calls are logged at verbose: they are what is counted.
      DEVHOST_LOG: 'verbose',
    },
  });
}

/** Stops the host, adds instances to its store, starts it again on the same store. */
async function grow(runs: SeededRun[]): Promise<void> {
  await host.stop();
  await seedHub(dataDir, runs);
  await startHost();
}

interface Cost {
  durableRequests: number;
  statusReads: number;
  tableRequests: number;
}

const count = (text: string, pattern: RegExp) => text.match(pattern)?.length ?? 0;

/**
 * Runs `work` and counts the requests it made. `done` is the host's own line for the request that did
 * the work, which it writes after the app's calls: once it is in the log, so are they.
 */
async function measure<T>(work: () => Promise<T>, done: RegExp): Promise<{ value: T; cost: Cost }> {
  const logStart = host.logs().length;
  const tableStart = proxy.requests().length;
  const doneBefore = count(host.logs(), done);
  const value = await work();
  await pollUntil(
    () => Promise.resolve(count(host.logs(), done)),
    (n) => n > doneBefore,
    5000,
  );
  const lines = host.logs().slice(logStart);
  return {
    value,
    cost: {
      durableRequests: count(lines, /(GET|POST|DELETE) \/durabletask\/instances/g),
      statusReads: count(lines, /GET \/durabletask\/instances\/[0-9a-f-]{8,}/g),
      tableRequests: proxy.requests().length - tableStart,
    },
  };
}

interface ListBody {
  items: { id: string; status: string; stage: string }[];
  continuationToken: string | null;
  next: string | null;
}

const firstPage = (headers: Record<string, string>, query: string) =>
  measure(
    () => call<ListBody>(`${baseUrl()}/api/agent-runs${query}`, { headers }),
    new RegExp(`GET /api/agent-runs${query.replace(/[?]/g, '\\?')} 200`, 'g'),
  );

const reconcilerPass = () =>
  measure(
    async () => (await call(`${baseUrl()}/admin/functions/reconcileReservations`, { body: {} })).status,
    /POST \/admin\/functions\/reconcileReservations 202/g,
  );

beforeAll(async () => {
  backends = await startOfflineBackends({ agentRunDurationMs: 300 });
  proxy = await startCountingProxy({
    host: '127.0.0.1',
    port: tablePortOf(backends.azurite.connectionString),
  });
  await startHost();
});

afterAll(async () => {
  await host?.stop();
  await proxy?.stop();
  await backends?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const aliceRuns: string[] = [];
let waitingRun = '';

describe('a page of the run list', () => {
  it('reads as much of the task hub with 600 more instances in it as without them', async () => {
    for (const prompt of ['What is 1 + 1?', 'What is 2 + 2?', 'What is 3 + 3?']) {
      aliceRuns.push(await start({ prompt }, alice));
    }
    waitingRun = await start({ prompt: 'What is 4 + 4?', approval: { required: true } }, alice);
    await pollUntil(
      () => call<ListBody>(`${baseUrl()}/api/agent-runs`, { headers: alice }),
      (r) => r.body.items?.filter((i) => i.status === 'completed').length === 3,
    );
    await pollUntil(
      () => call<ListBody>(`${baseUrl()}/api/agent-runs?status=awaiting-approval`, { headers: alice }),
      (r) => r.body.items?.length === 1,
    );

    const small = await firstPage(alice, '?limit=2');
    expect(small.value.body.items.map((i) => i.id)).toEqual([waitingRun, aliceRuns[2]]);

    // Other users' finished runs: six more pages of the Durable query, each 100 instances.
    const now = Date.now();
    await grow(Array.from({ length: 600 }, (_, i) => seededRun(`other-${i % 50}`, new Date(now - i * 1000))));
    const large = await firstPage(alice, '?limit=2');
    expect(large.value.body.items.map((i) => i.id)).toEqual([waitingRun, aliceRuns[2]]);
    expect(large.value.body.items[0]).toMatchObject({
      status: 'awaiting-approval',
      stage: 'awaiting-approval',
    });

    // The same requests at both sizes: one table query, and one status read for the run that is still
    // going (its stage and usage change while it runs); the completed run on the page costs no read.
    expect(large.cost).toEqual(small.cost);
    expect(large.cost).toEqual({ durableRequests: 1, statusReads: 1, tableRequests: 1 });

    // The next page, filtered, costs no more.
    const rest = await measure(
      () => call<ListBody>(large.value.body.next ?? '', { headers: alice }),
      /GET \/api\/agent-runs\?limit=2&continuationToken=[^ ]+ 200/g,
    );
    expect(rest.value.body.items.map((i) => i.id)).toEqual([aliceRuns[1], aliceRuns[0]]);
    expect(rest.cost.durableRequests).toBe(0);
    expect(rest.cost.tableRequests).toBe(1);
  });
});

describe('a reconciler pass', () => {
  it('settles each run that ended behind the product’s back once, and looks at none of them again', async () => {
    // 40 runs raw-terminated before the run index existed (no rows: the one-time backfill finds them,
    // and the 600 finished ones seeded above), and one of Alice's, terminated through the management
    // API while it waited for approval.
    const now = Date.now();
    const terminated = Array.from({ length: 40 }, (_, i) =>
      seededRun('ended-elsewhere', new Date(now - 60_000 - i * 100), 'Terminated'),
    );
    await grow(terminated);
    const raw = await call(
      `${baseUrl()}/runtime/webhooks/durabletask/instances/${waitingRun}/terminate?reason=raw`,
      { method: 'POST', body: {} },
    );
    expect(raw.status).toBe(202);
    await pollUntil(
      () => call<{ status: string }>(`${baseUrl()}/api/agent-runs/${waitingRun}`, { headers: alice }),
      (r) => r.body.status === 'terminated',
    );

    const first = await reconcilerPass();
    expect(first.value).toBe(202);
    expect(host.logs()).toContain("Reconciler: asked 41 ended runs' reservations to settle.");
    // Nothing has ended since: the pass reads the index's open rows (none) and its own state, and
    // makes no call to the task hub at all.
    const second = await reconcilerPass();
    expect(second.cost.durableRequests).toBe(0);
    expect(second.cost.tableRequests).toBeLessThanOrEqual(3);

    expect(host.logs()).toContain('Reconciler: indexed 640 runs started before the run index existed.');
    // Their owner finds them: the backfill did not hide them.
    const listed = await call<ListBody>(`${baseUrl()}/api/agent-runs?owner=ended-elsewhere&limit=100`, {
      headers: admin,
    });
    expect(listed.body.items).toHaveLength(40);
    expect(listed.body.items.every((i) => i.status === 'terminated')).toBe(true);

    // One more run ends behind the product's back: the next pass does the work of that one run.
    const another = await start({ prompt: 'What is 5 + 5?', approval: { required: true } }, alice);
    await pollUntil(
      () => call<{ status: string }>(`${baseUrl()}/api/agent-runs/${another}`, { headers: alice }),
      (r) => r.body.status === 'awaiting-approval',
    );
    await call(`${baseUrl()}/runtime/webhooks/durabletask/instances/${another}/terminate?reason=raw`, {
      method: 'POST',
      body: {},
    });
    await pollUntil(
      () => call<{ status: string }>(`${baseUrl()}/api/agent-runs/${another}`, { headers: alice }),
      (r) => r.body.status === 'terminated',
    );
    const third = await reconcilerPass();
    expect(host.logs().slice(-5000)).toContain("Reconciler: asked 1 ended runs' reservations to settle.");
    expect(third.cost.statusReads).toBeLessThan(20);
  });
});
