/**
 * Names the durable runtime knows things by. Orchestrations, activities and entities are looked up by
 * these strings in history, so renaming one breaks runs that are in flight: add a new name instead.
 */
export const functionNames = {
  health: 'health',
  startAgentRun: 'startAgentRun',
  getAgentRun: 'getAgentRun',
  listAgentRuns: 'listAgentRuns',
  agentRunEvents: 'agentRunEvents',
  approvalPage: 'approvalPage',
  approveAgentRun: 'approveAgentRun',
  runStatus: 'agentRunStatus',
  runEvent: 'agentRunEvent',
  runTerminate: 'agentRunTerminate',
  runCancel: 'agentRunCancel',
  runSuspend: 'agentRunSuspend',
  runResume: 'agentRunResume',
  runPurge: 'agentRunPurge',
  getQuota: 'getQuota',
  manageQuota: 'manageQuota',
} as const;

export const orchestratorNames = {
  agentRun: 'agentRunOrchestrator',
  answerSubtask: 'answerSubtaskOrchestrator',
  researchSubtask: 'researchSubtaskOrchestrator',
  toolSubtask: 'toolSubtaskOrchestrator',
} as const;

export const activityNames = {
  callModel: 'callModel',
  runTool: 'runTool',
  startResearch: 'startResearch',
  pollResearch: 'pollResearch',
  collectResearch: 'collectResearch',
  saveResult: 'saveResult',
  saveDraft: 'saveDraft',
  verifyApproval: 'verifyApproval',
  approvalChannel: 'approvalChannel',
  deliverWebhook: 'deliverWebhook',
  recordSpans: 'recordSpans',
} as const;

export const entityNames = {
  tokenQuota: 'tokenQuota',
} as const;

export const eventNames = {
  /**
   * The public name of the approval event (the event URL's `{eventName}`). A run waits for each round's
   * decision on that round's own channel, `approval-<hex>` (see lib/capability), never on this name.
   */
  approval: 'approval',
} as const;

/*
 * Ids and blob names made from a run's id. The run view, cancellation and purge find a run's children
 * and blobs by these rules, so each rule lives here once. Like the names above, a rule changed under runs
 * in flight loses what they made: add a rule instead.
 */

/** A run's children are named after it, so the run view can find them: `<runId>-s1`, `<runId>-s2`, ... */
export function subtaskInstanceId(runId: string, subtaskId: string): string {
  return `${runId}-${subtaskId}`;
}

/**
 * The reservation key of a revision: each revision reserves and settles on its own key, so it is counted
 * once, like the run itself (whose key is its run id). The quota entity ends a run's `<runId>:` keys with it.
 */
export function revisionReservationKey(runId: string, round: number): string {
  return `${runId}:revision-${round}`;
}

/** The key the run records a subtask's reported usage under (TokenBudget.record, label `child-<id>`). */
export function researchSpendKey(runId: string, subtaskId: string): string {
  return `${runId}:child-${subtaskId}`;
}

/** The result document, in the results container. */
export function resultBlobName(runId: string): string {
  return `${runId}.json`;
}

/** Whether a blob of the results container is the run's own: its result or one under `<runId>/`. */
export function isRunBlob(runId: string, blobName: string): boolean {
  return blobName === resultBlobName(runId) || blobName.startsWith(`${runId}/`);
}

/** The blob a run's draft for one round is stored under, inside the results container. */
export function draftBlobPath(runId: string, round: number): string {
  return `${runId}/draft-${round}.json`;
}

/** The run's durable event log, which the event streams append to and replay from. */
export function eventLogBlobName(runId: string): string {
  return `${runId}/events.jsonl`;
}

/** The claim that the span of a run stopped from outside was recorded, beside the run's other blobs. */
export function runSpanClaimBlobName(runId: string): string {
  return `${runId}/run-span-recorded`;
}

/** A research subtask's collected result, kept so a rerun or the run view reads the same answer. */
export function keptResearchBlobName(runId: string, subtaskId: string): string {
  return `research/${runId}/${subtaskId}.json`;
}

/** One attempt of one answer round while the model writes it (see lib/answerBlobs.ts). */
export interface AnswerBlobRef {
  round: number;
  attempt: number;
  /** The blob name in the results container. */
  name: string;
}

const answerAttemptDigits = 3;
const answerBlobPattern = /^(.+)\/answer-(\d{1,6})\.(\d{3})\.txt$/;

/** `<runId>/answer-<round>.<attempt>.txt`, the attempt zero-padded so that names sort. */
export function answerBlobName(runId: string, round: number, attempt: number): string {
  return `${runId}/answer-${round}.${String(attempt).padStart(answerAttemptDigits, '0')}.txt`;
}

/** The prefix every answer blob of the run starts with. */
export function answerBlobPrefix(runId: string): string {
  return `${runId}/answer-`;
}

export function parseAnswerBlobName(runId: string, name: string): AnswerBlobRef | undefined {
  const match = answerBlobPattern.exec(name);
  if (!match || match[1] !== runId) return undefined;
  return { round: Number(match[2]), attempt: Number(match[3]), name };
}
