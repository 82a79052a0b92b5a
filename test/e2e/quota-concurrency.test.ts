import { randomUUID } from 'node:crypto';
import type { QuotaSnapshot } from '../../src/contracts/quota';
import { call, pollUntil, principalHeaders, startProduct, type Product } from '../support/product';

/**
 * Issue #6: a burst of runs against a quota that covers only a few. The quota entity must never grant
 * more than the limit, every run it cannot cover ends as quota-exceeded (or is refused by the starter
 * with 429), and the entity's books match the runs afterwards.
 */

interface RunView {
  id: string;
  status: string;
  usage: { totalTokens: number };
  quota?: { remaining: number; monthlyTokenLimit: number; periodEnd: string };
  message?: string;
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  quota?: QuotaSnapshot;
  requestedTokens?: number;
}

const terminal = ['completed', 'rejected', 'expired', 'failed', 'terminated', 'quota-exceeded'];
const runs = 100;
/** Each run asks for this budget; the limit covers three of them at a time. */
const budget = 4000;
const limit = 3 * budget;

let product: Product;
const user = `burst-${randomUUID().slice(0, 8)}`;
const userHeaders = principalHeaders(user);
const adminHeaders = principalHeaders('quota-admin', ['AgentRuns.Admin']);

beforeAll(async () => {
  product = await startProduct();
});

afterAll(async () => {
  await product?.stop();
});

