import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import type { EntityId, EntityStateResponse } from 'durable-functions';
import { loadConfig } from '../../src/config';
import type { QuotaSnapshot } from '../../src/contracts/quota';
import { applyQuotaOperation, type TokenQuotaState } from '../../src/entities/tokenQuota';
import { createQuotaHandlers, type QuotaClient } from '../../src/functions/quota';
import { roles } from '../../src/lib/identity';

const config = loadConfig({
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:7072',
  AZURE_OPENAI_FAST_DEPLOYMENT: 'gpt-4o-mini',
  AZURE_OPENAI_STRONG_DEPLOYMENT: 'gpt-4o',
  AUTH_MODE: 'appservice',
  RUN_URL_SIGNING_KEY: 'unit-test-signing-key-0123456789abcdef0123',
  QUOTA_DEFAULT_MONTHLY_TOKENS: '1000',
  RUN_MAX_BODY_BYTES: '256',
});
const now = new Date('2026-03-10T12:00:00Z');

/** A durable client over an in-memory store that runs the entity's own reducer, now or when told. */
function fakeDurable(options: { applySignalsAt: 'once' | 'later' } = { applySignalsAt: 'once' }) {
  const states = new Map<string, TokenQuotaState>();
  const queued: { key: string; operation: string; input: unknown }[] = [];
  const signals: { key: string; operation: string; input: unknown }[] = [];
  const apply = (key: string, operation: string, input: unknown) => {
    const next = applyQuotaOperation(states.get(key), operation, JSON.parse(JSON.stringify(input)), {
      userId: key,
      defaultMonthlyTokens: config.quota.defaultMonthlyTokens,
    });
    states.set(key, JSON.parse(JSON.stringify(next.state)) as TokenQuotaState);
  };
  const client: QuotaClient = {
    readEntityState: <T>(id: EntityId) =>
      Promise.resolve({
        entityExists: states.has(id.key),
        entityState: states.get(id.key),
      } as EntityStateResponse<T>),
    signalEntity: (id: EntityId, operation?: string, input?: unknown) => {
      signals.push({ key: id.key, operation: operation ?? '', input });
      if (options.applySignalsAt === 'once') apply(id.key, operation ?? '', input);
      else queued.push({ key: id.key, operation: operation ?? '', input });
      return Promise.resolve();
    },
  };
  return {
    client,
    signals,
    apply,
    deliverQueued: () => queued.splice(0).forEach((s) => apply(s.key, s.operation, s.input)),
  };
}

function principal(userId: string, userRoles: string[] = []) {
  const claims = userRoles.map((val) => ({ typ: 'roles', val }));
  return {
    'x-ms-client-principal': Buffer.from(JSON.stringify({ role_typ: 'roles', claims })).toString('base64'),
    'x-ms-client-principal-id': userId,
  };
}
const admin = principal('admin-1', [roles.admin]);

function request(
  method: string,
  path: string,
  init: { headers?: Record<string, string>; body?: string } = {},
) {
  const userId = /^\/api\/quota\/(.*)$/.exec(path)?.[1];
  return new HttpRequest({
    method,
    url: `http://localhost:7071${path}`,
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: { string: init.body } }),
    ...(userId === undefined ? {} : { params: { userId: decodeURIComponent(userId) } }),
  });
}

const context = () => new InvocationContext({ logHandler: () => undefined });
const setup = (options?: Parameters<typeof fakeDurable>[0], settleMs = 200) => {
  const durable = fakeDurable(options);
  const handlers = createQuotaHandlers({ config, now: () => now, client: () => durable.client, settleMs });
  return { durable, handlers };
};
const json = <T = Record<string, unknown>>(response: unknown) => (response as HttpResponseInit).jsonBody as T;
const status = (response: unknown) => (response as HttpResponseInit).status;

describe('GET /api/quota', () => {
  it('shows a caller with no history the default limit for the current month', async () => {
    const { handlers } = setup();
    const response = await handlers.getMyQuota(
      request('GET', '/api/quota', { headers: principal('alice') }),
      context(),
    );
    expect(status(response)).toBe(200);
    expect(json(response)).toEqual({
      userId: 'alice',
      monthlyTokenLimit: 1000,
      used: 0,
      reserved: 0,
      remaining: 1000,
      periodStart: '2026-03-01T00:00:00.000Z',
      periodEnd: '2026-04-01T00:00:00.000Z',
    });
  });

  it('shows what the entity holds for the caller, and only the caller', async () => {
    const { durable, handlers } = setup();
    durable.apply('alice', 'reserve', { runId: 'run-a', tokens: 300, now: now.toISOString() });
    durable.apply('bob', 'commit', { runId: 'run-b', tokensUsed: 900, now: now.toISOString() });
    const response = await handlers.getMyQuota(
      request('GET', '/api/quota', { headers: principal('alice') }),
      context(),
    );
    expect(json(response)).toMatchObject({ userId: 'alice', used: 0, reserved: 300, remaining: 700 });
  });

  it('answers 401 without a principal in appservice mode', async () => {
    const { handlers } = setup();
    expect(status(await handlers.getMyQuota(request('GET', '/api/quota'), context()))).toBe(401);
  });
});

