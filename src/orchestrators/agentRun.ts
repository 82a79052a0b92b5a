import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task, TimerTask } from 'durable-functions';
import { z } from 'zod';
import { routeModel } from '../agents/routing';
import {
  addUsage,
  approvalEventSchema,
  approversOf,
  statusTitleChars,
  emptyUsage,
  planSchema,
  type AgentRunInput,
  type AgentRunResult,
  type AgentRunStatus,
  type ApprovalEvent,
  type PendingApproval,
  type RunOutcome,
  type RunStage,
  type Subtask,
  type SubtaskResult,
  type WebhookDelivery,
  type WebhookEventType,
} from '../contracts/agentRun';
import type { ModelUsage } from '../contracts/model';
import type { ReserveResult } from '../contracts/quota';
import type { Citation } from '../contracts/research';
import {
  draftPreviewChars,
  type SaveDraftInput,
  type SaveDraftOutput,
  type SaveResultInput,
  type SaveResultOutput,
} from '../contracts/result';
import type {
  ApprovalChannelInput,
  ApprovalChannelOutput,
  VerifyApprovalInput,
  VerifyApprovalOutput,
} from '../contracts/approvalProof';
import { activityNames, entityNames, orchestratorNames } from '../names';
import type { AnswerSubtaskInput } from './answerSubtask';
import { messageOnly } from '../lib/safeErrors';
import { isBudgetSpent, TokenBudget, type BudgetShare } from './budget';
import { activityRetry, type Durable } from './durable';
import { defaultResearchPolling, type ResearchSubtaskInput } from './researchSubtask';
import type { ToolSubtaskInput } from './toolSubtask';
import { notifyWebhook } from './webhook';

/** Per-call completion cap, so one answer cannot spend the whole run's budget. */
const maxTokensPerCall = 2000;

const plannerPrompt =
  'Split the request into the smallest set of independent subtasks that can run in parallel. Kinds: ' +
  '"answer" (reasoning with tools such as a calculator), "research" (needs current facts from the web, with ' +
  'sources), "tool" (a single direct tool call; give toolName and toolArguments as a JSON object). For other ' +
  'kinds use toolName "none" and toolArguments "{}". Prefer one subtask for a simple request.';

const synthesisPrompt =
  'Write one answer to the request from the findings of the subtasks. Keep every fact and number the findings ' +
  'give. Cite sources with their numbers in square brackets, like [1], exactly as numbered in the findings; ' +
  'do not invent sources. Mention briefly any part that could not be done.';

const revisionPrompt =
  'Revise the draft answer to address the reviewer comment. Keep the citations [n] that still apply and ' +
  'do not invent new sources. Return only the revised answer.';

/**
 * One agent run: reserve tokens, plan, fan out subtasks, synthesize, commit usage, optionally wait for a
 * person's approval (with revisions, a deadline and one escalation), save the result to Blob Storage.
 * Deterministic: time, ids and every outside answer come from the durable context and its history.
 */
