import { randomUUID } from 'node:crypto';
import type { QuotaSnapshot } from '../../src/contracts/quota';
import { call, pollUntil, principalHeaders, startProduct, type Product } from '../support/product';

/**
 * Issue #11, tokens are exact: concurrent runs against a small limit, some ended behind the product's
 * back with a raw terminate, then the reconciler. Whatever the timing, the user's `used` never passes the
 * limit, nothing stays reserved, and `used` is exactly what the runs themselves say they spent.
 */

interface Usage {
  totalTokens: number;
}
interface RawStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  output: { usage?: Usage } | string | null;
  customStatus: {
    stage?: string;
    usage?: Usage;
    progress?: { done: number; total: number };
    subtasks?: { id: string }[];
  } | null;
}
interface RunView {
  id: string;
  status: string;
  usage: Usage;
}
interface EntityState {
  used: number;
  reservations: { runId: string; tokens: number }[];
  closed: { runId: string; tokensUsed: number | null }[];
}

let product: Product;
const adminHeaders = principalHeaders('quota-admin', ['AgentRuns.Admin']);
const ended = new Set(['Completed', 'Failed', 'Terminated']);

beforeAll(async () => {
  product = await startProduct();
});

afterAll(async () => {
  await product?.stop();
});

const durable = () => `${product.baseUrl}/runtime/webhooks/durabletask`;
const rawStatus = (id: string) => call<RawStatus>(`${durable()}/instances/${id}?showInput=false`);

async function quotaOf(userId: string): Promise<QuotaSnapshot> {
  const response = await call<QuotaSnapshot>(`${product.baseUrl}/api/quota/${userId}`, {
    headers: adminHeaders,
  });
  expect(response.status).toBe(200);
  return response.body;
}

/** What a run spent by its own account: its output, or, if it was cut off, its status and its children's. */
async function ownTotal(id: string): Promise<number> {
  const run = (await rawStatus(id)).body;
  if (run.runtimeStatus === 'Completed' && typeof run.output === 'object' && run.output?.usage) {
    return run.output.usage.totalTokens;
  }
  let total = run.customStatus?.usage?.totalTokens ?? 0;
  const progress = run.customStatus?.progress;
  // Until the fan-out returns, the children's spend is theirs, not yet in the run's status.
  if (progress && progress.done < progress.total) {
    for (const child of run.customStatus?.subtasks ?? []) {
      const status = await rawStatus(`${id}-${child.id}`);
      if (status.status === 200) total += status.body.customStatus?.usage?.totalTokens ?? 0;
    }
  }
  return total;
}

it('keeps used within the limit and equal to the runs’ own totals, with cancels and raw terminates mixed in', async () => {
  const user = `endings-${randomUUID().slice(0, 8)}`;
  const headers = principalHeaders(user);
  // Room for every run to reserve, so each cut run holds a reservation when it is terminated; the
  // per-call bound, not the start gate, is what keeps each run within its 1200.
  const limit = 16 * 1200 + 500;
  const put = await call(`${product.baseUrl}/api/quota/${user}`, {
    method: 'PUT',
    body: { monthlyTokenLimit: limit },
    headers: adminHeaders,
  });
  expect([200, 202]).toContain(put.status);
  await pollUntil(
    () => quotaOf(user),
    (q) => q.monthlyTokenLimit === limit,
  );

  // Slow answers keep runs in flight long enough to be cut off at different stages.
  await call(`${product.emulatorUrl}/_emulator/latency`, { body: { ms: 800 } });
  try {
    const long = 'Explain in detail, with every step shown, '.repeat(40);
    const started = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
          // Small budgets and some long prompts: the per-call bound, not the start gate, keeps them in.
          body: {
            prompt: i % 4 === 0 ? `${long} What is ${i} * 7?` : `What is ${i} + 1?`,
            maxTokens: 1200,
            tools: ['calculator'],
            research: false,
          },
          headers,
        }),
      ),
    );
    const ids = started.filter((r) => r.status === 202).map((r) => r.body.runId);
    expect(ids.length).toBeGreaterThan(2);

    // Every third run is terminated through the raw management API, while planning or while its
    // subtasks work (their children then run on until the reconciler stops them); every third other
    // one is cancelled through the product at the same stages.
    const cut = ids.filter((_, i) => i % 3 === 1);
    const cancelled = ids.filter((_, i) => i % 3 === 2);
    const cancelAnswers = new Map<string, number>();
    const atStage = (id: string, i: number) =>
      pollUntil(
        () => rawStatus(id),
        (r) =>
          r.body.customStatus?.stage === (i % 2 === 0 ? 'planning' : 'working') ||
          ended.has(r.body.runtimeStatus),
        60_000,
      );
    await Promise.all([
      ...cut.map(async (id, i) => {
        await atStage(id, i);
        await call(`${durable()}/instances/${id}/terminate?reason=raw`, { method: 'POST', body: {} });
      }),
      ...cancelled.map(async (id, i) => {
        await atStage(id, i + 1);
        const answer = await call(`${product.baseUrl}/api/agent-runs/${id}/cancel`, {
          method: 'POST',
          headers,
        });
        // 410: it had ended by itself in the meantime.
        expect([202, 410]).toContain(answer.status);
        cancelAnswers.set(id, answer.status);
      }),
    ]);

    await pollUntil(
      async () => Promise.all(ids.map(async (id) => (await rawStatus(id)).body.runtimeStatus)),
      (statuses) => statuses.every((s) => ended.has(s)),
      120_000,
    );

    const entityUrl = `${durable()}/entities/tokenQuota/${user}`;
    // The raw terminates left reservations open: nothing in the run settled them.
    const before = await call<EntityState>(entityUrl);
    expect(before.body.reservations.length).toBeGreaterThan(0);

    // The reconciler (a timer in Azure; run on demand here) settles what the raw terminates left open.
    expect(
      (await call(`${product.baseUrl}/admin/functions/reconcileReservations`, { body: {} })).status,
    ).toBe(202);
    const state = await pollUntil(
      () => call<EntityState>(entityUrl),
      // Runs refused for quota, or cut off before they reserved, never appear among the closed.
      (r) => r.status === 200 && r.body.reservations.length === 0,
      60_000,
    );

    const quota = await quotaOf(user);
    expect(quota.reserved).toBe(0);
    expect(quota.used).toBeLessThanOrEqual(limit);
    // Per run: the entity counted exactly what the run says it spent.
    const totals = await Promise.all(ids.map(ownTotal));
    const counted = ids.map((id) => state.body.closed.find((c) => c.runId === id)?.tokensUsed ?? 0);
    expect(counted).toEqual(totals);
    for (const total of totals) expect(total).toBeLessThanOrEqual(1200);
    expect(quota.used).toBe(totals.reduce((a, b) => a + b, 0));
    // And as the user sees it: the sum of the usage in each run's view.
    const views = await Promise.all(
      ids.map((id) => call<RunView>(`${product.baseUrl}/api/agent-runs/${id}`, { headers })),
    );
    expect(views.map((v) => v.body.usage.totalTokens)).toEqual(totals);
    const cancelledViews = views.filter((v) => cancelled.includes(v.body.id));
    // A run the product cancelled (202) ends terminated; a 410 means it had ended by itself.
    for (const view of cancelledViews) {
      if (cancelAnswers.get(view.body.id) === 202) expect(view.body.status).toBe('terminated');
      else expect(['completed', 'budget-spent']).toContain(view.body.status);
    }
    // No child of any run is still going.
    const children = await call<{ instanceId: string; runtimeStatus: string }[]>(
      `${durable()}/instances?runtimeStatus=Running,Pending`,
    );
    expect(children.body.filter((c) => ids.some((id) => c.instanceId.startsWith(id)))).toEqual([]);
  } finally {
    await call(`${product.emulatorUrl}/_emulator/latency`, { body: { ms: 0 } });
  }
});

