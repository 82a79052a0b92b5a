import { z } from 'zod';
import {
  runOutcomes,
  runStages,
  subtaskKinds,
  webhookEventTypes,
  type AgentRunInput,
  type AgentRunResult,
  type AgentRunStatus,
  type Subtask,
  type SubtaskResult,
  type WebhookDelivery,
} from './agentRun';
import { modelUsageSchema } from './model';
import { citationSchema } from './research';

/**
 * The inputs of the orchestrations and the results their children return, as zod schemas: checked where
 * they cross a durable boundary (an orchestrator reading its input, a parent reading a child's result),
 * so no durable payload is taken on trust with a cast. Pure (zod only), so orchestrators import it; the
 * schemas make no defaults or transforms, so a replay reads exactly what was recorded.
 */

export const subtaskSchema: z.ZodType<Subtask> = z.object({
  id: z.string().min(1),
  kind: z.enum(subtaskKinds),
  title: z.string(),
  instructions: z.string(),
  toolName: z.string().optional(),
  toolArguments: z.string().optional(),
});

export const subtaskResultSchema: z.ZodType<SubtaskResult> = z.object({
  id: z.string().min(1),
  kind: z.enum(subtaskKinds),
  title: z.string(),
  ok: z.boolean(),
  text: z.string().optional(),
  error: z.string().optional(),
  citations: z.array(citationSchema),
  usage: modelUsageSchema,
});

const budgetShareSchema = z.object({
  owner: z.string().min(1),
  reservationKey: z.string().min(1),
  tokens: z.number().int().min(0),
});

export const agentRunInputSchema: z.ZodType<AgentRunInput> = z.object({
  runId: z.string().min(1),
  owner: z.string().min(1),
  requestedAt: z.string().optional(),
  prompt: z.string(),
  approval: z
    .object({
      approvers: z.array(z.string()),
      timeoutMinutes: z.number().positive(),
      escalateTo: z.array(z.string()),
    })
    .nullable(),
  maxTokens: z.number().int().positive(),
  model: z.enum(['auto', 'fast', 'strong']),
  tools: z.array(z.string()),
  research: z.boolean().nullable(),
  researchAvailable: z.boolean(),
  webhook: z
    .object({ url: z.string(), links: z.object({ run: z.string(), approval: z.string() }) })
    .optional(),
  limits: z.object({
    maxSubtasks: z.number().int().positive(),
    maxToolTurns: z.number().int().min(0),
    maxRevisions: z.number().int().min(0),
    researchTimeoutMs: z.number().int().positive().optional(),
  }),
});

export const answerSubtaskInputSchema = z.object({
  runId: z.string().min(1),
  prompt: z.string(),
  subtask: subtaskSchema,
  tier: z.enum(['fast', 'strong']),
  tools: z.array(z.string()),
  maxTurns: z.number().int().min(0),
  maxTokensPerCall: z.number().int().positive(),
  /** This subtask's share of the run's reservation; its calls record their spend against it. */
  budget: budgetShareSchema,
});
export type AnswerSubtaskInput = z.output<typeof answerSubtaskInputSchema>;

/** Backing-off poll of an Agent Service run; durable timers, so nothing is held while the agent works. */
export const researchPollingSchema = z.object({
  firstDelayMs: z.number().positive(),
  factor: z.number().min(1),
  maxDelayMs: z.number().positive(),
  /** The run is given up (and its thread deleted) after this long. */
  timeoutMs: z.number().positive(),
});
export type ResearchPolling = z.output<typeof researchPollingSchema>;

export const researchSubtaskInputSchema = z.object({
  runId: z.string().min(1),
  subtask: subtaskSchema,
  polling: researchPollingSchema,
  /**
   * What this research may spend of the run's reservation, prompt and completion included. The Agent
   * Service run gets it as `max_prompt_tokens` and `max_completion_tokens`; too little and research is
   * skipped. Absent in runs started before research was bounded.
   */
  budgetTokens: z.number().int().min(0).optional(),
});
export type ResearchSubtaskInput = z.output<typeof researchSubtaskInputSchema>;

export const toolSubtaskInputSchema = z.object({ runId: z.string().min(1), subtask: subtaskSchema });
export type ToolSubtaskInput = z.output<typeof toolSubtaskInputSchema>;

const webhookDeliverySchema: z.ZodType<WebhookDelivery> = z.object({
  webhookId: z.string(),
  type: z.enum(webhookEventTypes),
  state: z.enum(['delivered', 'failed']),
  error: z.string().optional(),
});

const count = z.number().int().min(0);

/** The agent run's custom status, as RunProgress publishes it. */
export const agentRunStatusSchema: z.ZodType<AgentRunStatus> = z.object({
  stage: z.enum(runStages),
  progress: z.object({ done: count, total: count }),
  usage: modelUsageSchema,
  owner: z.string(),
  subtasks: z
    .array(
      z.object({
        id: z.string().min(1),
        kind: z.enum(subtaskKinds),
        title: z.string(),
        state: z.enum(['pending', 'succeeded', 'failed']),
      }),
    )
    .optional(),
  approval: z
    .object({
      round: count,
      draftPreview: z.string(),
      draftChars: count,
      citationCount: count,
      draftBlob: z.string().min(1),
      draftId: z.string().optional(),
      deadline: z.string(),
      escalated: z.boolean(),
    })
    .optional(),
  decision: z
    .object({
      id: z.string().optional(),
      round: count,
      decision: z.enum(['approve', 'reject']),
      by: z.string(),
    })
    .optional(),
  webhook: z.object({ deliveries: z.array(webhookDeliverySchema) }).optional(),
});

/** The agent run's output (also the JSON saved to Blob Storage). */
export const agentRunResultSchema: z.ZodType<AgentRunResult> = z.object({
  runId: z.string().min(1),
  owner: z.string(),
  outcome: z.enum(runOutcomes),
  prompt: z.string(),
  answer: z.string().nullable(),
  citations: z.array(citationSchema),
  subtasks: z.array(subtaskResultSchema),
  usage: modelUsageSchema,
  approval: z.object({
    required: z.boolean(),
    decision: z.enum(['approve', 'reject']).optional(),
    by: z.string().optional(),
    comment: z.string().optional(),
    decisionId: z.string().optional(),
    rounds: count,
    escalated: z.boolean(),
  }),
  message: z.string().optional(),
  quota: z.object({ remaining: count, monthlyTokenLimit: count, periodEnd: z.string() }).optional(),
  startedAt: z.string(),
  finishedAt: z.string(),
  blobName: z.string().optional(),
  webhook: z.object({ deliveries: z.array(webhookDeliverySchema) }).optional(),
});

/** What an answer subtask publishes as its custom status while it works: what its calls spent. */
export const subtaskStatusSchema = z.object({ usage: modelUsageSchema });

/**
 * A durable payload checked against its contract. A payload that does not fit is a bug (or a run started
 * by code with another contract): the error names every field that does not fit.
 */
export function checked<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new Error(`${what} does not match its contract: ${fields}`);
}

/**
 * A durable payload read from outside the orchestration (the status an HTTP function reads): the value
 * when it fits its contract, else undefined, so a run whose payload does not fit (another version, not
 * yet started) is shown without it rather than read through a cast.
 */
export function fitting<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
