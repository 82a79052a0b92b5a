import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { emptyUsage, type SubtaskResult } from '../contracts/agentRun';
import type { ModelUsage } from '../contracts/model';
import {
  collectResearchOutputSchema,
  minResearchBudgetTokens,
  pollResearchOutputSchema,
  researchLimits,
  startResearchOutputSchema,
  type CollectResearchInput,
  type CollectResearchOutput,
  type StartResearchInput,
} from '../contracts/research';
import {
  checked,
  researchSubtaskInputSchema,
  type ResearchPolling,
  type ResearchSubtaskInput,
} from '../contracts/orchestrations';
import { activityNames } from '../names';
import { activityRetry, callActivityDurably, failedSubtask, failureMessage, type Durable } from './durable';

export type { ResearchPolling, ResearchSubtaskInput } from '../contracts/orchestrations';

export const defaultResearchPolling: ResearchPolling = {
  firstDelayMs: 2000,
  factor: 2,
  maxDelayMs: 10_000,
  timeoutMs: 10 * 60_000,
};

/** The delay before the nth poll (0-based): first, first*factor, ... capped. */
export function pollDelayMs(polling: ResearchPolling, attempt: number): number {
  return Math.min(polling.maxDelayMs, polling.firstDelayMs * polling.factor ** attempt);
}

const terminalFailures = new Set(['failed', 'cancelled', 'expired', 'incomplete', 'requires_action']);

/**
 * A Bing-grounded research sub-agent on the Foundry Agent Service: start one run, poll it with durable
 * timers that back off, collect the text and its url citations, and delete the thread.
 */
export const researchSubtaskOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = checked(researchSubtaskInputSchema, context.df.getInput(), 'The research subtask input');
  try {
    return yield* research(context, input);
  } catch (error) {
    return failedSubtask(input.subtask, failureMessage(error), emptyUsage);
  }
};

function* research(context: OrchestrationContext, input: ResearchSubtaskInput): Durable<SubtaskResult> {
  const { subtask, polling } = input;
  const budget = input.budgetTokens;
  if (budget !== undefined && budget < minResearchBudgetTokens) {
    return failedSubtask(
      subtask,
      `research was skipped: the run's budget leaves ${budget} tokens for it, and a research run needs at least ${minResearchBudgetTokens}`,
      emptyUsage,
    );
  }
  const started = yield* callActivityDurably(
    context,
    activityNames.startResearch,
    {
      runId: input.runId,
      subtaskId: subtask.id,
      query: `${subtask.title}\n${subtask.instructions}`,
      ...(budget !== undefined ? researchLimits(budget) : {}),
    } satisfies StartResearchInput,
    startResearchOutputSchema,
  );
  if (!started.ok) return failedSubtask(subtask, started.message, emptyUsage);
  const handle = started.value;

  const giveUpAt = context.df.currentUtcDateTime.getTime() + polling.timeoutMs;
  let completedUsage: ModelUsage | undefined;
  for (let attempt = 0; ; attempt++) {
    const now = context.df.currentUtcDateTime.getTime();
    if (now >= giveUpAt) {
      yield* collect(context, handle);
      return failedSubtask(
        subtask,
        `the research agent did not finish within ${polling.timeoutMs / 1000} s`,
        emptyUsage,
      );
    }
    yield context.df.createTimer(new Date(Math.min(giveUpAt, now + pollDelayMs(polling, attempt))));
    const poll = checked(
      pollResearchOutputSchema,
      yield context.df.callActivityWithRetry(activityNames.pollResearch, activityRetry(), handle),
      'The pollResearch result',
    );
    if (!poll.ok) {
      if (poll.kind === 'rate-limited') continue;
      yield* collect(context, handle);
      return failedSubtask(subtask, poll.message, emptyUsage);
    }
    if (poll.value.status === 'completed') {
      completedUsage = poll.value.usage;
      break;
    }
    if (terminalFailures.has(poll.value.status)) {
      yield* collect(context, handle);
      const reason = poll.value.error ? `: ${poll.value.error}` : '';
      // What the agent spent before it stopped (an incomplete run spent up to its limit) still counts.
      return failedSubtask(
        subtask,
        `the research agent run ended as ${poll.value.status}${reason}`,
        poll.value.usage ?? emptyUsage,
      );
    }
  }

  const collected = yield* collect(context, { ...handle, ...(completedUsage ? { completedUsage } : {}) });
  if (!collected.ok) return failedSubtask(subtask, collected.message, emptyUsage);
  const { text, citations, usage } = collected.value;
  return { id: subtask.id, kind: subtask.kind, title: subtask.title, ok: true, text, citations, usage };
}

/** Collects the answer and deletes the thread; also the clean-up after a failed run. */
function* collect(
  context: OrchestrationContext,
  handle: CollectResearchInput,
): Durable<CollectResearchOutput | { ok: false; kind: 'permanent'; message: string }> {
  try {
    return checked(
      collectResearchOutputSchema,
      yield context.df.callActivityWithRetry(activityNames.collectResearch, activityRetry(), handle),
      'The collectResearch result',
    );
  } catch (error) {
    return { ok: false, kind: 'permanent', message: failureMessage(error) };
  }
}
