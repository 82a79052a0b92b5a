import { randomUUID } from 'node:crypto';
import type { QuotaSnapshot } from '../../src/contracts/quota';
import type { TokenQuotaState } from '../../src/entities/tokenQuota';
import { roles } from '../../src/lib/identity';
import { call, pollUntil, principalHeaders, startProduct, type Product } from '../support/product';

/**
 * GET /api/quota, GET and PUT /api/quota/{userId} on the running product: App Service Authentication's
 * headers (AUTH_MODE=appservice), the real token-quota entity under the devhost. A refused request is
 * checked after a barrier: a marker signal to the same entity, sent after the refusal was answered, so
 * that anything the refused request had queued would have been applied before the marker shows.
 */

let product: Product;
const defaultLimit = 1000;
const admin = principalHeaders('quota-admin-1', [roles.admin]);

beforeAll(async () => {
  product = await startProduct({
    env: {
      AUTH_MODE: 'appservice',
      QUOTA_DEFAULT_MONTHLY_TOKENS: String(defaultLimit),
      RUN_MAX_BODY_BYTES: '256',
    },
  });
});

afterAll(async () => {
  await product?.stop();
});

const api = () => `${product.baseUrl}/api`;
const entityUrl = (userId: string) =>
  `${product.baseUrl}/runtime/webhooks/durabletask/entities/tokenQuota/${encodeURIComponent(userId)}`;
const newUser = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

async function signal(userId: string, op: string, body: Record<string, unknown>): Promise<void> {
  const response = await call(`${entityUrl(userId)}?op=${op}`, { body });
  expect(response.status).toBe(202);
}

/** The entity's state once a marker signalled now has been applied: everything queued before it is in. */
async function stateAfterBarrier(userId: string): Promise<TokenQuotaState> {
  const marker = `marker-${randomUUID()}`;
  await signal(userId, 'release', { runId: marker, now: new Date().toISOString() });
  const state = await pollUntil(
    () => call<TokenQuotaState>(entityUrl(userId)),
    (r) => r.status === 200 && r.body.closed.some((c) => c.runId === marker),
  );
  return state.body;
}

const getQuota = (path: string, headers: Record<string, string>) =>
  call<QuotaSnapshot & { title?: string; errors?: unknown[] }>(`${api()}${path}`, { headers });

const putQuota = (
  userId: string,
  body: string,
  headers: Record<string, string> = admin,
  type = 'application/json',
) =>
  call<QuotaSnapshot & { title?: string; detail?: string; errors?: { name?: string }[] }>(
    `${api()}/quota/${userId}`,
    { method: 'PUT', body, headers: { ...headers, 'content-type': type } },
  );

describe('GET /api/quota', () => {
  it('shows a caller with no history the default limit for the current month', async () => {
    const user = newUser('fresh');
    const response = await getQuota('/quota', principalHeaders(user));
    expect(response.status).toBe(200);
    const now = new Date();
    const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    expect(response.body).toEqual({
      userId: user,
      monthlyTokenLimit: defaultLimit,
      used: 0,
      reserved: 0,
      remaining: defaultLimit,
      periodStart: start.toISOString(),
      periodEnd: end.toISOString(),
    });
  });

  it('shows what the entity holds for the caller, and only the caller', async () => {
    const alice = newUser('alice');
    const bob = newUser('bob');
    const now = new Date().toISOString();
    await signal(alice, 'reserve', { runId: 'run-a', tokens: 300, now });
    await signal(bob, 'commit', { runId: 'run-b', tokensUsed: 900, now });
    await stateAfterBarrier(alice);
    await stateAfterBarrier(bob);
    const response = await getQuota('/quota', principalHeaders(alice));
    expect(response.body).toMatchObject({ userId: alice, used: 0, reserved: 300, remaining: 700 });
  });

  it('answers 401 problem+json without a principal', async () => {
    const response = await getQuota('/quota', {});
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });
});

describe('GET /api/quota/{userId}', () => {
  it('lets an admin read anyone, and a user their own', async () => {
    const bob = newUser('bob');
    await signal(bob, 'commit', { runId: 'run-b', tokensUsed: 900, now: new Date().toISOString() });
    await stateAfterBarrier(bob);
    const byAdmin = await getQuota(`/quota/${bob}`, admin);
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body).toMatchObject({ userId: bob, used: 900, remaining: 100 });
    const own = await getQuota(`/quota/${bob}`, principalHeaders(bob));
    expect(own.status).toBe(200);
    expect(own.body).toEqual(byAdmin.body);
  });

  it("refuses another user's quota to a non-admin with 403, even with the Approve role", async () => {
    const response = await getQuota(`/quota/${newUser('bob')}`, principalHeaders('alice', [roles.approve]));
    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });

  it('answers 400 to an admin for an id that cannot be a user', async () => {
    const response = await getQuota('/quota/a%20b%40c', admin);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });

  it('answers 404 for a path that names no quota', async () => {
    expect((await getQuota('/quota/a/b', admin)).status).toBe(404);
  });
});