export const agentRunOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<AgentRunInput>();
  // Every id this run makes (children, reservations, the result blob) comes from its own instance id, not
  // from the input, so a restarted copy of a run (same input, new instance) can never collide with it.
  const runId = context.df.instanceId;
  const run = new RunProgress(context, input);
  const quota = new df.EntityId(entityNames.tokenQuota, input.owner);
  const now = () => context.df.currentUtcDateTime.toISOString();

  run.setStage('reserving');
  const reservation = (yield context.df.callEntity(quota, 'reserve', {
    runId,
    tokens: input.maxTokens,
    now: now(),
  })) as ReserveResult;
  if (!reservation.granted) {
    const q = reservation.quota;
    run.setStage('done');
    const refused = run.result('quota-exceeded', {
      message:
        `The run needs ${input.maxTokens} tokens but only ${q.remaining} of ${q.monthlyTokenLimit} remain ` +
        `until ${q.periodEnd}. Ask for fewer tokens (maxTokens) or ask an admin to raise the limit.`,
      quota: { remaining: q.remaining, monthlyTokenLimit: q.monthlyTokenLimit, periodEnd: q.periodEnd },
    });
    yield* run.notify('run.ended', { status: refused.outcome, message: refused.message });
    return run.withWebhook(refused);
  }

  const budget = new TokenBudget(context, {
    owner: input.owner,
    reservationKey: runId,
    tokens: input.maxTokens,
  });
  const settle = () => context.df.callEntity(quota, 'settle', { runId, now: now() });
  let settled = false;
  try {
    const subtasks = yield* plan(context, input, run, budget);
    const results = yield* fanOut(context, input, run, subtasks, budget);

    let outcome: RunOutcome;
    let draft: Draft | null = null;
    let message: string | undefined;
    if (results.every((r) => !r.ok)) {
      outcome = 'failed';
      message = `Every subtask failed: ${results.map((r) => `${r.id}: ${r.error ?? 'unknown error'}`).join('; ')}`;
    } else {
      run.setStage('synthesizing');
      const synthesis = yield* synthesize(context, input, run, results, budget);
      if (synthesis.ok) {
        draft = synthesis.draft;
        outcome = 'completed';
      } else if (synthesis.budgetSpent) {
        outcome = 'budget-spent';
        message =
          `The run spent its ${input.maxTokens} tokens before it could write the final answer; ` +
          `the subtasks' results are all it has. Ask for more tokens (maxTokens) to get a full answer.`;
      } else {
        outcome = 'failed';
        message = `Could not write the final answer: ${synthesis.message}`;
      }
    }

    // What was spent stays counted; the rest of the reservation goes back before any wait for approval.
    yield settle();
    settled = true;

    let approval: ApprovalOutcome | undefined;
    if (draft && input.approval) {
      approval = yield* awaitApproval(context, input, run, draft, quota);
      draft = approval.draft ?? draft;
      outcome = approval.outcome;
      message = approval.message;
    }

    run.setStage('saving');
    const result = run.result(outcome, {
      ...(draft ? { answer: draft.text, citations: draft.citations } : {}),
      subtasks: results,
      ...(message ? { message } : {}),
      ...(approval ? { approvalDecision: approval } : {}),
    });
    const saved = (yield context.df.callActivityWithRetry(activityNames.saveResult, activityRetry(), {
      runId,
      result,
    } satisfies SaveResultInput)) as SaveResultOutput;
    run.setStage('done');
    yield* run.notify('run.ended', {
      status: outcome,
      usage: run.usage,
      ...(message ? { message } : {}),
    });
    return run.withWebhook({ ...result, blobName: saved.blobName });
  } catch (error) {
    // Whatever was spent is counted, and the rest of the reservation goes back to the user.
    if (!settled) yield settle();
    yield* run.notify('run.ended', { status: 'failed', usage: run.usage });
    // The failure becomes the run's output: its message only, never a stack with server paths.
    throw messageOnly(error);
  }
};

interface Draft {
  text: string;
  citations: Citation[];
}

/** Tracks stage, progress and usage, and publishes them as the custom status at every change. */
class RunProgress {
  usage: ModelUsage = emptyUsage;
  stage: RunStage = 'reserving';
  done = 0;
  total = 0;
  subtasks: NonNullable<AgentRunStatus['subtasks']> = [];
  approval: PendingApproval | undefined;
  webhookDeliveries: WebhookDelivery[] = [];
  readonly startedAt: string;

  constructor(
    private readonly context: OrchestrationContext,
    private readonly input: AgentRunInput,
  ) {
    this.startedAt = context.df.currentUtcDateTime.toISOString();
  }

  setStage(stage: RunStage): void {
    this.stage = stage;
    if (stage !== 'awaiting-approval') this.approval = undefined;
    this.publish();
  }

  addUsage(usage: ModelUsage): void {
    this.usage = addUsage(this.usage, usage);
  }

