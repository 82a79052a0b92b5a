import { setTimeout as sleep } from 'node:timers/promises';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableOrchestrationStatus } from 'durable-functions';
import type { BlobServiceClient } from '@azure/storage-blob';
import { createKeptResearchUsage } from '../activities/research';
import type { AppConfig } from '../config';
import type { AgentRunStatus } from '../contracts/agentRun';
import { problem, withProblemAnswers } from '../lib/http';
import { canApprove, isAdmin, resolveCaller, type Caller } from '../lib/identity';
import { isValidRunId, runIdRule } from '../lib/ids';
import { functionNames, orchestratorNames } from '../names';
import {
  approversNow,
  getStatusOrNull,
  inputOf,
  isFinished,
  readDraft,
  runView,
  withLiveProgress,
} from './agentRuns';

/**
 * `GET /api/agent-runs/{id}/events`: the run's changes as Server-Sent Events, for its owner, its
 * approvers and admins (anyone else gets 404, as for the run view).
 *
 * Events are what the run view shows, taken from the durable status as it changes: `stage`, `subtask`
 * (started, succeeded, failed), `usage`, `draft` (ready or revised), `escalation`, `webhook`, and `end`
 * with the outcome, after which the stream closes. Ids increase: the run's last update time in ms times
 * 1000 plus a count. A client that reconnects with `Last-Event-ID` first gets the run's current state
 * (stage, subtasks, usage, pending draft) as events with later ids, then the changes from there; if
 * it had already seen the end, the stream closes at once.
 */

/** How often the stream looks at the run: the bound on the delay from a change to its event. */
const pollMs = 250;
/** Comment lines keep idle proxies (Azure Front Door, nginx) from closing a quiet stream. */
const keepAliveMs = 15_000;
/**
 * A stream ends after this long and the client reconnects with Last-Event-ID: the host cannot tell
 * the function that a client left, so no stream may poll for ever.
 */
const maxStreamMs = 10 * 60_000;
/** The id of the end event within its millisecond: above any count of changes. */
const endSlot = 999;

export function registerRunEventsFunction(config: AppConfig, blobs: BlobServiceClient): void {
  app.http(functionNames.agentRunEvents, {
    route: 'agent-runs/{id}/events',
    methods: ['GET'],
    authLevel: 'function',
    extraInputs: [df.input.durableClient()],
    handler: withProblemAnswers(createRunEvents(config, blobs)),
  });
}

export interface RunEvent {
  event: string;
  data: Record<string, unknown>;
}

type Snapshot = DurableOrchestrationStatus;