describe('GET /api/quota/{userId}', () => {
  it('lets an admin read anyone', async () => {
    const { durable, handlers } = setup();
    durable.apply('bob', 'commit', { runId: 'run-b', tokensUsed: 900, now: now.toISOString() });
    const response = await handlers.getUserQuota(
      request('GET', '/api/quota/bob', { headers: admin }),
      context(),
    );
    expect(status(response)).toBe(200);
    expect(json(response)).toMatchObject({ userId: 'bob', used: 900, remaining: 100 });
  });

  it('lets a user read their own', async () => {
    const { handlers } = setup();
    const response = await handlers.getUserQuota(
      request('GET', '/api/quota/alice', { headers: principal('alice') }),
      context(),
    );
    expect(status(response)).toBe(200);
  });

  it("refuses another user's quota to a non-admin with 403, even with the Approve role", async () => {
    const { handlers } = setup();
    const response = await handlers.getUserQuota(
      request('GET', '/api/quota/bob', { headers: principal('alice', [roles.approve]) }),
      context(),
    );
    expect(status(response)).toBe(403);
  });

  it('answers 400 to an admin for an id that cannot be a user', async () => {
    const { handlers } = setup();
    const response = await handlers.getUserQuota(
      request('GET', '/api/quota/a%20b%40c', { headers: admin }),
      context(),
    );
    expect(status(response)).toBe(400);
  });
});

describe('PUT /api/quota/{userId}', () => {
  const put = (userId: string, body: string, headers: Record<string, string> = admin) =>
    request('PUT', `/api/quota/${userId}`, { headers, body });

  it('sets the limit and answers 200 with the applied quota once the entity has taken it', async () => {
    const { durable, handlers } = setup();
    durable.apply('bob', 'commit', { runId: 'run-b', tokensUsed: 400, now: now.toISOString() });
    const response = await handlers.putUserQuota(put('bob', '{"monthlyTokenLimit": 5000}'), context());
    expect(status(response)).toBe(200);
    expect(json<QuotaSnapshot>(response)).toMatchObject({
      userId: 'bob',
      monthlyTokenLimit: 5000,
      used: 400,
      remaining: 4600,
    });
    expect(durable.signals).toEqual([
      {
        key: 'bob',
        operation: 'setLimit',
        input: {
          monthlyTokenLimit: 5000,
          now: now.toISOString(),
          requestId: expect.any(String) as string,
          setBy: 'admin-1',
        },
      },
    ]);
  });

  it('answers 202 with the expected quota and a Location when the entity is slow to take it', async () => {
    const { durable, handlers } = setup({ applySignalsAt: 'later' }, 50);
    const response = (await handlers.putUserQuota(
      put('bob', '{"monthlyTokenLimit": 5000}'),
      context(),
    )) as HttpResponseInit;
    expect(response.status).toBe(202);
    expect(new Headers(response.headers).get('location')).toBe('http://localhost:7071/api/quota/bob');
    expect(json(response)).toMatchObject({ userId: 'bob', monthlyTokenLimit: 5000, remaining: 5000 });
    durable.deliverQueued();
    const after = await handlers.getUserQuota(
      request('GET', '/api/quota/bob', { headers: admin }),
      context(),
    );
    expect(json(after)).toMatchObject({ monthlyTokenLimit: 5000 });
  });

  it.each([
    [
      'a non-admin, even for themselves',
      'alice',
      '{"monthlyTokenLimit": 5000}',
      principal('alice', [roles.approve]),
      403,
    ],
    ['no principal', 'alice', '{"monthlyTokenLimit": 5000}', {}, 401],
    ['a bad user id', 'a..b%2Fc', '{"monthlyTokenLimit": 5000}', admin, 400],
    ['malformed JSON', 'bob', '{"monthlyTokenLimit": ', admin, 400],
    ['a string limit', 'bob', '{"monthlyTokenLimit": "5000"}', admin, 400],
    ['a zero limit', 'bob', '{"monthlyTokenLimit": 0}', admin, 400],
    ['a fractional limit', 'bob', '{"monthlyTokenLimit": 1.5}', admin, 400],
    ['an absurd limit', 'bob', '{"monthlyTokenLimit": 1e30}', admin, 400],
    ['an unknown field', 'bob', '{"monthlyTokenLimit": 5, "used": 0}', admin, 400],
    ['an oversized body', 'bob', JSON.stringify({ monthlyTokenLimit: 5, pad: 'x'.repeat(300) }), admin, 413],
  ])('refuses %s without signalling anything', async (_case, userId, body, headers, expected) => {
    const { durable, handlers } = setup();
    const response = await handlers.putUserQuota(put(userId, body, headers), context());
    expect(status(response)).toBe(expected);
    expect(durable.signals).toEqual([]);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const { durable, handlers } = setup();
    const response = await handlers.putUserQuota(
      request('PUT', '/api/quota/bob', {
        headers: { ...admin, 'content-type': 'text/plain' },
        body: 'monthlyTokenLimit=5',
      }),
      context(),
    );
    expect(status(response)).toBe(415);
    expect(durable.signals).toEqual([]);
  });
});
