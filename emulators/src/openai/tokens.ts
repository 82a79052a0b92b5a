import * as cl100k from 'gpt-tokenizer/encoding/cl100k_base';
import * as o200k from 'gpt-tokenizer/encoding/o200k_base';
import { textOf, type ChatMessage, type FunctionTool } from './conversation';

/**
 * Real token counts with the deployment's tokenizer: o200k_base for the gpt-4o family and newer,
 * cl100k_base for gpt-4 and gpt-35-turbo. Chat overhead follows OpenAI's published counting recipe.
 */

interface Encoding {
  encode(text: string): number[];
  decode(tokens: number[]): string;
}

export function encodingFor(deployment: string): Encoding {
  const name = deployment.toLowerCase();
  if (/gpt-?4o|gpt-?4\.1|gpt-?5|^o\d|chatgpt/.test(name)) return o200k;
  if (/gpt-?4|gpt-?35|gpt-?3\.5/.test(name)) return cl100k;
  return o200k;
}

export function countTokens(deployment: string, text: string): number {
  return encodingFor(deployment).encode(text).length;
}

/** Prompt tokens of a chat request: 3 per message, its role and content, tool definitions, 3 to prime the reply. */
export function countPromptTokens(
  deployment: string,
  messages: readonly ChatMessage[],
  tools: readonly FunctionTool[],
  responseSchema: unknown,
): number {
  const count = (text: string) => countTokens(deployment, text);
  let total = 3;
  for (const message of messages) {
    total += 3 + count(message.role) + count(textOf(message.content));
    if (message.name) total += 1 + count(message.name);
    for (const call of message.tool_calls ?? [])
      total += 3 + count(call.function.name) + count(call.function.arguments);
    if (message.tool_call_id) total += count(message.tool_call_id);
  }
  for (const tool of tools) {
    total +=
      8 + count(tool.name) + count(tool.description ?? '') + count(JSON.stringify(tool.parameters ?? {}));
  }
  if (responseSchema !== undefined) total += 8 + count(JSON.stringify(responseSchema));
  return total;
}

/** The first `max` tokens of a text, as a model cut off by max_tokens would return it. */
export function truncateToTokens(
  deployment: string,
  text: string,
  max: number,
): { text: string; truncated: boolean } {
  const encoding = encodingFor(deployment);
  const tokens = encoding.encode(text);
  if (tokens.length <= max) return { text, truncated: false };
  return { text: encoding.decode(tokens.slice(0, Math.max(0, max))), truncated: true };
}
