import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import type { AppConfig } from '../config';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { AppClients } from '../clients';
import {
  approvalBodySchema,
  startAgentRunBodySchema,
  type AgentRunInput,
  type ApprovalEvent,
} from '../contracts/agentRun';
import { toolNames } from '../contracts/tools';
import { quotaSnapshot, tokenQuotaEntityId, type TokenQuotaState } from '../entities/tokenQuota';
import { problem, readJsonBody, withProblemAnswers } from '../lib/http';
import type { Signer } from '../lib/capability';
import { canApprove, resolveCaller, type Caller } from '../lib/identity';
import { isValidRunId } from '../lib/ids';
import { createKeptResearchUsage } from '../lib/keptResearch';
import { checkWebhookUrl } from '../lib/webhooks';
import { functionNames, orchestratorNames } from '../names';
import { getStatusOrNull, withFullDraft, withLiveProgress } from '../runView/live';
import { approversNow, customStatusOf, isFinished, ownerOf, runLinks, runView } from '../runView/view';
import { eventNameProblem, scopedRunUrls, type RunUrls } from './runUrls';

/** Largest budget one run may ask for; the caller's quota is the real bound. */
const maxRunTokens = 1_000_000;

/** How long the approval endpoint waits for the run to take the decision before answering. */
const approvalSettleMs = 5000;

export function registerAgentRunFunctions(config: AppConfig, signer: Signer, clients: AppClients): void {
  const extraInputs = [df.input.durableClient()];
  const approve = createApproveAgentRun(config, signer, clients.blobService);
  app.http(functionNames.startAgentRun, {
    route: 'agent-runs',
    methods: ['POST'],
    authLevel: 'function',
    extraInputs,
    handler: withProblemAnswers(createStartAgentRun(config, signer)),
  });
  app.http(functionNames.getAgentRun, {
    route: 'agent-runs/{id}',
    methods: ['GET'],
    authLevel: 'function',
    extraInputs,
    handler: withProblemAnswers(createGetAgentRun(config, clients.blobService)),
  });
  app.http(functionNames.approveAgentRun, {
    route: 'agent-runs/{id}/approval',
    methods: ['POST'],
    // The approval page posts here from the browser, which holds no function key: App Service
    // Authentication's session decides who is calling, and only an approver of the run may decide.
    authLevel: 'anonymous',
    extraInputs,
    handler: withProblemAnswers(approve),
  });
  app.http(functionNames.runEvent, {
    route: 'agent-runs/{id}/events/{eventName}',
    methods: ['POST'],
    // Handed out in the starter's answer, so no function key (see runUrls.ts); the approval check decides.
    authLevel: 'anonymous',
    extraInputs,
    // Durable's event URL, narrowed to what the product allows: the approval, decided by who is calling.
    handler: withProblemAnswers(
      async (request, context) =>
        eventNameProblem(request.params.eventName ?? '') ?? approve(request, context),
    ),
  });
}