export function createRunEvents(
  config: AppConfig,
  blobs: BlobServiceClient,
  options: { pollMs?: number; keepAliveMs?: number } = {},
) {
  const every = options.pollMs ?? pollMs;
  const keepAlive = options.keepAliveMs ?? keepAliveMs;
  const researchUsage = createKeptResearchUsage(blobs, config.resultsContainer);
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const who = resolveCaller(request, config.authMode);
    if (!who.ok) return who.response;
    const id = request.params.id ?? '';
    if (!isValidRunId(id)) return problem(400, 'Invalid run id', runIdRule);
    const client = df.getClient(context);
    const first = await getStatusOrNull(client, id);
    if (!first || first.name !== orchestratorNames.agentRun || !mayWatch(who.caller, first)) {
      return problem(404, 'Run not found', `No run ${id} that you can see.`);
    }
    const lastEventId = parseLastEventId(request.headers.get('last-event-id'));

    const encoder = new TextEncoder();
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start: async (controller) => {
        const write = (text: string) => controller.enqueue(encoder.encode(text));
        write(`retry: 2000\n: stream of run ${id}\n\n`);
        let lastId = lastEventId ?? 0;
        let previous: Snapshot | undefined;
        let status = await withLiveProgress(client, first, researchUsage);
        const openedAt = Date.now();
        let lastWrite = Date.now();
        try {
          for (;;) {
            if (cancelled) return;
            const finished = isFinished(status);
            const base = updatedMs(status) * 1000;
            if (finished && lastEventId !== undefined && lastEventId >= base + endSlot) return;
            const events = await withDraftTexts(blobs, changes(request, previous, status));
            for (const e of events) {
              const eventId = e.event === 'end' ? base + endSlot : Math.max(base, lastId + 1);
              if (e.event !== 'end' && eventId >= base + endSlot) continue;
              lastId = Math.max(lastId, eventId);
              write(`id: ${eventId}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
              lastWrite = Date.now();
            }
            if (finished) return;
            if (Date.now() - lastWrite >= keepAlive) {
              write(': keep-alive\n\n');
              lastWrite = Date.now();
            }
            if (Date.now() - openedAt > maxStreamMs) return;
            previous = status;
            await sleep(every);
            const next = await getStatusOrNull(client, id);
            if (!next) {
              write(`event: gone\ndata: ${JSON.stringify({ runId: id })}\n\n`);
              return;
            }
            status = await withLiveProgress(client, next, researchUsage);
          }
        } catch (error) {
          context.error(`Event stream of run ${id} failed:`, error);
        } finally {
          controller.close();
        }
      },
      cancel: () => {
        cancelled = true;
      },
    });
    return {
      status: 200,
      headers: {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Accel-Buffering': 'no',
      },
      body,
    };
  };
}

function mayWatch(caller: Caller, status: Snapshot): boolean {
  const owner = inputOf(status)?.owner ?? '';
  if (owner === '') return false;
  if (owner === caller.userId || isAdmin(caller)) return true;
  return canApprove(caller, { owner, approvers: approversNow(status) });
}

/** A draft event carries the whole draft: the custom status has only a preview and the blob's name. */
async function withDraftTexts(blobs: BlobServiceClient, events: RunEvent[]): Promise<RunEvent[]> {
  return Promise.all(
    events.map(async (e) => {
      const blobName = e.data.draftBlob;
      if (e.event !== 'draft' || typeof blobName !== 'string') return e;
      const draft = await readDraft(blobs, blobName);
      return draft.ok
        ? { ...e, data: { ...e.data, draft: draft.text, citations: draft.citations } }
        : { ...e, data: { ...e.data, draftUnavailable: draft.message } };
    }),
  );
}

function customOf(status: Snapshot | undefined): AgentRunStatus | undefined {
  const custom = status?.customStatus;
  return custom && typeof custom === 'object' ? (custom as AgentRunStatus) : undefined;
}

function updatedMs(status: Snapshot): number {
  const ms = new Date(status.lastUpdatedTime).getTime();
  return Number.isNaN(ms) ? 0 : ms;
}

function parseLastEventId(value: string | null): number | undefined {
  if (value === null || !/^[0-9]{1,20}$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The events between two looks at the run; with no earlier look, its whole current state. */
export function changes(request: HttpRequest, before: Snapshot | undefined, after: Snapshot): RunEvent[] {
  const out: RunEvent[] = [];
  const was = before ? runView(request, before) : undefined;
  const now = runView(request, after);
  if (!was || was.stage !== now.stage || was.status !== now.status) {
    out.push({ event: 'stage', data: { stage: now.stage, status: now.status } });
  }
  const oldSubtasks = new Map((customOf(before)?.subtasks ?? []).map((s) => [s.id, s.state]));
  for (const s of customOf(after)?.subtasks ?? []) {
    const old = oldSubtasks.get(s.id);
    if (old === undefined) {
      out.push({ event: 'subtask', data: { id: s.id, kind: s.kind, title: s.title, state: 'started' } });
    }
    if (s.state !== 'pending' && old !== s.state) {
      out.push({ event: 'subtask', data: { id: s.id, kind: s.kind, title: s.title, state: s.state } });
    }
  }
  if (!was || was.usage.totalTokens !== now.usage.totalTokens) {
    if (now.usage.totalTokens > 0 || !was) out.push({ event: 'usage', data: { ...now.usage } });
  }
  const oldApproval = customOf(before)?.approval;
  const approval = customOf(after)?.approval;
  if (approval && now.status === 'awaiting-approval') {
    if (!oldApproval || oldApproval.round !== approval.round) {
      out.push({
        event: 'draft',
        data: {
          round: approval.round,
          revision: approval.round > 0,
          draft: approval.draftPreview,
          citations: [],
          draftBlob: approval.draftBlob,
          deadline: approval.deadline,
          approvers: approversNow(after),
          escalated: approval.escalated,
          approvalUrl: now.links.approval,
        },
      });
    } else if (approval.escalated && !oldApproval.escalated) {
      out.push({
        event: 'escalation',
        data: { round: approval.round, approvers: approversNow(after), deadline: approval.deadline },
      });
    }
  }
  const oldDeliveries = customOf(before)?.webhook?.deliveries.length ?? 0;
  for (const d of customOf(after)?.webhook?.deliveries.slice(oldDeliveries) ?? []) {
    out.push({ event: 'webhook', data: { ...d } });
  }
  if (isFinished(after)) {
    const { links, ...rest } = now;
    out.push({ event: 'end', data: { ...rest, links } });
  }
  return out;
}
