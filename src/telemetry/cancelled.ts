import type { DurableOrchestrationStatus } from 'durable-functions';
import { z } from 'zod';
import { addUsage, emptyUsage } from '../contracts/agentRun';
import type { ModelUsage } from '../contracts/model';
import type { ApprovalWaitRecord } from '../contracts/telemetry';
import { emitRunSpans, emitSubtaskSpan, flushRunTree } from './runTree';

const usageSchema = z.object({
  promptTokens: z.number().int().min(0),
  completionTokens: z.number().int().min(0),
  totalTokens: z.number().int().min(0),
});
const runStatusSchema = z
  .object({
    stage: z.string().optional(),
    usage: usageSchema.optional(),
    subtasks: z
      .array(z.object({ id: z.string(), kind: z.enum(['answer', 'research', 'tool']) }).loose())
      .optional(),
    approval: z
      .object({ round: z.number().int().min(0), deadline: z.iso.datetime(), escalated: z.boolean() })
      .loose()
      .optional(),
  })
  .loose();
const childStatusSchema = z.object({ usage: usageSchema.optional() }).loose();
const runInputSchema = z
  .object({
    owner: z.string().optional(),
    approval: z.object({ timeoutMinutes: z.number() }).loose().nullish(),
  })
  .loose();

/** Stages in which the run's own usage does not yet count its subtasks' (it adds them when all are done). */
const beforeSubtasksCounted = new Set(['reserving', 'planning', 'working']);

const iso = (d: Date | string | undefined, fallback: Date) => new Date(d ?? fallback).toISOString();

export interface StoppedChild {
  subtaskId: string;
  status: DurableOrchestrationStatus;
  stopped: boolean;
}

/** How the run ended when its span comes from outside it: stopped by the product, or by a raw terminate. */
export type ExternalEnding = 'cancelled' | 'terminated';

/**
 * The spans of what the product's cancellation stopped, or of a run a raw terminate stopped (found by
 * the reconciler): a terminated orchestration runs no more code, so it cannot record its own. Emitted by
 * the caller of the cancellation (an HTTP request or the timer), which never replays, and only for
 * instances that this call stopped (subtasks) or whose run span this call claimed (`runEnding` set), so
 * a repeated cancel or reconcile adds nothing. Times come from the instances' statuses: created time to
 * now; an open approval wait from its deadline. Subtasks stopped here are `cancelled` either way: the
 * product stopped them.
 */
export async function recordCancelled(
  runId: string,
  run: DurableOrchestrationStatus,
  runEnding: ExternalEnding | undefined,
  children: StoppedChild[],
  now: Date,
): Promise<void> {
  const status = runStatusSchema.safeParse(run.customStatus ?? {});
  const facts = status.success ? status.data : {};
  const kinds = new Map((facts.subtasks ?? []).map((s) => [s.id, s.kind]));
  const endedAt = now.toISOString();
  let childUsage: ModelUsage = emptyUsage;
  for (const child of children) {
    const usage = childStatusSchema.safeParse(child.status.customStatus ?? {}).data?.usage ?? emptyUsage;
    childUsage = addUsage(childUsage, usage);
    const kind = kinds.get(child.subtaskId);
    if (!child.stopped || !kind) continue;
    emitSubtaskSpan({
      runId,
      subtaskId: child.subtaskId,
      kind,
      startedAt: iso(child.status.createdTime, now),
      endedAt,
      ok: false,
      usage,
      outcome: 'cancelled',
    });
  }
  if (runEnding) {
    const input = runInputSchema.safeParse(run.input ?? {});
    const owner = input.success ? input.data.owner : undefined;
    const own = facts.usage ?? emptyUsage;
    const waits: ApprovalWaitRecord[] = [];
    const timeoutMinutes = input.success ? input.data.approval?.timeoutMinutes : undefined;
    if (facts.stage === 'awaiting-approval' && facts.approval && timeoutMinutes !== undefined) {
      // The deadline is the wait's start plus the timeout, and an escalation restarted it.
      const timeoutMs = timeoutMinutes * 60_000;
      const deadline = new Date(facts.approval.deadline).getTime();
      const escalatedAt = facts.approval.escalated ? new Date(deadline - timeoutMs).toISOString() : undefined;
      const start = deadline - timeoutMs * (facts.approval.escalated ? 2 : 1);
      waits.push({
        round: facts.approval.round,
        startedAt: new Date(Math.min(start, now.getTime())).toISOString(),
        endedAt,
        ...(escalatedAt ? { escalatedAt } : {}),
        outcome: runEnding,
      });
    }
    emitRunSpans({
      runId,
      startedAt: iso(run.createdTime, now),
      endedAt,
      outcome: runEnding,
      usage: beforeSubtasksCounted.has(facts.stage ?? '') ? addUsage(own, childUsage) : own,
      ...(owner ? { owner } : {}),
      approvalWaits: waits,
    });
  }
  await flushRunTree();
}
