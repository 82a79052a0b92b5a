import { z } from 'zod';

/**
 * Payload of the `recordSpans` activity: what an orchestration observed about itself, with the times it
 * read from `context.df.currentUtcDateTime`, so the spans made from it are the same on every attempt.
 * Pure (zod only).
 */

const usage = z.object({
  promptTokens: z.number().int().min(0),
  completionTokens: z.number().int().min(0),
  totalTokens: z.number().int().min(0),
});
const time = z.iso.datetime();

/** One approval round's wait: from the draft on offer to the decision, the deadline or the run's end. */
export const approvalWaitRecordSchema = z.object({
  round: z.number().int().min(0),
  startedAt: time,
  endedAt: time,
  /** When the deadline passed and the approval went to the escalation approvers. */
  escalatedAt: time.optional(),
  decision: z.enum(['approve', 'reject']).optional(),
  /**
   * How the wait ended: approved, rejected, revise (rejected with a comment), expired, cancelled (by the
   * product), terminated (a raw terminate, recorded by the reconciler), or ended (the run ended otherwise).
   */
  outcome: z.enum(['approved', 'rejected', 'revise', 'expired', 'cancelled', 'terminated', 'ended']),
});
export type ApprovalWaitRecord = z.output<typeof approvalWaitRecordSchema>;

export const runRecordSchema = z.object({
  runId: z.string().min(1),
  startedAt: time,
  endedAt: time,
  /** The run's outcome (completed, failed, rejected, expired, budget-spent, quota-exceeded, cancelled, terminated). */
  outcome: z.string().min(1),
  usage,
  /** Set when the run failed: the failure's message (never a stack). */
  error: z.string().optional(),
  /** The owner's id; it becomes an attribute only when content capture is on. */
  owner: z.string().optional(),
  approvalWaits: z.array(approvalWaitRecordSchema),
});
export type RunRecord = z.output<typeof runRecordSchema>;

export const subtaskRecordSchema = z.object({
  runId: z.string().min(1),
  subtaskId: z.string().min(1),
  kind: z.enum(['answer', 'research', 'tool']),
  startedAt: time,
  endedAt: time,
  ok: z.boolean(),
  usage,
  error: z.string().optional(),
  /** Set when the subtask did not end by itself (cancelled). */
  outcome: z.string().optional(),
});
export type SubtaskRecord = z.output<typeof subtaskRecordSchema>;

export const recordSpansInputSchema = z.union([
  z.object({ run: runRecordSchema }),
  z.object({ subtask: subtaskRecordSchema }),
]);
export type RecordSpansInput = z.output<typeof recordSpansInputSchema>;