/** `POST /api/agent-runs`: validate, check the quota, start the orchestration, answer 202 with its URLs. */
export function createStartAgentRun(config: AppConfig, signer: Signer) {
  const schema = startAgentRunBodySchema({
    maxPromptChars: config.limits.maxPromptChars,
    maxRunTokens,
    researchAvailable: config.agents !== undefined,
  });
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const who = resolveCaller(request, config.authMode);
    if (!who.ok) return who.response;
    const body = await readJsonBody(request, schema, { maxBytes: config.limits.maxBodyBytes });
    if (!body.ok) return body.response;
    const caller = who.caller;
    const client = df.getClient(context);

    const budget = body.value.maxTokens ?? config.limits.defaultRunMaxTokens;
    const quotaState = await client.readEntityState<TokenQuotaState>(tokenQuotaEntityId(caller.userId));
    const quota = quotaSnapshot(
      quotaState.entityExists ? quotaState.entityState : undefined,
      caller.userId,
      new Date(),
      config.quota.defaultMonthlyTokens,
    );
    if (quota.remaining < budget) {
      const retryAfter = Math.max(1, Math.ceil((Date.parse(quota.periodEnd) - Date.now()) / 1000));
      return problem(
        429,
        'Token quota exceeded',
        `The run needs ${budget} tokens but ${quota.remaining} of ${quota.monthlyTokenLimit} remain until ${quota.periodEnd}.`,
        { quota, requestedTokens: budget },
        { 'Retry-After': String(retryAfter) },
      );
    }

    const runId = randomUUID();
    let webhook: AgentRunInput['webhook'];
    if (body.value.webhook) {
      const refused = (message: string) =>
        problem(400, 'Invalid request body', `webhook.url: ${message}`, {
          errors: [{ field: 'webhook.url', message }],
        });
      if (!config.webhooks.key) {
        return refused('webhooks are off on this deployment: WEBHOOK_SECRET is not set');
      }
      const checked = await checkWebhookUrl(body.value.webhook.url, config.webhooks);
      if (!checked.ok) return refused(checked.reason);
      webhook = { url: checked.url.href, links: runLinks(request, runId) };
    }
    const approval = body.value.approval;
    const input: AgentRunInput = {
      runId,
      owner: caller.userId,
      requestedAt: new Date().toISOString(),
      prompt: body.value.prompt,
      approval: approval?.required
        ? {
            approvers: approval.approvers ?? [],
            timeoutMinutes: approval.timeoutMinutes ?? config.limits.approvalDefaultTimeoutMinutes,
            escalateTo: approval.escalateTo ?? [],
          }
        : null,
      maxTokens: budget,
      model: body.value.model ?? 'auto',
      tools: body.value.tools ?? [...toolNames],
      research: body.value.research ?? null,
      researchAvailable: config.agents !== undefined,
      ...(webhook ? { webhook } : {}),
      limits: {
        maxSubtasks: config.limits.maxSubtasks,
        maxToolTurns: config.limits.maxToolTurns,
        maxRevisions: config.limits.approvalMaxRevisions,
        researchTimeoutMs: config.limits.researchTimeoutSeconds * 1000,
      },
    };
    // startNew returns once the run is stored: from here on nothing the caller sent can be lost.
    await client.startNew(orchestratorNames.agentRun, { instanceId: runId, input });
    context.log(`Started agent run ${runId} for ${caller.userId}.`);

    // Scoped: the product's own per-run URLs, each signed for one action. Built-in (opt-in, single
    // tenant only): Durable's URLs, whose code= is the task hub's system key.
    const urls: RunUrls =
      config.statusUrls === 'builtin'
        ? withoutRestart(client.createHttpManagementPayload(runId))
        : scopedRunUrls(request, runId, signer);
    const started: StartAnswer = { ...urls, runId, links: runLinks(request, runId) };
    return {
      status: 202,
      headers: { Location: urls.statusQueryGetUri, 'Retry-After': '2' },
      jsonBody: started,
    };
  };
}

/** The starter's 202 answer: the run's URLs, its id, and the links a person opens. */
export interface StartAnswer extends RunUrls {
  runId: string;
  links: { run: string; approval: string };
}

/**
 * The host adds `restartPostUri` to the payload. Restarting would start a second run on the same input
 * without the starter's quota check, so it is never handed out.
 */
function withoutRestart<T extends object>(payload: T): Omit<T, 'restartPostUri'> {
  const { restartPostUri: _restart, ...rest } = payload as T & { restartPostUri?: unknown };
  return rest;
}

/** `GET /api/agent-runs/{id}`: the run as its owner (or one of its approvers) sees it. */
export function createGetAgentRun(config: AppConfig, blobs: BlobServiceClient) {
  const researchUsage = createKeptResearchUsage(blobs, config.resultsContainer);
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const who = resolveCaller(request, config.authMode);
    if (!who.ok) return who.response;
    const found = await findVisibleRun(request, context, who.caller);
    if (!found.ok) return found.response;
    const status = await withLiveProgress(df.getClient(context), found.status, researchUsage);
    return { status: 200, jsonBody: await withFullDraft(blobs, runView(request, status)) };
  };
}

