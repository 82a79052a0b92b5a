import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { z } from 'zod';
import { emptyUsage, subtaskKinds, type AgentRunResult, type AgentRunStatus } from '../contracts/agentRun';
import type { ModelUsage } from '../contracts/model';
import { agentRunResultSchema, fitting, subtaskResultSchema } from '../contracts/orchestrations';
import type { ApprovalWaitRecord, RecordSpansInput, RunRecord } from '../contracts/telemetry';
import { safeMessage } from '../lib/safeErrors';
import { activityNames } from '../names';
import type { Durable } from '../orchestrators/durable';
import { placeOf } from './tree';

/**
 * The run's and the subtasks' spans, kept replay-safe. An orchestrator replays from the start at every
 * step, so it must not emit a span; these wrappers only watch (times from the durable clock, the status
 * the run publishes, the result it returns), and when the orchestration ends they schedule one
 * `recordSpans` activity with what they saw. A replay rebuilds the same record and finds that activity
 * in history, so it runs once per orchestration, not once per replay. Appended after the orchestration's
 * last step, the activity changes no step that a waiting run replays.
 */

/** What the spans need of an input; read by contract, and only that, so a span never fails a run. */
const ownerOfInput = z.object({ owner: z.string().min(1) });
const kindOfInput = z.object({ subtask: z.object({ kind: z.enum(subtaskKinds) }) });

const clock = (context: OrchestrationContext) => context.df.currentUtcDateTime.toISOString();

function* recordSpans(context: OrchestrationContext, input: RecordSpansInput): Durable<void> {
  try {
    // No retry: a span sent twice is worse than one lost, and the activity does not fail anyway.
    yield context.df.callActivity(activityNames.recordSpans, input);
  } catch {
    // Telemetry never changes how an orchestration ends.
  }
}

type Ending = { ok: true; output: unknown } | { ok: false; error: unknown };

function* runToEnd(handler: OrchestrationHandler, context: OrchestrationContext): Durable<Ending> {
  try {
    return { ok: true, output: yield* handler(context) };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The wrapped orchestration's own ending, after the span record is scheduled. */
function finish(ending: Ending): unknown {
  if (ending.ok) return ending.output;
  throw ending.error instanceof Error ? ending.error : new Error(safeMessage(ending.error));
}

/**
 * Follows the approval rounds through the status the run publishes: a wait starts when the status
 * first offers a round's draft, is escalated when it says so, and ends when the stage moves on.
 */
export class ApprovalWatch {
  private open: { round: number; startedAt: string; escalatedAt?: string } | undefined;
  private readonly waits: (Omit<ApprovalWaitRecord, 'outcome'> & {
    outcome?: ApprovalWaitRecord['outcome'];
  })[] = [];

  observe(status: Partial<AgentRunStatus>, at: string): void {
    const approval = status.stage === 'awaiting-approval' ? status.approval : undefined;
    if (this.open && this.open.round !== approval?.round) {
      const revise = status.stage === 'revising';
      this.waits.push({
        ...this.open,
        endedAt: at,
        ...(revise ? { decision: 'reject' as const, outcome: 'revise' as const } : {}),
      });
      this.open = undefined;
    }
    if (!approval) return;
    this.open ??= { round: approval.round, startedAt: at };
    if (approval.escalated && this.open.escalatedAt === undefined) this.open.escalatedAt = at;
  }

  /** Every wait, the last one decided by how the run ended. */
  records(endedAt: string, result: Partial<AgentRunResult> | undefined): ApprovalWaitRecord[] {
    if (this.open) this.waits.push({ ...this.open, endedAt });
    this.open = undefined;
    const decision = result?.approval?.decision;
    return this.waits.map((w, i): ApprovalWaitRecord => {
      if (w.outcome) return { ...w, outcome: w.outcome };
      const last = i === this.waits.length - 1;
      if (last && result?.outcome === 'expired') return { ...w, outcome: 'expired' };
      if (last && decision)
        return { ...w, decision, outcome: decision === 'approve' ? 'approved' : 'rejected' };
      return { ...w, outcome: 'ended' };
    });
  }
}

/**
 * Wraps the run orchestrator: at its end, the run's span (root of the trace) and its approval waits.
 * The usage is the run's (subtasks and revisions included): from the result, or from the last status
 * it published when it failed.
 */
export function tracedRun(handler: OrchestrationHandler): OrchestrationHandler {
  return function* (context: OrchestrationContext) {
    const startedAt = clock(context);
    const watch = new ApprovalWatch();
    let published: ModelUsage = emptyUsage;
    const setCustomStatus = context.df.setCustomStatus.bind(context.df);
    context.df.setCustomStatus = (status: unknown) => {
      const seen = (status ?? {}) as Partial<AgentRunStatus>;
      if (seen.usage) published = seen.usage;
      watch.observe(seen, clock(context));
      setCustomStatus(status);
    };

    const ending = yield* runToEnd(handler, context);
    const endedAt = clock(context);
    const result = ending.ok ? fitting(agentRunResultSchema, ending.output) : undefined;
    const outcome = ending.ok ? (result?.outcome ?? 'completed') : 'failed';
    const error = !ending.ok ? safeMessage(ending.error) : outcome === 'failed' ? result?.message : undefined;
    const owner = fitting(ownerOfInput, context.df.getInput())?.owner;
    const run: RunRecord = {
      runId: context.df.instanceId,
      startedAt,
      endedAt,
      outcome,
      usage: result?.usage ?? published,
      ...(error !== undefined ? { error: error || 'failed' } : {}),
      ...(owner ? { owner } : {}),
      approvalWaits: watch.records(endedAt, result),
    };
    yield* recordSpans(context, { run });
    return finish(ending);
  };
}

/** Wraps a subtask orchestrator: at its end, the subtask's span, under the run's. */
export function tracedSubtask(handler: OrchestrationHandler): OrchestrationHandler {
  return function* (context: OrchestrationContext) {
    const startedAt = clock(context);
    const ending = yield* runToEnd(handler, context);
    const place = placeOf(context.df.instanceId);
    const result = ending.ok ? fitting(subtaskResultSchema, ending.output) : undefined;
    const kind = result?.kind ?? fitting(kindOfInput, context.df.getInput())?.subtask.kind;
    if (place?.subtaskId && kind) {
      const error = !ending.ok ? safeMessage(ending.error) : result?.ok === false ? result.error : undefined;
      yield* recordSpans(context, {
        subtask: {
          runId: place.runId,
          subtaskId: place.subtaskId,
          kind,
          startedAt,
          endedAt: clock(context),
          ok: ending.ok && result?.ok !== false,
          usage: result?.usage ?? emptyUsage,
          ...(error !== undefined ? { error: error || 'failed' } : {}),
        },
      });
    }
    return finish(ending);
  };
}
