import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableOrchestrationStatus, OrchestrationFilter } from 'durable-functions';
import type { AppConfig } from '../config';
import { agentRunInputSchema, agentRunStatusSchema, fitting } from '../contracts/orchestrations';
import { problem, withProblemAnswers } from '../lib/http';
import { isAdmin, resolveCaller, roles } from '../lib/identity';
import { isValidUserId, userIdRule } from '../lib/ids';
import { functionNames, orchestratorNames } from '../names';
import { runView, runViewStatuses, type RunViewStatus } from '../runView/view';

/**
 * `GET /api/agent-runs`: the caller's runs, newest first.
 *
 * Durable's instance query knows nothing of owners, so the list reads the agent-run instances created
 * up to the page's cursor and keeps the caller's. The continuation token is a keyset cursor (the last
 * item's created time and id), not an offset: runs started while someone pages do not shift the pages,
 * and each later page's query is bounded by `createdTimeTo`.
 */

const viewStatuses: readonly RunViewStatus[] = runViewStatuses;

/** The durable runtime statuses a view status can come from, so the query fetches no more than needed. */
const runtimeStatusesFor: Record<RunViewStatus, df.OrchestrationRuntimeStatus[]> = {
  running: [
    df.OrchestrationRuntimeStatus.Pending,
    df.OrchestrationRuntimeStatus.Running,
    df.OrchestrationRuntimeStatus.Suspended,
    df.OrchestrationRuntimeStatus.ContinuedAsNew,
  ],
  'awaiting-approval': [df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Suspended],
  completed: [df.OrchestrationRuntimeStatus.Completed],
  rejected: [df.OrchestrationRuntimeStatus.Completed],
  expired: [df.OrchestrationRuntimeStatus.Completed],
  'quota-exceeded': [df.OrchestrationRuntimeStatus.Completed],
  'budget-spent': [df.OrchestrationRuntimeStatus.Completed],
  failed: [df.OrchestrationRuntimeStatus.Completed, df.OrchestrationRuntimeStatus.Failed],
  terminated: [df.OrchestrationRuntimeStatus.Terminated, df.OrchestrationRuntimeStatus.Canceled],
};

const defaultLimit = 20;
const maxLimit = 100;
const previewChars = 120;
const createdSlackMs = 60_000;
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

interface Cursor {
  t: string;
  id: string;
}

export function registerRunListFunction(config: AppConfig): void {
  app.http(functionNames.listAgentRuns, {
    route: 'agent-runs',
    methods: ['GET'],
    authLevel: 'function',
    extraInputs: [df.input.durableClient()],
    handler: withProblemAnswers(createListAgentRuns(config)),
  });
}

export function createListAgentRuns(config: AppConfig) {
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

    const runtimeStatus = wanted ? [...new Set(wanted.flatMap((s) => runtimeStatusesFor[s]))] : undefined;
    // showInput is honoured by the client's query though its filter type does not name it; the owner and
    // the preview come from the input, which is there from the first moment of a run.
    const filter: OrchestrationFilter & { showInput: boolean } = {
      showInput: true,
      ...(runtimeStatus ? { runtimeStatus } : {}),
      // The host stores the created time a little after the request time the cursor holds.
      ...(cursor ? { createdTimeTo: new Date(Date.parse(cursor.t) + createdSlackMs) } : {}),
    };
    const client = df.getClient(context);
    const all = await client.getStatusBy(filter);

    const mine = all
      .filter((s) => s.name === orchestratorNames.agentRun && ownerOf(s) === owner)
      .map((s) => ({ status: s, created: createdIso(s) }))
      .sort(
        (a, b) =>
          b.created.localeCompare(a.created) || b.status.instanceId.localeCompare(a.status.instanceId),
      )
      .filter(({ status, created }) => !cursor || isBefore(created, status.instanceId, cursor));

    const items: RunListItem[] = [];
    let last: Cursor | undefined;
    let more = false;
    for (const { status, created } of mine) {
      const view = runView(request, status);
      if (wanted && !wanted.includes(view.status)) continue;
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push({
        id: view.id,
        status: view.status,
        stage: view.stage,
        createdTime: created,
        lastUpdatedTime: isoOf(status.lastUpdatedTime),
        usage: view.usage,
        preview: previewOf(status),
        links: view.links,
      });
      last = { t: created, id: view.id };
    }

    const continuationToken = more && last ? encodeCursor(last) : null;
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

function ownerOf(status: DurableOrchestrationStatus): string {
  return (
    fitting(agentRunInputSchema, status.input)?.owner ??
    fitting(agentRunStatusSchema, status.customStatus)?.owner ??
    ''
  );
}

function previewOf(status: DurableOrchestrationStatus): string {
  const prompt = fitting(agentRunInputSchema, status.input)?.prompt ?? '';
  const flat = prompt.replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length <= previewChars ? flat : `${chars.slice(0, previewChars - 1).join('')}…`;
}

function isoOf(value: Date | string): string {
  return new Date(value).toISOString();
}

/** The request time the starter recorded (ms), else the host's created time (whole seconds). */
function createdIso(status: DurableOrchestrationStatus): string {
  const requested = fitting(agentRunInputSchema, status.input)?.requestedAt;
  if (typeof requested === 'string' && !Number.isNaN(Date.parse(requested))) return isoOf(requested);
  return isoOf(status.createdTime);
}

/** Strictly after the cursor in newest-first order. */
function isBefore(created: string, id: string, cursor: Cursor): boolean {
  return created < cursor.t || (created === cursor.t && id < cursor.id);
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
}

function decodeCursor(token: string): Cursor | undefined {
  if (token.length > 512 || !/^[A-Za-z0-9_-]+$/.test(token)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const { t, id } = value as Record<string, unknown>;
    if (typeof t !== 'string' || typeof id !== 'string' || id.length > 64) return undefined;
    if (Number.isNaN(Date.parse(t)) || new Date(t).toISOString() !== t) return undefined;
    return { t, id };
  } catch {
    return undefined;
  }
}