/** `POST /api/agent-runs/{id}/approval`: raises the approval event for the draft now on offer. */
export function createApproveAgentRun(config: AppConfig, signer: Signer, blobs: BlobServiceClient) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const who = resolveCaller(request, config.authMode);
    if (!who.ok) return who.response;
    const caller = who.caller;
    const found = await findVisibleRun(request, context, caller);
    if (!found.ok) return found.response;
    const body = await readJsonBody(request, approvalBodySchema, { maxBytes: config.limits.maxBodyBytes });
    if (!body.ok) return body.response;

    const status = found.status;
    const runId = status.instanceId;
    const view = runView(request, status);
    if (isFinished(status)) {
      return problem(410, 'Run has ended', `Run ${runId} has already ended as ${view.status}.`, {
        status: view.status,
      });
    }
    const pending = customStatusOf(status)?.approval;
    if (view.status !== 'awaiting-approval' || !pending) {
      return problem(
        409,
        'Run is not waiting for approval',
        `Run ${runId} is ${view.stage ?? view.status}; try again later.`,
        {
          status: view.status,
          stage: view.stage,
        },
      );
    }
    if (!canApprove(caller, { owner: ownerOf(status), approvers: approversNow(status) })) {
      return problem(404, 'Run not found', `No run ${runId} that you can see.`);
    }

    const claim = {
      runId,
      round: pending.round,
      decision: body.value.decision,
      by: caller.userId,
      ...(body.value.comment ? { comment: body.value.comment } : {}),
    };
    const event: ApprovalEvent = {
      decision: claim.decision,
      ...(claim.comment ? { comment: claim.comment } : {}),
      by: claim.by,
      round: claim.round,
      proof: signer.approvalProof(claim),
    };
    const client = df.getClient(context);
    // On the round's own channel: the run waits on no other name, so only the product's events reach it.
    await client.raiseEvent(runId, signer.approvalEventName(runId, claim.round), event);
    context.log(`Run ${runId}: ${caller.userId} chose ${event.decision} for round ${event.round}.`);
    const settled = await waitUntilDecided(client, runId, pending.round);
    const { proof: _proof, ...accepted } = event;
    const run = await withFullDraft(blobs, runView(request, settled ?? status));
    return { status: 202, jsonBody: { accepted, run } };
  };
}

type Found = { ok: true; status: DurableOrchestrationStatus } | { ok: false; response: HttpResponseInit };

/** The run with this route id, if the caller may see it; unknown and not-yours look the same (404). */
async function findVisibleRun(
  request: HttpRequest,
  context: InvocationContext,
  caller: Caller,
): Promise<Found> {
  const id = request.params.id ?? '';
  if (!isValidRunId(id)) {
    return {
      ok: false,
      response: problem(400, 'Invalid run id', 'A run id is 8 to 64 letters, digits or dashes.'),
    };
  }
  const status = await getStatusOrNull(df.getClient(context), id);
  const notFound = {
    ok: false as const,
    response: problem(404, 'Run not found', `No run ${id} that you can see.`),
  };
  if (!status || status.name !== orchestratorNames.agentRun) return notFound;
  const owner = ownerOf(status);
  if (owner === caller.userId) return { ok: true, status };
  const approvers = approversNow(status);
  if (owner !== '' && canApprove(caller, { owner, approvers })) return { ok: true, status };
  return notFound;
}

/** After raising the event, give the run a moment to act on it, so the answer shows the new state. */
async function waitUntilDecided(
  client: DurableClient,
  runId: string,
  round: number,
): Promise<DurableOrchestrationStatus | null> {
  const giveUpAt = Date.now() + approvalSettleMs;
  let status: DurableOrchestrationStatus | null = null;
  while (Date.now() < giveUpAt) {
    status = await getStatusOrNull(client, runId);
    const approval = status ? customStatusOf(status)?.approval : undefined;
    if (!status || isFinished(status) || approval?.round !== round) return status;
    await sleep(100);
  }
  return status;
}
