import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import type { z } from 'zod';
import type { Subtask, SubtaskResult } from '../contracts/agentRun';
import {
  callModelOutputSchema,
  type CallModelInput,
  type CallModelResult,
  type ModelUsage,
} from '../contracts/model';
import { checked } from '../contracts/orchestrations';
import type { ActivityOutcome } from '../lib/errors';
import { safeMessage } from '../lib/safeErrors';
import { activityNames } from '../names';

/** A step of an orchestration: a generator the orchestrator runs with `yield*`. */
export type Durable<T> = Generator<Task, T, unknown>;

/**
 * Transient faults (thrown by activities as RetryableError) are retried by the host, with backoff.
 * Rate limits and permanent errors come back as values and are handled by the caller.
 */
export function activityRetry(): df.RetryOptions {
  const retry = new df.RetryOptions(1000, 4);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 30_000;
  return retry;
}

/** How many times one model call may be put off by a long rate limit before the step gives up. */
export const maxRateLimitWaits = 5;

export type StepResult<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * Calls an activity that returns an `ActivityOutcome`. A rate limit with a long retry-after becomes a
 * durable timer (no function is held while waiting), then the call is tried again, a bounded number of
 * times; a permanent failure ends the step. Transient faults are retried by the host first. Each
 * outcome is checked against `outcome`, the activity's contract, as it comes out of the history.
 */
export function* callActivityDurably<T>(
  context: OrchestrationContext,
  activityName: string,
  input: unknown,
  outcome: z.ZodType<ActivityOutcome<T>>,
): Durable<StepResult<T>> {
  for (let waits = 0; ; waits++) {
    const out = checked(
      outcome,
      yield context.df.callActivityWithRetry(activityName, activityRetry(), input),
      `The ${activityName} result`,
    );
    if (out.ok) return { ok: true, value: out.value };
    if (out.kind === 'permanent') return { ok: false, message: out.message };
    if (waits >= maxRateLimitWaits) {
      return { ok: false, message: `still rate-limited after ${maxRateLimitWaits} waits: ${out.message}` };
    }
    if (!context.df.isReplaying) {
      context.log(`${activityName} was rate-limited; waiting ${out.retryAfterMs} ms on a durable timer.`);
    }
    yield context.df.createTimer(
      new Date(context.df.currentUtcDateTime.getTime() + Math.max(out.retryAfterMs, 1)),
    );
  }
}

export function callModelDurably(
  context: OrchestrationContext,
  input: CallModelInput,
): Durable<StepResult<CallModelResult>> {
  return callActivityDurably(context, activityNames.callModel, input, callModelOutputSchema);
}

/** The message of an error thrown by a durable task, without the host's stack details. */
export function failureMessage(error: unknown): string {
  return safeMessage(error);
}

/** A subtask that ended without an answer; it is reported in the result, and the run goes on. */
export function failedSubtask(subtask: Subtask, error: string, usage: ModelUsage): SubtaskResult {
  return { id: subtask.id, kind: subtask.kind, title: subtask.title, ok: false, error, citations: [], usage };
}
