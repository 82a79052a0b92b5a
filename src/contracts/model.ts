import { z } from 'zod';
import type { ActivityOutcome } from '../lib/errors';
import { activityOutcomeSchema } from './outcome';

/**
 * Payloads of the `callModel` and `runTool` activities. Pure (zod only), so orchestrators import it: the
 * same schemas check what an orchestrator builds and what the model sends back.
 */

export const toolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});
export type ToolCall = z.infer<typeof toolCallSchema>;

export const systemMessageSchema = z.object({ role: z.literal('system'), content: z.string() });
export const userMessageSchema = z.object({ role: z.literal('user'), content: z.string() });
export const assistantMessageSchema = z.object({
  role: z.literal('assistant'),
  content: z.string().nullable(),
  tool_calls: z.array(toolCallSchema).optional(),
});
export const toolMessageSchema = z.object({
  role: z.literal('tool'),
  tool_call_id: z.string().min(1),
  content: z.string(),
});

export const chatMessageSchema = z.discriminatedUnion('role', [
  systemMessageSchema,
  userMessageSchema,
  assistantMessageSchema,
  toolMessageSchema,
]);
export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type AssistantMessage = z.infer<typeof assistantMessageSchema>;

export const modelTierSchema = z.enum(['fast', 'strong']);
export type ModelTier = z.infer<typeof modelTierSchema>;

export const callModelInputSchema = z.object({
  tier: modelTierSchema,
  messages: z.array(chatMessageSchema).min(1),
  /** Tool names from the registry (src/agents/tools.ts); the activity turns them into definitions. */
  tools: z.array(z.string().min(1)).optional(),
  responseFormat: z
    .object({
      name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'expected 1-64 letters, digits, _ or -' }),
      schema: z.record(z.string(), z.unknown()),
    })
    .optional(),
  maxTokens: z.number().int().positive().optional(),
  /**
   * What the run's reservation has left for this call, prompt included. The activity estimates the
   * prompt's tokens and lowers the completion limit (max_tokens, or max_completion_tokens on a reasoning
   * deployment, reasoning included) so that prompt + completion stay within it.
   */
  budgetTokens: z.number().int().min(0).optional(),
  /** Sent to chat deployments only: reasoning deployments accept no temperature but the default. */
  temperature: z.number().min(0).max(2).optional(),
  stream: z
    .object({ runId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/), round: z.number().int().min(0) })
    .optional(),
});

export interface CallModelInput {
  tier: 'fast' | 'strong';
  messages: ChatMessage[];
  /** Tool names from the registry (src/agents/tools.ts). */
  tools?: string[];
  responseFormat?: { name: string; schema: Record<string, unknown> };
  maxTokens?: number;
  budgetTokens?: number;
  temperature?: number;
  /**
   * Stream the answer while the model writes it into the run's answer blob for this round (see
   * src/lib/answerBlobs.ts), where the event stream picks it up. Text answers only: no tools, no schema.
   */
  stream?: { runId: string; round: number };
}

/** A call is not worth making when fewer completion tokens than this fit the budget. */
export const minCompletionTokens = 16;
/** How a callModel refusal for an exhausted budget begins, so orchestrators can tell it apart. */
export const budgetSpentPrefix = 'The run has spent its token budget:';

export const modelUsageSchema = z.object({
  promptTokens: z.number().int().min(0),
  completionTokens: z.number().int().min(0),
  totalTokens: z.number().int().min(0),
  reasoningTokens: z.number().int().min(0).optional(),
});
export interface ModelUsage {
  promptTokens: number;
  /** Everything the model generated, its reasoning included: what the budget and the quota count. */
  completionTokens: number;
  totalTokens: number;
  /**
   * Of the completion tokens, how many a reasoning model spent reasoning (not shown in its answer).
   * Absent when none were reported, as in usage recorded before reasoning deployments.
   */
  reasoningTokens?: number;
}

export interface CallModelResult {
  message: AssistantMessage;
  usage: ModelUsage;
  /** The deployment that answered (from config, by tier). */
  deployment: string;
  /** As the service reported it: stop, tool_calls, length, content_filter. */
  finishReason: string;
  /** True when the answer came from the response cache; its usage is the original call's. */
  cached: boolean;
}
export type CallModelOutput = ActivityOutcome<CallModelResult>;
export const callModelResultSchema: z.ZodType<CallModelResult> = z.object({
  message: assistantMessageSchema,
  usage: modelUsageSchema,
  deployment: z.string(),
  finishReason: z.string(),
  cached: z.boolean(),
});
export const callModelOutputSchema: z.ZodType<CallModelOutput> = activityOutcomeSchema(callModelResultSchema);

export const runToolInputSchema = z.object({ name: z.string(), arguments: z.string() });
export interface RunToolInput {
  name: string;
  /** JSON text exactly as the model wrote it. */
  arguments: string;
}

/** Bad arguments or an unknown tool give `isError: true` with a message the model can act on; never thrown. */
export interface RunToolResult {
  name: string;
  content: string;
  isError: boolean;
}
export const runToolResultSchema: z.ZodType<RunToolResult> = z.object({
  name: z.string(),
  content: z.string(),
  isError: z.boolean(),
});