describe('PUT /api/quota/{userId}', () => {
  it('sets the limit, answers the applied quota, and the entity records who set it', async () => {
    const bob = newUser('bob');
    await signal(bob, 'commit', { runId: 'run-b', tokensUsed: 400, now: new Date().toISOString() });
    await stateAfterBarrier(bob);
    const response = await putQuota(bob, '{"monthlyTokenLimit": 5000}');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-location')).toBe(`${api()}/quota/${bob}`);
    expect(response.body).toMatchObject({ userId: bob, monthlyTokenLimit: 5000, used: 400, remaining: 4600 });
    const state = await stateAfterBarrier(bob);
    expect(state.limitOverride).toBe(5000);
    expect(state.lastLimitChange).toMatchObject({ setBy: 'quota-admin-1', monthlyTokenLimit: 5000 });
    expect((await getQuota(`/quota/${bob}`, principalHeaders(bob))).body.monthlyTokenLimit).toBe(5000);
  });

  it('refuses a run that needs more than the new limit, reserving nothing', async () => {
    const carol = newUser('carol');
    expect((await putQuota(carol, '{"monthlyTokenLimit": 500}')).status).toBe(200);
    const refused = await call<{ status: number }>(`${api()}/agent-runs`, {
      body: { prompt: 'What is 1 + 1?', maxTokens: 1000 },
      headers: principalHeaders(carol),
    });
    expect(refused.status).toBe(429);
    expect((await stateAfterBarrier(carol)).reservations).toEqual([]);
  });

  it.each([
    ['a non-admin, even for themselves', 'self', '{"monthlyTokenLimit": 5000}', 'approver', 403, undefined],
    ['no principal', 'self', '{"monthlyTokenLimit": 5000}', 'nobody', 401, undefined],
    ['malformed JSON', 'self', '{"monthlyTokenLimit": ', 'admin', 400, undefined],
    ['a string limit', 'self', '{"monthlyTokenLimit": "5000"}', 'admin', 400, 'monthlyTokenLimit'],
    ['a zero limit', 'self', '{"monthlyTokenLimit": 0}', 'admin', 400, 'monthlyTokenLimit'],
    ['a fractional limit', 'self', '{"monthlyTokenLimit": 1.5}', 'admin', 400, 'monthlyTokenLimit'],
    ['an absurd limit', 'self', '{"monthlyTokenLimit": 1e30}', 'admin', 400, 'monthlyTokenLimit'],
    ['an unknown field', 'self', '{"monthlyTokenLimit": 5, "used": 0}', 'admin', 400, 'used'],
    [
      'a key given twice',
      'self',
      '{"monthlyTokenLimit": 5, "monthlyTokenLimit": 6}',
      'admin',
      400,
      'monthlyTokenLimit',
    ],
    [
      'an oversized body',
      'self',
      JSON.stringify({ monthlyTokenLimit: 5, pad: 'x'.repeat(300) }),
      'admin',
      413,
      undefined,
    ],
  ])('refuses %s with problem+json and changes nothing', async (_case, _who, body, as, expected, field) => {
    const target = newUser('target');
    expect((await putQuota(target, '{"monthlyTokenLimit": 700}')).status).toBe(200);
    const before = await stateAfterBarrier(target);
    const headers =
      as === 'admin' ? admin : as === 'approver' ? principalHeaders(target, [roles.approve]) : {};
    const response = await putQuota(target, body, headers);
    expect(response.status).toBe(expected);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    if (field) expect(JSON.stringify(response.body.errors)).toContain(field);
    const after = await stateAfterBarrier(target);
    expect({ limit: after.limitOverride, change: after.lastLimitChange }).toEqual({
      limit: before.limitOverride,
      change: before.lastLimitChange,
    });
  });

  it('answers 400 for a bad user id and 415 for a body that is not JSON, signalling nothing', async () => {
    const target = newUser('target');
    expect((await putQuota('a..b%2Fc', '{"monthlyTokenLimit": 5000}')).status).toBe(400);
    const notJson = await putQuota(target, 'monthlyTokenLimit=5', admin, 'text/plain');
    expect(notJson.status).toBe(415);
    expect(notJson.headers.get('content-type')).toContain('application/problem+json');
    const after = await stateAfterBarrier(target);
    expect(after.limitOverride).toBeNull();
  });
});
