import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { AppConfig } from '../config';
import { problem, withProblemAnswers } from '../lib/http';
import { isAdmin, resolveCaller, roles } from '../lib/identity';
import { isValidUserId, userIdRule } from '../lib/ids';
import { functionNames, orchestratorNames } from '../names';
import { listPage, type Cursor } from '../runIndex/listPage';
import type { RunIndex } from '../runIndex/table';
import { getStatusOrNull } from '../runView/live';
import { runLinks, runViewStatuses, type RunViewStatus } from '../runView/view';

/**
 * `GET /api/agent-runs`: the caller's runs, newest first, read from the run index (src/runIndex/), so a
 * page costs the same whatever the task hub holds.
 *
 * Durable's instance query cannot do this: it filters by created time and runtime status only, which the
 * Azure Storage provider cannot look up by key (CreatedTime and RuntimeStatus are plain properties of the
 * Instances table, whose key is the instance id: Azure/durabletask,
 * src/DurableTask.AzureStorage/Tracking/OrchestrationInstanceStatusQueryCondition.cs), and the owner is in
 * the input, which no query filters on. The whole table would be read, 100 rows a request (the
 * extension's default page size, OrchestrationStatusQueryCondition.PageSize in
 * Azure/azure-functions-durable-extension), for every page.
 *
 * The continuation token is a keyset cursor (the last run's created time and id), not an offset: runs
 * started while someone pages do not shift the pages.
 */

const viewStatuses: readonly RunViewStatus[] = runViewStatuses;

const defaultLimit = 20;
const maxLimit = 100;
const knownParams = new Set(['status', 'limit', 'continuationToken', 'owner']);

export interface RunListItem {
  id: string;
  status: RunViewStatus;
  stage: string;
  createdTime: string;
  lastUpdatedTime: string;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number };
  preview: string;
  links: { run: string; approval: string };
}

export function registerRunListFunction(config: AppConfig, index: RunIndex): void {
  app.http(functionNames.listAgentRuns, {
    route: 'agent-runs',
    methods: ['GET'],
    authLevel: 'function',
    extraInputs: [df.input.durableClient()],
    handler: withProblemAnswers(createListAgentRuns(config, index)),
  });
}

export function createListAgentRuns(config: AppConfig, index: RunIndex) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const who = resolveCaller(request, config.authMode);
    if (!who.ok) return who.response;
    const caller = who.caller;
    // From the URL itself: the host hands functions the query as a map, which drops repeated keys.
    const query = new URL(request.url).searchParams;

    const unknown = [...query.keys()].filter((k) => !knownParams.has(k));
    if (unknown.length > 0) {
      return problem(
        400,
        'Unknown query parameter',
        `The list takes status, limit, continuationToken and owner; not ${unknown.join(', ')}.`,
        { parameters: unknown.slice(0, 10) },
      );
    }
    for (const name of knownParams) {
      if (query.getAll(name).length > 1) {
        return problem(400, 'Repeated query parameter', `Give ${name} at most once.`, { parameter: name });
      }
    }

    const statusParam = query.get('status');
    let wanted: RunViewStatus[] | undefined;
    if (statusParam !== null) {
      const parts = statusParam.split(',').map((s) => s.trim());
      const bad = parts.filter((s) => !viewStatuses.includes(s as RunViewStatus));
      if (bad.length > 0 || parts.length === 0) {
        return problem(
          400,
          'Invalid status filter',
          `status must be one or more of ${viewStatuses.join(', ')}, comma-separated.`,
          {
            field: 'status',
          },
        );
      }
      wanted = [...new Set(parts as RunViewStatus[])];
    }

    const limitParam = query.get('limit');
    let limit = defaultLimit;
    if (limitParam !== null) {
      if (!/^[0-9]{1,4}$/.test(limitParam) || Number(limitParam) < 1 || Number(limitParam) > maxLimit) {
        return problem(400, 'Invalid limit', `limit must be a whole number from 1 to ${maxLimit}.`, {
          field: 'limit',
        });
      }
      limit = Number(limitParam);
    }

    const tokenParam = query.get('continuationToken');
    let cursor: Cursor | undefined;
    if (tokenParam !== null) {
      cursor = decodeCursor(tokenParam);
      if (!cursor) {
        return problem(
          400,
          'Invalid continuation token',
          'continuationToken must be a token from an earlier page of this list, unchanged.',
          { field: 'continuationToken' },
        );
      }
    }

    let owner = caller.userId;
    const ownerParam = query.get('owner');
    if (ownerParam !== null) {
      if (!isAdmin(caller) && ownerParam !== caller.userId) {
        return problem(403, 'Forbidden', `Only the ${roles.admin} role may list another user's runs.`);
      }
      if (!isValidUserId(ownerParam)) {
        return problem(400, 'Invalid owner', userIdRule, { field: 'owner' });
      }
      owner = ownerParam;
    }

    const client = df.getClient(context);
    const page = await listPage(
      {
        index,
        // Without the input: the preview is in the index, and inputs are the largest part of a status.
        readStatus: async (runId) => {
          const status = await getStatusOrNull(client, runId, false);
          return status?.name === orchestratorNames.agentRun ? status : null;
        },
        now: () => Date.now(),
        log: (m) => context.warn(m),
      },
      { owner, ...(wanted ? { wanted } : {}), limit, ...(cursor ? { cursor } : {}) },
    );
    const items: RunListItem[] = page.items.map((run) => ({
      ...run,
      status: run.status as RunViewStatus,
      links: runLinks(request, run.id),
    }));
    context.debug(
      `Run list: ${page.cost.rows} index rows in ${page.cost.tableRequests} requests, ${page.cost.statusReads} status reads.`,
    );

    const continuationToken = page.next ? encodeCursor(page.next) : null;
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
    let next: string | null = null;
    if (continuationToken) {
      headers['x-ms-continuation-token'] = continuationToken;
      const url = new URL(request.url);
      url.searchParams.set('continuationToken', continuationToken);
      next = url.href;
    }
    return { status: 200, headers, jsonBody: { items, continuationToken, next } };
  };
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

function decodeCursor(token: string): Cursor | undefined {
  if (token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const { t, id, from } = value as Record<string, unknown>;
    if (typeof t !== 'string' || typeof id !== 'string' || id.length > 64) return undefined;
    if (Number.isNaN(Date.parse(t)) || new Date(t).toISOString() !== t) return undefined;
    if (from !== undefined && from !== true) return undefined;
    return from ? { t, id, from } : { t, id };
  } catch {
    return undefined;
  }
}
