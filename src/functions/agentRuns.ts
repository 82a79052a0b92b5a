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
  type TakenDecision,
} from '../contracts/agentRun';
import { agentRunResultSchema, fitting } from '../contracts/orchestrations';
import { toolNames } from '../contracts/tools';
import { quotaSnapshot, tokenQuotaEntityId, type TokenQuotaState } from '../entities/tokenQuota';
import { problem, readJsonBody, withProblemAnswers } from '../lib/http';
import type { Signer } from '../lib/capability';
import { canApprove, canView, resolveCaller, type Caller } from '../lib/identity';
import { isValidRunId } from '../lib/ids';
import { createKeptResearchUsage } from '../lib/keptResearch';
import { sameSiteOnly } from '../lib/sameSite';
import { checkWebhookUrl } from '../lib/webhooks';
import { functionNames, orchestratorNames } from '../names';
import { getStatusOrNull, withFullDraft, withLiveProgress } from '../runView/live';
import { customStatusOf, isFinished, runAccess, runLinks, runView, type RunView } from '../runView/view';
import { eventNameProblem, scopedRunUrls, type RunUrls } from './runUrls';

/** Largest budget one run may ask for; the caller's quota is the real bound. */
const maxRunTokens = 1_000_000;

/** How long the approval endpoint waits for the run to take the decision before answering 202 pending. */
const approvalSettleMs = 10_000;

