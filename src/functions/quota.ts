import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  app,
  type HttpHandler,
  type HttpRequest,
  type HttpResponseInit,
  type InvocationContext,
} from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient } from 'durable-functions';
import type { AppConfig } from '../config';
import { setQuotaLimitBodySchema, type QuotaSnapshot, type SetLimitInput } from '../contracts/quota';
import {
  applyQuotaOperation,
  quotaSnapshot,
  tokenQuotaEntityId,
  type TokenQuotaState,
} from '../entities/tokenQuota';
import { problem, readJsonBody, withProblemAnswers } from '../lib/http';
import { sameSiteOnly } from '../lib/sameSite';
import { isAdmin, resolveCaller, roles } from '../lib/identity';
import { isValidUserId, userIdRule } from '../lib/ids';
import { functionNames } from '../names';

/** What the quota endpoints need of the durable client; tests pass one backed by the entity's reducer. */
export type QuotaClient = Pick<DurableClient, 'readEntityState' | 'signalEntity'>;

export interface QuotaHandlerDeps {
  config: AppConfig;
  /** The clock that picks the period shown; the wall clock unless a test fixes it. */
  now?: () => Date;
  client?: (context: InvocationContext) => QuotaClient;
  /** How long PUT waits to see its change applied before answering 202 instead of 200. */
  settleMs?: number;
}

export interface QuotaHandlers {
  /** `GET /api/quota`: the caller's own quota. */
  getMyQuota: HttpHandler;
  /** `GET /api/quota/{userId}`: any user's quota for an admin; your own for anyone. */
  getUserQuota: HttpHandler;
  /** `PUT /api/quota/{userId}` with `{"monthlyTokenLimit": n}`: admin only. */
  putUserQuota: HttpHandler;
}

const noStore = { 'Cache-Control': 'no-store' };

export function createQuotaHandlers(deps: QuotaHandlerDeps): QuotaHandlers {
  const { config } = deps;
  const now = deps.now ?? (() => new Date());
  const clientOf = deps.client ?? ((context: InvocationContext) => df.getClient(context));
  const settleMs = deps.settleMs ?? 3000;
  const defaults = config.quota.defaultMonthlyTokens;

  const readState = async (client: QuotaClient, userId: string): Promise<TokenQuotaState | undefined> => {
    const read = await client.readEntityState<TokenQuotaState>(tokenQuotaEntityId(userId));
    return read.entityExists ? read.entityState : undefined;
  };
  const snapshotOf = async (client: QuotaClient, userId: string): Promise<QuotaSnapshot> =>
    quotaSnapshot(await readState(client, userId), userId, now(), defaults);

  /** The route's user id, if the caller may see that user's quota. Admins see anyone; others only themselves. */
  const routeUser = (
    request: HttpRequest,
    caller: { userId: string },
    admin: boolean,
  ): { ok: true; userId: string } | { ok: false; response: HttpResponseInit } => {
    const userId = request.params.userId ?? '';
    if (!admin && userId !== caller.userId) {
      return {
        ok: false,
        response: problem(
          403,
          'Forbidden',
          `Only the ${roles.admin} role may read or change another user's quota.`,
        ),
      };
    }
    if (!isValidUserId(userId)) {
      return {
        ok: false,
        response: problem(400, 'Invalid user id', userIdRule, { userId: userId.slice(0, 200) }),
      };
    }
    return { ok: true, userId };
  };

  const getMyQuota: HttpHandler = async (request, context) => {
    const who = resolveCaller(request, config.authMode);
    if (!who.ok) return who.response;
    const quota = await snapshotOf(clientOf(context), who.caller.userId);
    return { status: 200, headers: noStore, jsonBody: quota };
  };

  const getUserQuota: HttpHandler = async (request, context) => {
    const who = resolveCaller(request, config.authMode);
    if (!who.ok) return who.response;
    const target = routeUser(request, who.caller, isAdmin(who.caller));
    if (!target.ok) return target.response;
    const quota = await snapshotOf(clientOf(context), target.userId);
    return { status: 200, headers: noStore, jsonBody: quota };
  };

  const putUserQuota: HttpHandler = async (request, context) => {
    const who = resolveCaller(request, config.authMode);
    if (!who.ok) return who.response;
    const caller = who.caller;
    if (!isAdmin(caller)) {
      return problem(403, 'Forbidden', `Only the ${roles.admin} role may set a quota limit.`);
    }
    const target = routeUser(request, caller, true);
    if (!target.ok) return target.response;
    const body = await readJsonBody(request, setQuotaLimitBodySchema, {
      maxBytes: config.limits.maxBodyBytes,
    });
    if (!body.ok) return body.response;

    const client = clientOf(context);
    const userId = target.userId;
    const input: SetLimitInput = {
      monthlyTokenLimit: body.value.monthlyTokenLimit,
      now: now().toISOString(),
      requestId: randomUUID(),
      setBy: caller.userId,
    };
    // A durable client can only signal an entity, not await it. The signal is stored before this returns,
    // so the change will happen; waiting a moment for it lets most callers get the applied quota (200),
    // and a slow store gets 202 with the quota as it will be and where to read it.
    const before = await readState(client, userId);
    await client.signalEntity(tokenQuotaEntityId(userId), 'setLimit', input);
    context.log(`Quota limit of ${userId} set to ${input.monthlyTokenLimit} by ${caller.userId}.`);

    const location = new URL(`/api/quota/${encodeURIComponent(userId)}`, request.url).href;
    const giveUpAt = Date.now() + settleMs;
    for (;;) {
      const state = await readState(client, userId);
      if (state?.lastLimitChange?.requestId === input.requestId) {
        return {
          status: 200,
          headers: { ...noStore, 'Content-Location': location },
          jsonBody: quotaSnapshot(state, userId, now(), defaults),
        };
      }
      if (Date.now() >= giveUpAt) break;
      await sleep(50);
    }
    const expected = applyQuotaOperation(before, 'setLimit', input, {
      userId,
      defaultMonthlyTokens: defaults,
    });
    return {
      status: 202,
      headers: { ...noStore, Location: location, 'Retry-After': '1' },
      jsonBody: expected.result,
    };
  };

  return { getMyQuota, getUserQuota, putUserQuota };
}

/** Registers `GET /api/quota` and `GET|PUT /api/quota/{userId}`, keyed at function level. */
export function registerQuotaFunctions(config: AppConfig): void {
  const handlers = createQuotaHandlers({ config });
  const putUserQuota = sameSiteOnly(handlers.putUserQuota, 'json');
  const extraInputs = [df.input.durableClient()];
  app.http(functionNames.getQuota, {
    route: 'quota',
    methods: ['GET'],
    authLevel: 'function',
    extraInputs,
    handler: withProblemAnswers(handlers.getMyQuota),
  });
  app.http(functionNames.manageQuota, {
    route: 'quota/{userId}',
    methods: ['GET', 'PUT'],
    authLevel: 'function',
    extraInputs,
    handler: withProblemAnswers((request, context) =>
      request.method === 'PUT' ? putUserQuota(request, context) : handlers.getUserQuota(request, context),
    ),
  });
}
