import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import type { AppClients } from '../clients';
import type { AppConfig } from '../config';
import { runControlReasonSchema } from '../contracts/agentRun';
import { agentRunResultSchema, fitting } from '../contracts/orchestrations';
import { cancelAgentRun, cancelDepsFor, type CancelDeps } from '../lifecycle/cancel';
import type { RunAction, Signer } from '../lib/capability';
import { problem, withProblemAnswers } from '../lib/http';
import { sameSiteOnly } from '../lib/sameSite';
import { canApprove, resolveCaller } from '../lib/identity';
import { isValidRunId, runIdRule } from '../lib/ids';
import { forLog } from '../lib/logText';
import { eventNames, functionNames, isRunBlob, orchestratorNames, subtaskInstanceId } from '../names';
import { getStatusOrNull } from '../runView/live';
import { customStatusOf, isFinished, ownerOf, runAccess } from '../runView/view';

/**
 * The per-run URLs the starter hands out, in the shape of Durable's `createCheckStatusResponse`, on the
 * product's own routes. Each acts on one run and is allowed either by who is calling (the owner; an
 * approver may also read the status and decide) or by a capability in `sig=` signed for that run and that
 * action. Anything else, including the same URL with another run's id, is 404, like a run that does
 * not exist.
 */

/** Seconds a polling client is asked to wait between status reads. */
const statusRetryAfterSeconds = 1;

export interface RunUrls {
  id: string;
  statusQueryGetUri: string;
  sendEventPostUri: string;
  terminatePostUri: string;
  purgeHistoryDeleteUri: string;
  suspendPostUri: string;
  resumePostUri: string;
}

/** The scoped URLs of run `runId`, signed for each action. */
export function scopedRunUrls(request: HttpRequest, runId: string, signer: Signer): RunUrls {
  const base = new URL(`/api/agent-runs/${runId}`, request.url).href;
  const sig = (action: RunAction) => `sig=${signer.capability(runId, action)}`;
  return {
    id: runId,
    statusQueryGetUri: `${base}/status?${sig('status')}`,
    // {eventName} and {text} are placeholders the client fills in, as in Durable's own URLs.
    sendEventPostUri: `${base}/events/{eventName}?${sig('event')}`,
    terminatePostUri: `${base}/terminate?reason={text}&${sig('terminate')}`,
    purgeHistoryDeleteUri: `${base}/purge?${sig('purge')}`,
    suspendPostUri: `${base}/suspend?reason={text}&${sig('suspend')}`,
    resumePostUri: `${base}/resume?reason={text}&${sig('resume')}`,
  };
}

export function registerRunUrlFunctions(config: AppConfig, signer: Signer, clients: AppClients): void {
  const extraInputs = [df.input.durableClient()];
  const route = (
    name: string,
    path: string,
    methods: ('GET' | 'POST' | 'DELETE')[],
    handler: ReturnType<typeof scoped>,
  ) =>
    app.http(name, {
      route: `agent-runs/{id}/${path}`,
      methods,
      // No function key: a URL the user is handed must carry no key of the host. Each request is
      // allowed by its signature or by who is calling (App Service Authentication stands in front).
      authLevel: 'anonymous',
      extraInputs,
      // Every one but the status read changes the run: never from another site's page.
      handler: withProblemAnswers(methods.includes('GET') ? handler : sameSiteOnly(handler, 'none')),
    });
  const scoped = (action: RunAction, act: Act) => scopedHandler(config, signer, action, act);

  route(functionNames.runStatus, 'status', ['GET'], scoped('status', statusAnswer(signer)));
  const cancel = terminate(cancelDepsFor(config, clients));
  route(functionNames.runTerminate, 'terminate', ['POST'], scoped('terminate', cancel));
  route(functionNames.runCancel, 'cancel', ['POST'], scoped('terminate', cancel));
  route(functionNames.runSuspend, 'suspend', ['POST'], scoped('suspend', control('suspend')));
  route(functionNames.runResume, 'resume', ['POST'], scoped('resume', control('resume')));
  route(functionNames.runPurge, 'purge', ['DELETE'], scoped('purge', purge(config, clients)));
}

type Act = (args: {
  request: HttpRequest;
  context: InvocationContext;
  client: DurableClient;
  status: DurableOrchestrationStatus;
}) => Promise<HttpResponseInit>;

function notFound(id: string): HttpResponseInit {
  return problem(404, 'Run not found', `No run ${id} that you can see.`);
}

/**
 * Finds the run and checks the caller may do `action` on it: a valid `sig` for this run and action, or
 * the owner's identity (an approver's for `status`).
 */
function scopedHandler(config: AppConfig, signer: Signer, action: RunAction, act: Act) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const id = request.params.id ?? '';
    if (!isValidRunId(id)) return problem(400, 'Invalid run id', runIdRule);
    const signed = signer.allows(id, action, request.query.get('sig'));
    let caller;
    if (!signed) {
      const who = resolveCaller(request, config.authMode);
      if (!who.ok) return who.response;
      caller = who.caller;
    }
    const client = df.getClient(context);
    const status = await getStatusOrNull(client, id);
    if (!status || status.name !== orchestratorNames.agentRun) return notFound(id);
    if (caller) {
      const owner = ownerOf(status);
      const allowed =
        owner !== '' &&
        (caller.userId === owner || (action === 'status' && canApprove(caller, runAccess(status))));
      if (!allowed) return notFound(id);
    }
    return act({ request, context, client, status });
  };
}