  publish(): void {
    const status: AgentRunStatus = {
      stage: this.stage,
      progress: { done: this.done, total: this.total },
      usage: this.usage,
      owner: this.input.owner,
      ...(this.subtasks.length > 0 ? { subtasks: this.subtasks } : {}),
      ...(this.approval ? { approval: this.approval } : {}),
      ...(this.webhookDeliveries.length > 0 ? { webhook: { deliveries: this.webhookDeliveries } } : {}),
    };
    this.context.df.setCustomStatus(status);
  }

  /** Sends a webhook if the run asked for them, and shows what became of it. */
  *notify(type: WebhookEventType, data: Record<string, unknown>): Durable<void> {
    const delivery = yield* notifyWebhook(this.context, this.input, this.webhookDeliveries, type, data);
    if (!delivery) return;
    this.webhookDeliveries = [...this.webhookDeliveries, delivery];
    this.publish();
  }

  withWebhook<T extends AgentRunResult>(result: T): T {
    return this.webhookDeliveries.length > 0
      ? { ...result, webhook: { deliveries: this.webhookDeliveries } }
      : result;
  }

  result(
    outcome: RunOutcome,
    extra: {
      answer?: string;
      citations?: Citation[];
      subtasks?: SubtaskResult[];
      message?: string;
      quota?: AgentRunResult['quota'];
      approvalDecision?: ApprovalOutcome;
    },
  ): AgentRunResult {
    const decision = extra.approvalDecision;
    return {
      runId: this.context.df.instanceId,
      owner: this.input.owner,
      outcome,
      prompt: this.input.prompt,
      answer: extra.answer ?? null,
      citations: extra.citations ?? [],
      subtasks: extra.subtasks ?? [],
      usage: this.usage,
      approval: {
        required: this.input.approval !== null,
        ...(decision?.decision ? { decision: decision.decision } : {}),
        ...(decision?.by ? { by: decision.by } : {}),
        ...(decision?.comment ? { comment: decision.comment } : {}),
        rounds: decision?.rounds ?? 0,
        escalated: decision?.escalated ?? false,
      },
      ...(extra.message ? { message: extra.message } : {}),
      ...(extra.quota ? { quota: extra.quota } : {}),
      startedAt: this.startedAt,
      finishedAt: this.context.df.currentUtcDateTime.toISOString(),
    };
  }
}

function* plan(
  context: OrchestrationContext,
  input: AgentRunInput,
  run: RunProgress,
  budget: TokenBudget,
): Durable<Subtask[]> {
  run.setStage('planning');
  const schema = planSchema(input.limits.maxSubtasks, input.tools);
  const call = yield* budget.call({
    tier: 'fast',
    messages: [
      { role: 'system', content: plannerPrompt },
      {
        role: 'user',
        content:
          `Request: ${input.prompt}\n\nTools available: ${input.tools.join(', ') || 'none'}. ` +
          `Research available: ${input.researchAvailable && input.research !== false ? 'yes' : 'no'}. ` +
          `At most ${input.limits.maxSubtasks} subtasks.`,
      },
    ],
    responseFormat: { name: 'plan', schema: z.toJSONSchema(schema) },
    maxTokens: maxTokensPerCall,
  });
  let planned: Subtask[] | null = null;
  if (call.ok) {
    run.addUsage(call.value.usage);
    planned = parsePlan(call.value.message.content, schema, input);
  }
  if (!planned && !context.df.isReplaying) {
    context.log(
      `Run ${context.df.instanceId}: the plan was not usable; falling back to a single answer subtask.`,
    );
  }
  return ensureResearch(
    planned ?? [{ id: 's1', kind: 'answer', title: 'Answer the request', instructions: input.prompt }],
    input,
  );
}

