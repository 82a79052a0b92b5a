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
  deliverWebhook: 'deliverWebhook',
  recordSpans: 'recordSpans',
} as const;

export const entityNames = {
  tokenQuota: 'tokenQuota',
} as const;

export const eventNames = {
  approval: 'approval',
} as const;
