import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { addUsage, emptyUsage, type SubtaskResult } from '../contracts/agentRun';
import {
  runToolResultSchema,
  type ChatMessage,
  type ModelUsage,
  type RunToolInput,
} from '../contracts/model';
import { answerSubtaskInputSchema, checked, type AnswerSubtaskInput } from '../contracts/orchestrations';
import { activityNames } from '../names';
import { boundedToolResult, turnMessages, type ToolExchange } from '../agents/transcript';
import { TokenBudget } from './budget';
import { activityRetry, failedSubtask, failureMessage, type Durable } from './durable';

export type { AnswerSubtaskInput } from '../contracts/orchestrations';

const systemPrompt =
  'You work on one part of a larger request. Use the tools offered when they give a more reliable answer ' +
  '(arithmetic, the current time). Answer the part you were given concisely and state the facts and numbers ' +
  'you relied on.';

/**
 * The durable tool-calling loop: each model turn is an activity, the tool calls of one turn run in
 * parallel as activities, and the number of turns is bounded. Replay returns finished turns from history,
 * so no model call is ever made twice.
 */
export const answerSubtaskOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = checked(answerSubtaskInputSchema, context.df.getInput(), 'The answer subtask input');
  const spent: { usage: ModelUsage } = { usage: emptyUsage };
  try {
    return yield* answerLoop(context, input, spent);
  } catch (error) {
    // What the finished turns spent travels with the failure.
    return failedSubtask(input.subtask, failureMessage(error), spent.usage);
  }
};

function* answerLoop(
  context: OrchestrationContext,
  input: AnswerSubtaskInput,
  spent: { usage: ModelUsage },
): Durable<SubtaskResult> {
  const budget = new TokenBudget(context, input.budget);
  const { subtask } = input;
  const opening: ChatMessage[] = [
    { role: 'system', content: systemPrompt },
    {
      role: 'user',
      content: `The whole request: ${input.prompt}\n\nYour part: ${subtask.title}\n${subtask.instructions}`,
    },
  ];

  // Each turn sends the opening, the latest tool exchanges and a note of older ones: see agents/transcript.
  const exchanges: ToolExchange[] = [];
  for (let turn = 0; turn <= input.maxTurns; turn++) {
    const lastTurn = turn === input.maxTurns;
    const closing: ChatMessage[] = lastTurn
      ? [{ role: 'user', content: 'Answer now with what you have; no more tool calls.' }]
      : [];
    const offered = lastTurn ? [] : input.tools;
    const call = yield* budget.call({
      tier: input.tier,
      messages: turnMessages(opening, exchanges, closing),
      ...(offered.length > 0 ? { tools: offered } : {}),
      maxTokens: input.maxTokensPerCall,
    });
    if (!call.ok) return failedSubtask(subtask, call.message, spent.usage);
    spent.usage = addUsage(spent.usage, call.value.usage);
    context.df.setCustomStatus({ usage: spent.usage });
    const reply = call.value.message;
    const toolCalls = reply.tool_calls ?? [];
    if (toolCalls.length === 0) {
      const text = reply.content?.trim() ?? '';
      if (text === '') return failedSubtask(subtask, 'the model returned an empty answer', spent.usage);
      return {
        id: subtask.id,
        kind: subtask.kind,
        title: subtask.title,
        ok: true,
        text,
        citations: [],
        usage: spent.usage,
      };
    }

    const results = checked(
      runToolResultSchema.array(),
      yield context.df.Task.all(
        toolCalls.map((toolCall) =>
          context.df.callActivityWithRetry(activityNames.runTool, activityRetry(), {
            name: toolCall.function.name,
            arguments: toolCall.function.arguments,
          } satisfies RunToolInput),
        ),
      ),
      'The tool results',
    );
    exchanges.push({
      call: { ...reply, tool_calls: toolCalls },
      results: toolCalls.map((toolCall, i) => ({
        tool_call_id: toolCall.id,
        content: boundedToolResult(results[i]?.content ?? ''),
      })),
    });
  }
  return failedSubtask(subtask, `no answer after ${input.maxTurns} turns`, spent.usage);
}