/** The model's plan, made to fit what this run allows; null when it is not a valid plan at all. */
function parsePlan(
  content: string | null,
  schema: ReturnType<typeof planSchema>,
  input: AgentRunInput,
): Subtask[] | null {
  let json: unknown;
  try {
    json = JSON.parse(content ?? '');
  } catch {
    return null;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) return null;
  const researchAllowed = input.researchAvailable && input.research !== false;
  return parsed.data.subtasks.map((s, i): Subtask => {
    const id = `s${i + 1}`;
    if (s.kind === 'tool' && s.toolName !== 'none' && input.tools.includes(s.toolName)) {
      return {
        id,
        kind: 'tool',
        title: s.title,
        instructions: s.instructions,
        toolName: s.toolName,
        toolArguments: s.toolArguments,
      };
    }
    const kind = s.kind === 'research' && researchAllowed ? 'research' : 'answer';
    return { id, kind, title: s.title, instructions: s.instructions };
  });
}

/** `research: true` asks for at least one research subtask when research is available. */
function ensureResearch(subtasks: Subtask[], input: AgentRunInput): Subtask[] {
  if (input.research !== true || !input.researchAvailable || subtasks.some((s) => s.kind === 'research')) {
    return subtasks;
  }
  const withResearch: Subtask[] = [
    ...subtasks.slice(0, input.limits.maxSubtasks - 1),
    { id: '', kind: 'research', title: 'Research the request', instructions: input.prompt },
  ];
  return withResearch.map((s, i) => ({ ...s, id: `s${i + 1}` }));
}

/**
 * Runs every subtask as a sub-orchestration, all at once, and waits for all of them with one Task.all.
 * Each child ends with a result, never a fault, so one failure does not hide the others.
 *
 * Why not a Task.any loop for live progress: a new Task.any over tasks that were already scheduled lists
 * them again, and the Durable extension (like the devhost) schedules them a second time (durable-js #574).
 * The run view reads live progress from the children's statuses instead.
 */
function* fanOut(
  context: OrchestrationContext,
  input: AgentRunInput,
  run: RunProgress,
  subtasks: Subtask[],
  budget: TokenBudget,
): Durable<SubtaskResult[]> {
  run.total = subtasks.length;
  // Each answer subtask may spend an equal share; the synthesis keeps at least one share plus whatever
  // the subtasks leave unspent.
  const childShare = {
    owner: input.owner,
    reservationKey: context.df.instanceId,
    tokens: Math.floor(budget.left / (subtasks.length + 1)),
  };
  run.subtasks = subtasks.map((s) => ({
    id: s.id,
    kind: s.kind,
    title: s.title.slice(0, statusTitleChars),
    state: 'pending',
  }));
  run.setStage('working');

  const results = (yield context.df.Task.all(
    subtasks.map((subtask) => startSubtask(context, input, subtask, childShare)),
  )) as SubtaskResult[];
  for (const result of results) {
    run.addUsage(result.usage);
    // Answer subtasks recorded their own spend call by call; research reports its usage at the end.
    if (result.kind === 'answer') budget.spent += result.usage.totalTokens;
    else if (result.usage.totalTokens > 0) budget.record(result.usage.totalTokens, `child-${result.id}`);
  }
  run.done = results.length;
  run.subtasks = results.map((r) => ({
    id: r.id,
    kind: r.kind,
    title: r.title.slice(0, statusTitleChars),
    state: r.ok ? 'succeeded' : 'failed',
  }));
  run.publish();
  return results;
}

/** Children are named after the run, so the run view can find them: `<runId>-s1`, `<runId>-s2`, ... */
export function subtaskInstanceId(runId: string, subtaskId: string): string {
  return `${runId}-${subtaskId}`;
}

