import type { HttpRequest } from '@azure/functions';
import type { DurableOrchestrationStatus } from 'durable-functions';
import { approversOf, type AgentRunInput, type AgentRunStatus, type RunOutcome } from '../contracts/agentRun';
import {
  agentRunInputSchema,
  agentRunResultSchema,
  agentRunStatusSchema,
  fitting,
} from '../contracts/orchestrations';
import type { Citation } from '../contracts/research';
import type { RunAccess } from '../lib/identity';

/**
 * The run view: what the owner (or an approver, or an admin) sees of a run, made from its durable status. Every
 * field of `GET /api/agent-runs/{id}` is set in `runView` below; the list, the approval page, the event
 * stream and the CLI show the same object.
 */

/** What the owner sees of a run: the contract of `GET /api/agent-runs/{id}`. */
export const runViewStatuses = [
  'running',
  'awaiting-approval',
  'completed',
  'rejected',
  'expired',
  'failed',
  'terminated',
  'quota-exceeded',
  'budget-spent',
] as const;
export type RunViewStatus = (typeof runViewStatuses)[number];

export type RunView = ReturnType<typeof runView>;

export function isFinished(status: DurableOrchestrationStatus): boolean {
  return ['Completed', 'Failed', 'Terminated', 'Canceled'].includes(String(status.runtimeStatus));
}

export function runLinks(request: HttpRequest, runId: string) {
  const run = new URL(`/api/agent-runs/${runId}`, request.url).href;
  return { run, approval: `${run}/approval` };
}

/** Maps the durable status to the product's view of a run. */
export function runView(request: HttpRequest, status: DurableOrchestrationStatus) {
  const custom = customStatusOf(status);
  const output = fitting(agentRunResultSchema, status.output);
  const runtime = String(status.runtimeStatus);
  let viewStatus: RunViewStatus;
  if (runtime === 'Completed' && output) viewStatus = output.outcome satisfies RunOutcome;
  else if (runtime === 'Failed') viewStatus = 'failed';
  else if (runtime === 'Terminated' || runtime === 'Canceled') viewStatus = 'terminated';
  else viewStatus = custom?.stage === 'awaiting-approval' ? 'awaiting-approval' : 'running';

  const links = runLinks(request, status.instanceId);
  return {
    id: status.instanceId,
    status: viewStatus,
    stage: custom?.stage ?? (isFinished(status) ? 'done' : 'starting'),
    progress: custom?.progress ?? { done: 0, total: 0 },
    usage: output?.usage ?? custom?.usage ?? { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    createdTime: status.createdTime,
    lastUpdatedTime: status.lastUpdatedTime,
    ...(runtime === 'Suspended' ? { suspended: true } : {}),
    ...(custom?.subtasks ? { subtasks: custom.subtasks } : {}),
    ...(viewStatus === 'awaiting-approval' && custom?.approval
      ? {
          approval: {
            ...custom.approval,
            approvers: approversNow(status),
            draft: custom.approval.draftPreview,
            citations: [] as Citation[],
            draftUnavailable: undefined as string | undefined,
            howToApprove: {
              method: 'POST',
              url: links.approval,
              // The round (and draft id) of the draft shown here: a decision applies only to that draft.
              body: {
                decision: 'approve | reject',
                round: custom.approval.round,
                ...(custom.approval.draftId ? { draftId: custom.approval.draftId } : {}),
                comment: 'optional; with reject, asks for a revision',
              },
            },
          },
        }
      : {}),
    ...(custom?.decision ? { lastDecision: custom.decision } : {}),
    ...(output
      ? {
          answer: output.answer,
          citations: output.citations,
          subtasks: output.subtasks,
          approvalDecision: output.approval,
          ...(output.message ? { message: output.message } : {}),
          ...(output.quota ? { quota: output.quota } : {}),
          ...(output.blobName ? { resultBlob: output.blobName } : {}),
        }
      : {}),
    ...(runtime === 'Failed' ? { error: failureSummary(status.output) } : {}),
    ...((output?.webhook ?? custom?.webhook) ? { webhook: output?.webhook ?? custom?.webhook } : {}),
    links,
  };
}

/** The first line of a failed orchestration's output: the message, never the stack the host may append. */
function failureSummary(output: unknown): string {
  const text = typeof output === 'string' ? output : '';
  return text.split('\n')[0]?.trim() || 'The run failed.';
}

export function inputOf(status: DurableOrchestrationStatus): AgentRunInput | undefined {
  return fitting(agentRunInputSchema, status.input);
}

export function ownerOf(status: DurableOrchestrationStatus): string {
  return inputOf(status)?.owner ?? '';
}

export function customStatusOf(status: DurableOrchestrationStatus): AgentRunStatus | undefined {
  return fitting(agentRunStatusSchema, status.customStatus);
}

/** Who may see and decide the run, as the access checks in lib/identity read it. */
export function runAccess(status: DurableOrchestrationStatus): RunAccess {
  return {
    owner: ownerOf(status),
    approvers: approversNow(status),
    approvalRequired: (inputOf(status)?.approval ?? null) !== null,
  };
}

/** Who may decide the run's approval now (the custom status says whether it escalated). */
export function approversNow(status: DurableOrchestrationStatus): string[] {
  const input = inputOf(status);
  return approversOf(
    ownerOf(status),
    input?.approval ?? null,
    customStatusOf(status)?.approval?.escalated ?? false,
  );
}
