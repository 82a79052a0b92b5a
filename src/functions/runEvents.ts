import { setTimeout as sleep } from 'node:timers/promises';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { AppConfig } from '../config';
import { problem, withProblemAnswers } from '../lib/http';
import { canView, resolveCaller } from '../lib/identity';
import { isValidRunId, runIdRule } from '../lib/ids';
import { createKeptResearchUsage } from '../lib/keptResearch';
import { functionNames, orchestratorNames } from '../names';
import { getStatusOrNull, readDraft, withLiveProgress } from '../runView/live';
import { runAccess } from '../runView/view';
import { RunEventLog, type LoggedEvent } from './eventLog';

/**
 * `GET /api/agent-runs/{id}/events`: the run's changes as Server-Sent Events, for its owner, its
 * approvers and admins (anyone else gets 404, as for the run view).
 *
 * Events: `stage`, `subtask` (started, succeeded, failed), `usage`, `answer.delta` (the next piece of
 * the answer while the model writes it: `{round, attempt, offset, text}`), `answer.reset` (a retried
 * attempt starts the round's text over: drop what this round sent so far), `draft` (ready or revised),
 * `escalation`, `webhook`, and `end` with the outcome, after which the stream closes.
 *
 * Ids are 1, 2, 3, ...: positions in the run's durable event log (./eventLog.ts). A client that
 * reconnects with `Last-Event-ID: n` gets the logged events after n, exactly, then the new ones; one
 * that has seen `end` gets nothing and the stream closes.
 */

/** How often the stream looks at the run: the bound on the delay from a change to its event. */
const pollMs = 250;
/** While the model writes the answer: its text reaches the blob in batches of about 100 ms. */
const answerPollMs = 100;
/** Comment lines keep idle proxies (Azure Front Door, nginx) from closing a quiet stream. */
const keepAliveMs = 15_000;
/**
 * A stream ends after this long and the client reconnects with Last-Event-ID: the host cannot tell
 * the function that a client left, so no stream may poll for ever.
 */
const maxStreamMs = 10 * 60_000;

export function registerRunEventsFunction(config: AppConfig, blobs: BlobServiceClient): void {
  app.http(functionNames.agentRunEvents, {
    route: 'agent-runs/{id}/events',
    methods: ['GET'],
    // The approval page follows it with EventSource, which sends no custom header and no key: App
    // Service Authentication's session identifies the caller, and only those who may see the run get it.
    authLevel: 'anonymous',
    extraInputs: [df.input.durableClient()],
    handler: withProblemAnswers(createRunEvents(config, blobs)),
  });
}

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
    if (!first || first.name !== orchestratorNames.agentRun || !canView(who.caller, runAccess(first))) {
      return problem(404, 'Run not found', `No run ${id} that you can see.`);
    }
    const lastEventId = parseLastEventId(request.headers.get('last-event-id'));

    const log = new RunEventLog(blobs.getContainerClient(config.resultsContainer), id);

    const encoder = new TextEncoder();
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      start: async (controller) => {
        const write = (text: string) => controller.enqueue(encoder.encode(text));
        write(`retry: 2000\n: stream of run ${id}\n\n`);
        const openedAt = Date.now();
        let lastWrite = Date.now();
        const send = async (events: LoggedEvent[], after: number | undefined) => {
          const fresh = events.filter((e) => after === undefined || e.id > after);
          for (const e of await withDraftTexts(blobs, fresh)) {
            write(`id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
            lastWrite = Date.now();
          }
        };
        try {
          const logged = await log.read();
          // An id the log has not reached is not one of this run's: the client gets the whole log.
          const after = lastEventId !== undefined && lastEventId <= log.lastId ? lastEventId : undefined;
          await send(logged, after);
          let status = await withLiveProgress(client, first, researchUsage);
          for (;;) {
            if (cancelled || log.ended) return;
            await send(await log.observe(request, status), after);
            if (log.ended) return;
            if (Date.now() - lastWrite >= keepAlive) {
              write(': keep-alive\n\n');
              lastWrite = Date.now();
            }
            if (Date.now() - openedAt > maxStreamMs) return;
            await sleep(log.writingAnswer ? Math.min(every, answerPollMs) : every);
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

/** A draft event carries the whole draft: the custom status has only a preview and the blob's name. */
async function withDraftTexts(blobs: BlobServiceClient, events: LoggedEvent[]): Promise<LoggedEvent[]> {
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

function parseLastEventId(value: string | null): number | undefined {
  if (value === null || !/^[0-9]{1,20}$/.test(value.trim())) return undefined;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) ? n : undefined;
}