function startSubtask(
  context: OrchestrationContext,
  input: AgentRunInput,
  subtask: Subtask,
  share: BudgetShare,
): Task {
  const runId = context.df.instanceId;
  const childId = subtaskInstanceId(runId, subtask.id);
  switch (subtask.kind) {
    case 'answer': {
      const childInput: AnswerSubtaskInput = {
        runId,
        prompt: input.prompt,
        subtask,
        tier: routeModel(input.model, {
          kind: subtask.kind,
          text: `${subtask.title}\n${subtask.instructions}`,
        }),
        tools: input.tools,
        maxTurns: input.limits.maxToolTurns,
        maxTokensPerCall,
        budget: share,
      };
      return context.df.callSubOrchestrator(orchestratorNames.answerSubtask, childInput, childId);
    }
    case 'research': {
      const childInput: ResearchSubtaskInput = {
        runId,
        subtask,
        polling: defaultResearchPolling,
        budgetTokens: share.tokens,
      };
      return context.df.callSubOrchestrator(orchestratorNames.researchSubtask, childInput, childId);
    }
    case 'tool': {
      const childInput: ToolSubtaskInput = { runId, subtask };
      return context.df.callSubOrchestrator(orchestratorNames.toolSubtask, childInput, childId);
    }
  }
}

/**
 * Numbers every source once, in the order the subtasks cite them, across all subtasks, and rewrites
 * each subtask's own markers ([1] is its first source) to those global numbers.
 */
export function numberCitations(results: readonly SubtaskResult[]): {
  citations: Citation[];
  numbersBySubtask: Map<string, number[]>;
  textBySubtask: Map<string, string>;
} {
  const citations: Citation[] = [];
  const byUrl = new Map<string, number>();
  const numbersBySubtask = new Map<string, number[]>();
  const textBySubtask = new Map<string, string>();
  for (const result of results) {
    const numbers: number[] = [];
    for (const citation of result.citations) {
      let n = byUrl.get(citation.url);
      if (n === undefined) {
        citations.push(citation);
        n = citations.length;
        byUrl.set(citation.url, n);
      }
      numbers.push(n);
    }
    numbersBySubtask.set(result.id, numbers);
    const text = (result.text ?? '').replace(/\[(\d+)\]/g, (marker, local: string) => {
      const global = numbers[Number(local) - 1];
      return global === undefined ? marker : `[${global}]`;
    });
    textBySubtask.set(result.id, text);
  }
  return { citations, numbersBySubtask, textBySubtask };
}

function* synthesize(
  context: OrchestrationContext,
  input: AgentRunInput,
  run: RunProgress,
  results: SubtaskResult[],
  budget: TokenBudget,
): Durable<{ ok: true; draft: Draft } | { ok: false; message: string; budgetSpent: boolean }> {
  const { citations, numbersBySubtask, textBySubtask } = numberCitations(results);
  const findings = results
    .map((r) => {
      if (!r.ok) return `[${r.id}] ${r.title}: could not be done (${r.error ?? 'unknown error'})`;
      const sources = (numbersBySubtask.get(r.id) ?? [])
        .map((n) => `  [${n}] ${citations[n - 1]?.title ?? ''} ${citations[n - 1]?.url ?? ''}`)
        .join('\n');
      return `[${r.id}] ${r.title}:\n${textBySubtask.get(r.id) ?? ''}${sources ? `\n  Sources:\n${sources}` : ''}`;
    })
    .join('\n\n');
  const call = yield* budget.call({
    tier: input.model === 'fast' ? 'fast' : 'strong',
    messages: [
      { role: 'system', content: synthesisPrompt },
      { role: 'user', content: `Request: ${input.prompt}\n\nFindings:\n${findings}` },
    ],
    maxTokens: maxTokensPerCall,
  });
  if (!call.ok) return { ok: false, message: call.message, budgetSpent: isBudgetSpent(call) };
  run.addUsage(call.value.usage);
  const text = call.value.message.content?.trim() ?? '';
  if (text === '') return { ok: false, message: 'the model returned an empty answer', budgetSpent: false };
  return { ok: true, draft: { text, citations } };
}

interface ApprovalOutcome {
  outcome: RunOutcome;
  rounds: number;
  escalated: boolean;
  decision?: 'approve' | 'reject';
  by?: string;
  comment?: string;
  message?: string;
  draft?: Draft;
}

