import { z } from 'zod';
import type { ActivityOutcome } from '../lib/errors';
import { modelUsageSchema, type ModelUsage } from './model';
import { activityOutcomeSchema } from './outcome';

/**
 * Payloads of the research activities: a Bing-grounded run on the Azure AI Foundry Agent Service,
 * started, polled (by the orchestrator, on durable timers) and collected. Pure (zod only).
 */

/** The least the Agent Service accepts for each of a run's token limits. */
export const minResearchLimitTokens = 256;

/**
 * The least budget a research run is started with: the grounding results alone fill about 512 prompt
 * tokens, and each limit must be at least 256. With less left, research is skipped and says so.
 */
export const minResearchBudgetTokens = 1024;

/** The Agent Service run's `max_prompt_tokens` and `max_completion_tokens`, from what the run may spend. */
export function researchLimits(budgetTokens: number): {
  maxPromptTokens: number;
  maxCompletionTokens: number;
} {
  const maxCompletionTokens = Math.max(minResearchLimitTokens, Math.min(2000, Math.floor(budgetTokens / 3)));
  return {
    maxPromptTokens: Math.max(minResearchLimitTokens, budgetTokens - maxCompletionTokens),
    maxCompletionTokens,
  };
}

export const startResearchInputSchema = z.object({
  runId: z.string().min(1),
  subtaskId: z.string().min(1),
  query: z.string().min(1),
  /** Bounds on the agent run's spend (summed across its turns), so research stays inside the reservation. */
  maxPromptTokens: z.number().int().min(minResearchLimitTokens).optional(),
  maxCompletionTokens: z.number().int().min(minResearchLimitTokens).optional(),
});
export type StartResearchInput = z.input<typeof startResearchInputSchema>;

export const researchHandleSchema = z.object({
  threadId: z.string().min(1),
  agentRunId: z.string().min(1),
  agentId: z.string().min(1),
  runId: z.string().min(1).optional(),
  subtaskId: z.string().min(1).optional(),
});
export interface ResearchHandle {
  threadId: string;
  agentRunId: string;
  agentId: string;
  /**
   * The agent run and subtask this research belongs to: collection keeps its result under them, so a
   * rerun after the thread is gone gives the same answer. Absent in handles from before that was done.
   */
  runId?: string;
  subtaskId?: string;
}
export type StartResearchOutput = ActivityOutcome<ResearchHandle>;
export const startResearchOutputSchema: z.ZodType<StartResearchOutput> =
  activityOutcomeSchema(researchHandleSchema);
/** When the orchestrator saw the run complete, it passes the usage it read, and collect skips re-reading the run. */
export interface CollectResearchInput extends ResearchHandle {
  completedUsage?: ModelUsage;
}

export const researchRunStatuses = [
  'queued',
  'in_progress',
  'requires_action',
  'cancelling',
  'cancelled',
  'failed',
  'completed',
  'incomplete',
  'expired',
] as const;
export type ResearchRunStatus = (typeof researchRunStatuses)[number];

export type PollResearchOutput = ActivityOutcome<{
  status: ResearchRunStatus;
  usage?: ModelUsage;
  error?: string;
}>;
export const pollResearchOutputSchema: z.ZodType<PollResearchOutput> = activityOutcomeSchema(
  z.object({
    status: z.enum(researchRunStatuses),
    usage: modelUsageSchema.optional(),
    error: z.string().optional(),
  }),
);

export const citationSchema = z.object({ url: z.string(), title: z.string() });
export interface Citation {
  url: string;
  title: string;
}

/** `text` has the service's citation markers replaced by [n], n indexing `citations` from 1. */
export type CollectResearchOutput = ActivityOutcome<{
  text: string;
  citations: Citation[];
  usage: ModelUsage;
}>;
export const collectResearchOutputSchema: z.ZodType<CollectResearchOutput> = activityOutcomeSchema(
  z.object({ text: z.string(), citations: z.array(citationSchema), usage: modelUsageSchema }),
);