it('counts once what activities spent when their replies were lost and they ran again', async () => {
  const user = `twice-${randomUUID().slice(0, 8)}`;
  const headers = principalHeaders(user);
  const fault = async (body: Record<string, unknown>) =>
    expect((await call(`${product.emulatorUrl}/_emulator/faults`, { body })).status).toBe(201);
  await call(`${product.emulatorUrl}/_emulator/reset`, { body: {} });
  // Each request below is carried out by the service, and then its answer never arrives.
  await fault({ lostReply: true, service: 'openai', count: 2 }); // the plan, then the next call
  await fault({ lostReply: true, service: 'agents', path: '/threads/runs', method: 'POST' });
  await fault({ lostReply: true, service: 'agents', path: '/messages', method: 'GET' });
  await fault({ lostReply: true, service: 'agents', method: 'DELETE' });
  try {
    const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
      body: {
        prompt: 'Research the latest news about Azure Durable Functions.',
        tools: [],
        research: true,
      },
      headers,
    });
    expect(started.status).toBe(202);
    const id = started.body.runId;
    const view = (
      await pollUntil(
        () =>
          call<RunView & { subtasks?: { kind: string; ok: boolean }[] }>(
            `${product.baseUrl}/api/agent-runs/${id}`,
            { headers },
          ),
        (r) => r.status === 200 && ['completed', 'failed', 'terminated'].includes(r.body.status),
        90_000,
      )
    ).body;
    expect(view.status).toBe('completed');
    expect(view.subtasks?.filter((s) => s.kind === 'research').map((s) => s.ok)).toEqual([true]);

    const log = await call<{ requests: { operation?: string; lostReply?: boolean; service: string }[] }>(
      `${product.emulatorUrl}/_emulator/requests?service=agents`,
    );
    const operations = log.body.requests.map((r) => r.operation);
    // Every fault was met, and the retried start found the run it had made instead of starting another.
    expect(log.body.requests.filter((r) => r.lostReply).length).toBe(3);
    expect(operations.filter((o) => o === 'createThreadAndRun' || o === 'createRun')).toHaveLength(1);
    const faults = await call<{ faults: unknown[] }>(`${product.emulatorUrl}/_emulator/faults`);
    expect(faults.body.faults).toEqual([]);

    // What the run says it spent is what the quota counted, once, and nothing stays reserved.
    const quota = await pollUntil(
      () => quotaOf(user),
      (q) => q.reserved === 0,
    );
    expect(quota.used).toBe(view.usage.totalTokens);
    const state = await call<EntityState>(`${durable()}/entities/tokenQuota/${user}`);
    expect(state.body.closed.find((c) => c.runId === id)?.tokensUsed).toBe(view.usage.totalTokens);
  } finally {
    await call(`${product.emulatorUrl}/_emulator/reset`, { body: {} });
  }
});