export function registerAgentRunFunctions(config: AppConfig, signer: Signer, clients: AppClients): void {
  const extraInputs = [df.input.durableClient()];
  const approve = createApproveAgentRun(config, signer, clients.blobService);
  app.http(functionNames.startAgentRun, {
    route: 'agent-runs',
    methods: ['POST'],
    authLevel: 'function',
    extraInputs,
    handler: withProblemAnswers(sameSiteOnly(createStartAgentRun(config, signer), 'json')),
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
    handler: withProblemAnswers(sameSiteOnly(approve, 'json')),
  });
  app.http(functionNames.runEvent, {
    route: 'agent-runs/{id}/events/{eventName}',
    methods: ['POST'],
    // Handed out in the starter's answer, so no function key (see runUrls.ts); the approval check decides.
    authLevel: 'anonymous',
    extraInputs,
    // Durable's event URL, narrowed to what the product allows: the approval, decided by who is calling.
    handler: withProblemAnswers(
      sameSiteOnly(
        async (request, context) =>
          eventNameProblem(request.params.eventName ?? '') ?? approve(request, context),
        'json',
      ),
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

/** `GET /api/agent-runs/{id}`: the run as its owner, one of its approvers or an admin sees it. */
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

/** The decision as the approval endpoint answers it: what was sent, under which id. */
interface DecisionSent {
  id: string;
  round: number;
  draftId?: string;
  decision: 'approve' | 'reject';
  by: string;
  comment?: string;
}

/**
 * `POST /api/agent-runs/{id}/approval`: a decision for the draft its maker saw, named by `round` (and
 * `draftId`). It is raised on that round's channel with a proof over the run, round, draft, decision id,
 * decision, decider and comment; the run takes the first valid decision of a round and shows its id in
 * its custom status, which this endpoint waits for. So of two decisions that race, the caller learns
 * which one the run took: 200 for the one taken, 409 for the other; a draft that is no longer on offer
 * is 409 with the current round, before anything is raised.
 */
export function createApproveAgentRun(
  config: AppConfig,
  signer: Signer,
  blobs: BlobServiceClient,
  options: { settleMs?: number } = {},
) {
  const settleMs = options.settleMs ?? approvalSettleMs;
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const who = resolveCaller(request, config.authMode);
    if (!who.ok) return who.response;
    const caller = who.caller;
    const found = await findVisibleRun(request, context, caller);
    if (!found.ok) return found.response;
    const status = found.status;
    const runId = status.instanceId;
    if (!canApprove(caller, runAccess(status))) {
      return problem(
        403,
        'Not an approver',
        `You may read run ${runId} but not decide it: only its owner and its approvers may.`,
      );
    }
    const body = await readJsonBody(request, approvalBodySchema, { maxBytes: config.limits.maxBodyBytes });
    if (!body.ok) return body.response;

    const view = runView(request, status);
    if (isFinished(status)) {
      return problem(410, 'Run has ended', `Run ${runId} has already ended as ${view.status}.`, {
        status: view.status,
      });
    }
    if (status.runtimeStatus === df.OrchestrationRuntimeStatus.Suspended) {
      return problem(
        409,
        'Run is suspended',
        `Run ${runId} is suspended and takes no decision until it is resumed.`,
        { status: view.status, suspended: true },
      );
    }
    const { round, draftId } = body.value;
    const pending = customStatusOf(status)?.approval;
    // That round was decided already and the run has not offered a newer draft yet (it is revising or
    // saving): this decision lost the race. Once a newer draft is offered, it is "not on offer" below.
    const earlier = decisionTaken(status, round);
    if (earlier && !(pending && pending.round > round))
      return lost(runId, round, body.value.decision, earlier, view);
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
    if (
      round !== pending.round ||
      (draftId !== undefined && pending.draftId !== undefined && draftId !== pending.draftId)
    ) {
      const which = round === pending.round ? `draft ${draftId ?? ''} of round ${round}` : `round ${round}`;
      return problem(
        409,
        'Not the draft on offer',
        `You decided ${which}, but run ${runId} offers round ${pending.round}${pending.draftId ? ` (draft ${pending.draftId})` : ''}. Your decision was not taken: read the draft on offer and decide on it.`,
        {
          currentRound: pending.round,
          ...(pending.draftId ? { currentDraftId: pending.draftId } : {}),
        },
      );
    }

    const sent: DecisionSent = {
      id: randomUUID(),
      round,
      ...(pending.draftId ? { draftId: pending.draftId } : {}),
      decision: body.value.decision,
      by: caller.userId,
      ...(body.value.comment ? { comment: body.value.comment } : {}),
    };
    const event: ApprovalEvent = {
      decision: sent.decision,
      ...(sent.comment ? { comment: sent.comment } : {}),
      by: sent.by,
      round,
      ...(sent.draftId ? { draftId: sent.draftId } : {}),
      decisionId: sent.id,
      proof: signer.approvalProof({ runId, ...sent, decisionId: sent.id }),
    };
    const client = df.getClient(context);
    // On the round's own channel: the run waits on no other name, so only the product's events reach it,
    // and a decision for a round that has been decided meanwhile reaches nothing.
    await client.raiseEvent(runId, signer.approvalEventName(runId, round), event);
    context.log(
      `Run ${runId}: ${caller.userId} chose ${sent.decision} for round ${round} (decision ${sent.id}).`,
    );

    const settled = await waitUntilDecided(client, runId, round, settleMs);
    const run = await withFullDraft(blobs, runView(request, settled.status ?? status));
    switch (settled.kind) {
      case 'taken':
        if (settled.decision.id === sent.id)
          return { status: 200, jsonBody: { state: 'taken', decision: sent, run } };
        return lost(runId, round, sent.decision, settled.decision, run, sent);
      case 'ended':
        return problem(
          410,
          'Run has ended',
          `Run ${runId} ended as ${run.status} before it took your decision.`,
          { status: run.status, notTaken: sent },
        );
      case 'pending':
        return {
          status: 202,
          headers: { Location: run.links.run, 'Retry-After': '1' },
          jsonBody: {
            state: 'pending',
            detail: `The run has not taken a decision for round ${round} yet. Read the run: its lastDecision shows the decision it takes (this one has id ${sent.id}).`,
            decision: sent,
            run,
          },
        };
    }
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
  return canView(caller, runAccess(status)) ? { ok: true, status } : notFound;
}

/** The 409 for a decision that another one, taken first for the same round, beat. */
function lost(
  runId: string,
  round: number,
  decision: 'approve' | 'reject',
  taken: TakenDecision,
  run: RunView,
  sent?: DecisionSent,
): HttpResponseInit {
  return problem(
    409,
    'Another decision was taken',
    `Round ${round} of run ${runId} was decided first: ${taken.decision} by ${taken.by}. Your ${decision} was not taken.`,
    {
      taken,
      ...(sent ? { notTaken: sent } : {}),
      ...(run.approval ? { currentRound: run.approval.round } : {}),
    },
  );
}

type Settled =
  | { kind: 'taken'; decision: TakenDecision; status: DurableOrchestrationStatus }
  | { kind: 'ended' | 'pending'; status: DurableOrchestrationStatus | null };

/**
 * After raising a decision, waits for the run to take one for `round`: the decision it records in its
 * custom status (or, once ended, in its output) says which one won. A run that ends without deciding
 * the round took none; one still waiting when the time is up has not taken any yet.
 */
async function waitUntilDecided(
  client: DurableClient,
  runId: string,
  round: number,
  settleMs: number,
): Promise<Settled> {
  const giveUpAt = Date.now() + settleMs;
  for (;;) {
    const status = await getStatusOrNull(client, runId);
    if (!status) return { kind: 'ended', status };
    const taken = decisionTaken(status, round);
    if (taken) return { kind: 'taken', decision: taken, status };
    if (isFinished(status)) return { kind: 'ended', status };
    if (Date.now() >= giveUpAt) return { kind: 'pending', status };
    await sleep(100);
  }
}

/** The decision the run took for `round`, from its custom status or its output. */
export function decisionTaken(status: DurableOrchestrationStatus, round: number): TakenDecision | undefined {
  const fromStatus = customStatusOf(status)?.decision;
  if (fromStatus?.round === round) return fromStatus;
  const approval = fitting(agentRunResultSchema, status.output)?.approval;
  if (approval?.decision && approval.by && approval.rounds === round) {
    return {
      ...(approval.decisionId ? { id: approval.decisionId } : {}),
      round,
      decision: approval.decision,
      by: approval.by,
    };
  }
  return undefined;
}