async function quotaOf(userId: string): Promise<QuotaSnapshot> {
  const response = await call<QuotaSnapshot>(`${product.baseUrl}/api/quota/${userId}`, {
    headers: adminHeaders,
  });
  if (response.status !== 200)
    throw new Error(`GET quota answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

async function setLimit(userId: string, monthlyTokenLimit: number) {
  const response = await call<QuotaSnapshot>(`${product.baseUrl}/api/quota/${userId}`, {
    method: 'PUT',
    body: { monthlyTokenLimit },
    headers: adminHeaders,
  });
  expect([200, 202]).toContain(response.status);
  expect(response.body.monthlyTokenLimit).toBe(monthlyTokenLimit);
  await pollUntil(
    () => quotaOf(userId),
    (q) => q.monthlyTokenLimit === monthlyTokenLimit,
  );
}

/**
 * Starts `runs` runs for `userId` at once, waits for all of them to end, and checks what must hold
 * whatever the timing: every run either got through or ended as quota-exceeded (429 at the starter, or
 * refused by the entity), and the entity holds nothing afterwards and counts exactly what was spent.
 */
async function burst(userId: string) {
  const headers = principalHeaders(userId);
  await setLimit(userId, limit);
  expect(await quotaOf(userId)).toMatchObject({
    monthlyTokenLimit: limit,
    used: 0,
    reserved: 0,
    remaining: limit,
  });

  const started = await Promise.all(
    Array.from({ length: runs }, (_, i) =>
      call<{ runId: string } & Problem>(`${product.baseUrl}/api/agent-runs`, {
        body: { prompt: `What is ${i} + 1?`, maxTokens: budget, tools: ['calculator'], research: false },
        headers,
      }),
    ),
  );
  const refused = started.filter((r) => r.status === 429);
  const accepted = started.filter((r) => r.status === 202);
  expect(started.filter((r) => r.status !== 429 && r.status !== 202).map((r) => [r.status, r.body])).toEqual(
    [],
  );
  for (const response of refused) {
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(response.body).toMatchObject({ status: 429, requestedTokens: budget });
    expect(response.body.quota?.remaining).toBeLessThan(budget);
  }

  const views = new Map<string, RunView>();
  const pending = new Set(accepted.map((r) => r.body.runId));
  await pollUntil(
    async () => {
      for (const id of [...pending]) {
        const view = await call<RunView>(`${product.baseUrl}/api/agent-runs/${id}`, { headers });
        if (view.status === 200 && terminal.includes(view.body.status)) {
          views.set(id, view.body);
          pending.delete(id);
        }
      }
      return pending.size;
    },
    (left) => left === 0,
    120_000,
  );

  const granted = [...views.values()].filter((v) => v.status !== 'quota-exceeded');
  const exceeded = [...views.values()].filter((v) => v.status === 'quota-exceeded');
  expect(granted.length).toBeGreaterThanOrEqual(1);
  expect(granted.length + exceeded.length + refused.length).toBe(runs);
  expect(granted.map((v) => v.status)).toEqual(granted.map(() => 'completed'));
  for (const view of exceeded) {
    expect(view.usage.totalTokens).toBe(0);
    expect(view.message).toMatch(/tokens/);
    expect(view.quota?.remaining).toBeLessThan(budget);
  }
  // Each granted run stayed within the budget it reserved.
  for (const view of granted) expect(view.usage.totalTokens).toBeLessThanOrEqual(budget);

  // The entity's numbers: nothing held any more; usage is exactly what the granted runs spent.
  const spent = granted.reduce((sum, v) => sum + v.usage.totalTokens, 0);
  const quota = await quotaOf(userId);
  expect(quota).toMatchObject({
    monthlyTokenLimit: limit,
    reserved: 0,
    used: spent,
    remaining: limit - spent,
  });
  expect(quota.used).toBeLessThanOrEqual(limit);
  // GET /api/quota shows the caller the same numbers.
  const mine = await call<QuotaSnapshot>(`${product.baseUrl}/api/quota`, { headers });
  expect(mine.status).toBe(200);
  expect(mine.body).toEqual(quota);
  return { granted, exceeded, refused };
}

it(`grants exactly what the limit covers when ${runs} runs ask at once and hold their reservations`, async () => {
  // Slow model answers keep every granted run from committing (and so freeing its unused budget) until
  // all the reservations have been decided: the limit of three budgets must then admit exactly three.
  await call(`${product.emulatorUrl}/_emulator/latency`, { body: { ms: 4000 } });
  try {
    const { granted, exceeded, refused } = await burst(user);
    expect(granted).toHaveLength(limit / budget);
    expect(exceeded.length + refused.length).toBe(runs - limit / budget);
  } finally {
    await call(`${product.emulatorUrl}/_emulator/latency`, { body: { ms: 0 } });
  }
});

it(`keeps the books right when ${runs} quick runs free their unused budget as they finish`, async () => {
  // Quick runs commit while others are still reserving, so more than three may get through over time;
  // the entity still never holds more than the limit and counts each run's usage once.
  const { exceeded, refused } = await burst(`flow-${randomUUID().slice(0, 8)}`);
  expect(exceeded.length + refused.length).toBeGreaterThan(0);
});

it('never over-grants when the entity itself gets 100 concurrent reserves, each delivered twice', async () => {
  // Straight to the entity through the durable HTTP API, past the starter's own check: only the
  // entity's one-at-a-time operations stand between the burst and the limit.
  const target = `direct-${randomUUID().slice(0, 8)}`;
  await setLimit(target, limit);
  const now = new Date().toISOString();
  const entityUrl = `${product.baseUrl}/runtime/webhooks/durabletask/entities/tokenQuota/${target}`;
  const signal = (op: string, body: Record<string, unknown>) => call(`${entityUrl}?op=${op}`, { body });
  const ids = Array.from({ length: runs }, (_, i) => `direct-run-${i}`);
  const answers = await Promise.all(
    [...ids, ...ids].map((runId) => signal('reserve', { runId, tokens: budget, now })),
  );
  expect(answers.map((a) => a.status)).toEqual(answers.map(() => 202));
  // Sent after every reserve was accepted, so once it shows, all of them have been applied.
  expect((await signal('release', { runId: 'marker', now })).status).toBe(202);
  const state = await pollUntil(
    () => call<{ reservations: { runId: string; tokens: number }[]; closed: { runId: string }[] }>(entityUrl),
    (r) => r.status === 200 && r.body.closed.some((c) => c.runId === 'marker'),
  );
  const held = state.body.reservations;
  expect(held).toHaveLength(limit / budget);
  expect(new Set(held.map((r) => r.runId)).size).toBe(held.length);
  expect(await quotaOf(target)).toMatchObject({ reserved: limit, used: 0, remaining: 0 });
});

it('refuses a run at the starter with 429, Retry-After until the period ends, and problem+json', async () => {
  const other = `tight-${randomUUID().slice(0, 8)}`;
  await setLimit(other, budget - 1);
  const response = await call<Problem>(`${product.baseUrl}/api/agent-runs`, {
    body: { prompt: 'What is 1 + 1?', maxTokens: budget },
    headers: principalHeaders(other),
  });
  expect(response.status).toBe(429);
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  const quota = response.body.quota;
  expect(quota).toMatchObject({ userId: other, monthlyTokenLimit: budget - 1, remaining: budget - 1 });
  const untilPeriodEnd = (Date.parse(quota?.periodEnd ?? '') - Date.now()) / 1000;
  expect(Math.abs(Number(response.headers.get('retry-after')) - untilPeriodEnd)).toBeLessThan(30);
  expect(JSON.stringify(response.body)).not.toMatch(/\bat .*\.(js|ts):\d+/);
  // Nothing was reserved or started for it.
  expect(await quotaOf(other)).toMatchObject({ used: 0, reserved: 0 });
});

it("shows a non-admin their own quota and refuses anyone else's with 403", async () => {
  const own = await call<QuotaSnapshot>(`${product.baseUrl}/api/quota/${user}`, { headers: userHeaders });
  expect(own.status).toBe(200);
  const others = await call<Problem>(`${product.baseUrl}/api/quota/quota-admin`, { headers: userHeaders });
  expect(others.status).toBe(403);
  const put = await call<Problem>(`${product.baseUrl}/api/quota/${user}`, {
    method: 'PUT',
    body: { monthlyTokenLimit: 10 ** 9 },
    headers: userHeaders,
  });
  expect(put.status).toBe(403);
  expect((await quotaOf(user)).monthlyTokenLimit).toBe(limit);
});
