import type { AssistantMessage, ChatMessage, ToolCall } from '../contracts/model';

/**
 * What one turn of the tool loop sends the model. The whole transcript would grow every turn, and each
 * turn's messages are also the callModel activity's input, recorded in history: a loop of n turns would
 * store O(n²) text. So a turn sends:
 *
 * - the opening messages (system prompt and the user's part of the request), whole;
 * - the latest `keepExchanges` tool exchanges (an assistant turn with tool calls and their results) whole,
 *   as the protocol needs: every tool call is followed by its result;
 * - the older exchanges as one short note: each call, its arguments and the start of its result;
 * - any closing instruction (the last turn's "answer now").
 *
 * Tool results are cut to `maxToolResultChars` when they are stored, so no result is sent large. Pure and
 * deterministic: the orchestrator rebuilds the same turn on every replay.
 */

export interface ToolExchange {
  call: AssistantMessage & { tool_calls: ToolCall[] };
  results: { tool_call_id: string; content: string }[];
}

export const maxToolResultChars = 4000;
const noteResultChars = 200;

/** A tool result as it is kept in the transcript: cut, saying so, when it is long. */
export function boundedToolResult(content: string): string {
  if (content.length <= maxToolResultChars) return content;
  return `${content.slice(0, maxToolResultChars)}\n[result cut: ${content.length} characters in all]`;
}

function noteOf(exchanges: readonly ToolExchange[]): ChatMessage {
  const lines = exchanges.flatMap((exchange) =>
    exchange.call.tool_calls.map((toolCall) => {
      const result = exchange.results.find((r) => r.tool_call_id === toolCall.id)?.content ?? '';
      const shown = result.length > noteResultChars ? `${result.slice(0, noteResultChars)}...` : result;
      return `- ${toolCall.function.name}(${toolCall.function.arguments.slice(0, noteResultChars)}) -> ${shown}`;
    }),
  );
  return { role: 'user', content: `Tool results from earlier turns:\n${lines.join('\n')}` };
}

export function turnMessages(
  opening: readonly ChatMessage[],
  exchanges: readonly ToolExchange[],
  closing: readonly ChatMessage[] = [],
  keepExchanges = 2,
): ChatMessage[] {
  const older = exchanges.slice(0, Math.max(0, exchanges.length - keepExchanges));
  const recent = exchanges.slice(older.length);
  return [
    ...opening,
    ...(older.length > 0 ? [noteOf(older)] : []),
    ...recent.flatMap((exchange): ChatMessage[] => [
      exchange.call,
      ...exchange.results.map((r): ChatMessage => ({ role: 'tool', ...r })),
    ]),
    ...closing,
  ];
}
