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