/** Durable's status answer: 202 with Location and Retry-After while the run goes on, 200 once it ended. */
function statusAnswer(signer: Signer): Act {
  return ({ request, status }) => {
    const body = {
      name: status.name,
      instanceId: status.instanceId,
      runtimeStatus: status.runtimeStatus,
      input: status.input ?? null,
      customStatus: status.customStatus ?? null,
      output: status.output ?? null,
      createdTime: status.createdTime,
      lastUpdatedTime: status.lastUpdatedTime,
    };
    if (isFinished(status)) return Promise.resolve({ status: 200, jsonBody: body });
    return Promise.resolve({
      status: 202,
      headers: {
        Location: scopedRunUrls(request, status.instanceId, signer).statusQueryGetUri,
        'Retry-After': String(statusRetryAfterSeconds),
      },
      jsonBody: body,
    });
  };
}

/**
 * The `reason` of a terminate, cancel, suspend or resume: one line of visible text, at most 500
 * characters (runControlReasonSchema), or a 400 naming it. It reaches the log and the run's output as
 * it is, so nothing is cleaned silently: what is stored is exactly what was accepted.
 */
function reasonOf(
  request: HttpRequest,
  fallback: string,
): { ok: true; reason: string } | { ok: false; response: HttpResponseInit } {
  const raw = request.query.get('reason') ?? '';
  const parsed = runControlReasonSchema.safeParse(raw);
  if (!parsed.success) {
    const message = parsed.error.issues[0]?.message ?? 'is not acceptable';
    return {
      ok: false,
      response: problem(400, 'Invalid reason', `reason: ${message}.`, {
        errors: [{ field: 'reason', message }],
      }),
    };
  }
  // An unfilled `{text}` placeholder is no reason.
  const reason = parsed.data;
  return { ok: true, reason: reason === '' || reason === '{text}' ? fallback : reason };
}

/** The product's cancellation: children stopped, reservation settled. 202 as Durable's terminate answers. */
function terminate(deps: Omit<CancelDeps, 'log'>): Act {
  return async ({ request, context, client, status }) => {
    const given = reasonOf(request, 'Cancelled by the owner.');
    if (!given.ok) return given.response;
    if (isFinished(status)) return ended(status);
    const reason = given.reason;
    const outcome = await cancelAgentRun(client, status.instanceId, reason, {
      ...deps,
      log: (m) => context.log(forLog(m, 2000)),
    });
    // It ended by itself between the read above and the terminate: that is what the caller learns.
    if (!outcome.stopped) return ended(await client.getStatus(status.instanceId));
    context.log(`Run ${status.instanceId} cancelled: ${forLog(reason)}`);
    return { status: 202 };
  };
}

function control(kind: 'suspend' | 'resume'): Act {
  return async ({ request, client, status }) => {
    const given = reasonOf(request, kind === 'suspend' ? 'Suspended by the owner.' : 'Resumed by the owner.');
    if (!given.ok) return given.response;
    if (isFinished(status)) return ended(status);
    if (kind === 'suspend') await client.suspend(status.instanceId, given.reason);
    else await client.resume(status.instanceId, given.reason);
    return { status: 202 };
  };
}

/** Removes the ended run, its children's histories and its result blobs. */
function purge(config: AppConfig, clients: AppClients): Act {
  const container = clients.blobService.getContainerClient(config.resultsContainer);
  return async ({ context, client, status }) => {
    const runId = status.instanceId;
    if (!isFinished(status)) {
      return problem(409, 'Run is still going', `Run ${runId} has not ended; terminate it first.`, {
        runtimeStatus: status.runtimeStatus,
      });
    }
    const custom = customStatusOf(status);
    const output = fitting(agentRunResultSchema, status.output);
    const subtaskIds = new Set([
      ...(custom?.subtasks ?? []).map((s) => s.id),
      ...(output?.subtasks ?? []).map((s) => s.id),
    ]);
    for (const subtaskId of subtaskIds) {
      await client.purgeInstanceHistory(subtaskInstanceId(runId, subtaskId)).catch(() => undefined);
    }
    let blobs = 0;
    try {
      for await (const blob of container.listBlobsFlat({ prefix: runId })) {
        if (isRunBlob(runId, blob.name)) {
          await container.deleteBlob(blob.name, { deleteSnapshots: 'include' });
          blobs++;
        }
      }
    } catch (error) {
      if ((error as { statusCode?: unknown }).statusCode !== 404) throw error;
    }
    const purged = await client.purgeInstanceHistory(runId);
    context.log(`Run ${runId} purged with ${subtaskIds.size} children and ${blobs} blobs.`);
    return { status: 200, jsonBody: { instancesDeleted: purged.instancesDeleted, blobsDeleted: blobs } };
  };
}

function ended(status: DurableOrchestrationStatus): HttpResponseInit {
  return problem(410, 'Run has ended', `Run ${status.instanceId} has already ended.`, {
    runtimeStatus: status.runtimeStatus,
  });
}

/** The event URL: only `approval`, decided like the approval endpoint, by the caller's identity. */
export function eventNameProblem(name: string): HttpResponseInit | undefined {
  if (name === eventNames.approval) return undefined;
  return problem(
    400,
    'Unknown event',
    `Only the ${eventNames.approval} event can be sent to a run; POST {"decision":"approve"|"reject","round":n,"comment":"..."} to it.`,
    { allowedEvents: [eventNames.approval] },
  );
}