/**
 * Waits for the `approval` event against a deadline. A rejection with a comment revises the draft and
 * asks again (a bounded number of rounds); at the deadline the run escalates once, then expires.
 * Events carry the round they answer, so a late or repeated click never decides a newer draft.
 */
function* awaitApproval(
  context: OrchestrationContext,
  input: AgentRunInput,
  run: RunProgress,
  firstDraft: Draft,
  quota: df.EntityId,
): Durable<ApprovalOutcome> {
  const settings = input.approval;
  if (!settings) return { outcome: 'completed', rounds: 0, escalated: false };
  const timeoutMs = settings.timeoutMinutes * 60_000;
  let draft = firstDraft;
  let escalated = false;
  let round = 0;
  let deadline = new Date(context.df.currentUtcDateTime.getTime() + timeoutMs);
  let draftBlob: { round: number; blobName: string } | undefined;
  let channel: { round: number; eventName: string } | undefined;
  for (;;) {
    const approvers = approversOf(input.owner, settings, escalated);
    // The custom status must stay small whatever the model wrote, so the draft goes to a blob (once per
    // round; an escalation offers the same draft) and the status carries a reference and a preview.
    if (draftBlob?.round !== round) {
      const saved = (yield context.df.callActivityWithRetry(activityNames.saveDraft, activityRetry(), {
        runId: context.df.instanceId,
        round,
        text: draft.text,
        citations: draft.citations,
      } satisfies SaveDraftInput)) as SaveDraftOutput;
      draftBlob = { round, blobName: saved.blobName };
    }
    // The round's own event name, once per round (an escalation keeps it): see waitForDecision.
    if (channel?.round !== round) {
      const opened = (yield context.df.callActivityWithRetry(activityNames.approvalChannel, activityRetry(), {
        runId: context.df.instanceId,
        round,
      } satisfies ApprovalChannelInput)) as ApprovalChannelOutput;
      channel = { round, eventName: opened.eventName };
    }
    run.approval = {
      round,
      draftPreview: draft.text.slice(0, draftPreviewChars),
      draftChars: draft.text.length,
      citationCount: draft.citations.length,
      draftBlob: draftBlob.blobName,
      deadline: deadline.toISOString(),
      escalated,
    };
    run.stage = 'awaiting-approval';
    run.publish();
    yield* run.notify('run.awaiting_approval', {
      status: 'awaiting-approval',
      approval: { round, deadline: deadline.toISOString(), approvers, escalated },
    });

    const event = yield* waitForDecision(context, channel.eventName, round, deadline);
    const base = { rounds: round, escalated, draft };
    if (!event) {
      if (!escalated && settings.escalateTo.length > 0) {
        escalated = true;
        deadline = new Date(context.df.currentUtcDateTime.getTime() + timeoutMs);
        continue;
      }
      return {
        ...base,
        outcome: 'expired',
        message: `Nobody approved the answer before ${deadline.toISOString()}.`,
      };
    }
    const decided = {
      ...base,
      decision: event.decision,
      by: event.by,
      ...(event.comment ? { comment: event.comment } : {}),
    };
    if (event.decision === 'approve') return { ...decided, outcome: 'completed' };
    if (!event.comment || round >= input.limits.maxRevisions) {
      const why = event.comment ? ` after ${round} revision${round === 1 ? '' : 's'}` : '';
      return { ...decided, outcome: 'rejected', message: `Rejected by ${event.by}${why}.` };
    }

    round += 1;
    run.setStage('revising');
    const revised = yield* revise(context, input, run, quota, draft, event.comment, round);
    if (!revised.ok) return { ...decided, rounds: round, outcome: 'rejected', message: revised.message };
    draft = revised.draft;
    // A revision restarts the clock for the approvers.
    deadline = new Date(context.df.currentUtcDateTime.getTime() + timeoutMs);
  }
}

