import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import type { EntityId, EntityStateResponse } from 'durable-functions';
import { loadConfig } from '../../src/config';
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

/**
 * The quota endpoints are tested on the running product in test/e2e/quota-endpoints.test.ts. What stays
 * here needs an entity slower than the endpoint's wait, which the devhost cannot be made to be.
 */
describe('PUT /api/quota/{userId} with a slow entity', () => {
  const put = (userId: string, body: string, headers: Record<string, string> = admin) =>
    request('PUT', `/api/quota/${userId}`, { headers, body });

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
});
