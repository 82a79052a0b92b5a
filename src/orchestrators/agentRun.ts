import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { z } from 'zod';
import { numberCitations } from '../agents/citations';
import { plannerPrompt, synthesisPrompt } from '../agents/prompts';
import { routeModel } from '../agents/routing';
import {
  statusTitleChars,
  planSchema,
  type AgentRunInput,
  type RunOutcome,
  type Subtask,
  type SubtaskResult,
} from '../contracts/agentRun';
import { agentRunInputSchema, checked, subtaskResultSchema } from '../contracts/orchestrations';
import { saveResultOutputSchema, type SaveResultInput } from '../contracts/result';
import { activityNames, orchestratorNames, subtaskInstanceId } from '../names';
import type { AnswerSubtaskInput } from './answerSubtask';
import { messageOnly } from '../lib/safeErrors';
import { awaitApproval } from './approval';
import { isBudgetSpent, TokenBudget, type BudgetShare } from './budget';
import { maxTokensPerCall, type ApprovalOutcome, type Draft } from './draft';
import { activityRetry, type Durable } from './durable';
import { RunProgress } from './progress';
import { quotaEntity, reserveTokens, settleReservation } from './reservation';
import { defaultResearchPolling, type ResearchSubtaskInput } from './researchSubtask';
import type { ToolSubtaskInput } from './toolSubtask';
import { childVersion } from './version';

/**
 * One agent run: reserve tokens, plan, fan out subtasks, synthesize, commit usage, optionally wait for a
 * person's approval (with revisions, a deadline and one escalation), save the result to Blob Storage.
 * Deterministic: time, ids and every outside answer come from the durable context and its history.
 */
export const agentRunOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = checked(agentRunInputSchema, context.df.getInput(), 'The agent run input');
  // Every id this run makes (children, reservations, the result blob) comes from its own instance id, not
  // from the input, so a restarted copy of a run (same input, new instance) can never collide with it.
  const runId = context.df.instanceId;
  const run = new RunProgress(context, input);
  const quota = quotaEntity(input.owner);

  run.setStage('reserving');
  const reservation = yield* reserveTokens(context, quota, runId, input.maxTokens, 'The reservation');
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
  const settle = () => settleReservation(context, quota, runId);
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
    const saved = checked(
      saveResultOutputSchema,
      yield context.df.callActivityWithRetry(activityNames.saveResult, activityRetry(), {
        runId,
        result,
      } satisfies SaveResultInput),
      'The saved result',
    );
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

  const results = checked(
    subtaskResultSchema.array(),
    yield context.df.Task.all(subtasks.map((subtask) => startSubtask(context, input, subtask, childShare))),
    "The subtasks' results",
  );
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

function startSubtask(
  context: OrchestrationContext,
  input: AgentRunInput,
  subtask: Subtask,
  share: BudgetShare,
): Task {
  const runId = context.df.instanceId;
  const childId = subtaskInstanceId(runId, subtask.id);
  const version = childVersion(context);
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
      return context.df.callSubOrchestrator(orchestratorNames.answerSubtask, childInput, childId, version);
    }
    case 'research': {
      const childInput: ResearchSubtaskInput = {
        runId,
        subtask,
        polling: {
          ...defaultResearchPolling,
          timeoutMs: input.limits.researchTimeoutMs ?? defaultResearchPolling.timeoutMs,
        },
        budgetTokens: share.tokens,
      };
      return context.df.callSubOrchestrator(orchestratorNames.researchSubtask, childInput, childId, version);
    }
    case 'tool': {
      const childInput: ToolSubtaskInput = { runId, subtask };
      return context.df.callSubOrchestrator(orchestratorNames.toolSubtask, childInput, childId, version);
    }
  }
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
    stream: { runId: context.df.instanceId, round: 0 },
  });
  if (!call.ok) return { ok: false, message: call.message, budgetSpent: isBudgetSpent(call) };
  run.addUsage(call.value.usage);
  const text = call.value.message.content?.trim() ?? '';
  if (text === '') return { ok: false, message: 'the model returned an empty answer', budgetSpent: false };
  return { ok: true, draft: { text, citations } };
}