/**
 * The first decision for `round` with a valid proof, or null at the deadline.
 *
 * What an ignored event costs: the run waits on the round's own channel, a name derived from the signing
 * key that only the product raises on. An event under any other name (the public `approval`, a guessed
 * name, an older round's channel) is recorded by the host and never delivered: no timer, no check, no
 * step. Only an event on this channel (the product's, or one raised by someone who read the run's
 * history) is looked at; its proof is checked in an activity, since the key is configuration, and a
 * failed check costs a new wait: listing the first timer in a second Task.any would make the host
 * schedule it again (durable-js #574), so each wait is a fresh timer and a fresh event task.
 */
function* waitForDecision(
  context: OrchestrationContext,
  eventName: string,
  round: number,
  deadline: Date,
): Durable<ApprovalEvent | null> {
  for (;;) {
    const timer: TimerTask = context.df.createTimer(deadline);
    const eventTask = context.df.waitForExternalEvent(eventName);
    const winner = (yield context.df.Task.any([eventTask, timer])) as Task;
    if (winner === timer) return null;
    timer.cancel();
    const parsed = approvalEventSchema.safeParse(eventTask.result);
    if (!parsed.success || parsed.data.round !== round) {
      if (!context.df.isReplaying)
        context.log(`Run ${context.df.instanceId}: ignored an approval event it cannot read.`);
      continue;
    }
    // Only the product signs approval events, after checking the decider may decide; one raised around
    // it (with the task hub's system key, or on the devhost's open API) carries no valid proof.
    const proof = (yield context.df.callActivity(activityNames.verifyApproval, {
      runId: context.df.instanceId,
      event: parsed.data,
    } satisfies VerifyApprovalInput)) as VerifyApprovalOutput;
    if (proof.valid) return parsed.data;
    if (!context.df.isReplaying) {
      context.log(
        `Run ${context.df.instanceId}: ignored an approval event without a valid proof; it did not come through the product's approval endpoint.`,
      );
    }
  }
}

function* revise(
  context: OrchestrationContext,
  input: AgentRunInput,
  run: RunProgress,
  quota: df.EntityId,
  draft: Draft,
  comment: string,
  round: number,
): Durable<{ ok: true; draft: Draft } | { ok: false; message: string }> {
  // Each revision reserves and commits on its own key, so it is counted once, like the run itself.
  const revisionId = `${context.df.instanceId}:revision-${round}`;
  const now = () => context.df.currentUtcDateTime.toISOString();
  const budget = Math.min(input.maxTokens, maxTokensPerCall * 2);
  const reservation = (yield context.df.callEntity(quota, 'reserve', {
    runId: revisionId,
    tokens: budget,
    now: now(),
  })) as ReserveResult;
  if (!reservation.granted) {
    return {
      ok: false,
      message: `The quota has no room for a revision (${reservation.quota.remaining} tokens left).`,
    };
  }
  const revisionBudget = new TokenBudget(context, {
    owner: input.owner,
    reservationKey: revisionId,
    tokens: budget,
  });
  try {
    const sources = draft.citations.map((c, i) => `[${i + 1}] ${c.title} ${c.url}`).join('\n');
    const call = yield* revisionBudget.call({
      tier: input.model === 'fast' ? 'fast' : 'strong',
      messages: [
        { role: 'system', content: revisionPrompt },
        {
          role: 'user',
          content: `Request: ${input.prompt}\n\nDraft:\n${draft.text}\n\nSources:\n${sources || 'none'}\n\nReviewer comment: ${comment}`,
        },
      ],
      maxTokens: maxTokensPerCall,
    });
    if (!call.ok) return { ok: false, message: `The revision failed: ${call.message}` };
    run.addUsage(call.value.usage);
    const text = call.value.message.content?.trim() ?? '';
    if (text === '') return { ok: false, message: 'The revision came back empty.' };
    return { ok: true, draft: { text, citations: draft.citations } };
  } finally {
    yield context.df.callEntity(quota, 'settle', { runId: revisionId, now: now() });
  }
}
