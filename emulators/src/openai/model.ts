import { createHash } from 'node:crypto';
import {
  nameWords,
  readConversation,
  toolFits,
  type ChatMessage,
  type ChatToolCall,
  type Conversation,
  type FunctionTool,
  type ToolPurpose,
} from './conversation';
import { intentsOf, type Intent } from './intents';
import { composeAnswer } from './prose';
import { generateFromSchema, type FillContext } from './schema';

/**
 * The emulated model: a deterministic function of the request. It calls a fitting tool when tools are
 * offered and none was called since the last user message, answers from tool results and the material
 * it was given, and writes JSON valid against a response format's schema.
 */

export type ToolChoice = 'auto' | 'none' | 'required' | { name: string };

export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown> };

export interface ModelRequest {
  messages: ChatMessage[];
  tools: FunctionTool[];
  toolChoice: ToolChoice;
  parallelToolCalls: boolean;
  responseFormat: ResponseFormat;
  /** A hash of the whole request: the only source of variety, so equal requests get equal answers. */
  seed: string;
}

export interface ModelReply {
  content: string | null;
  toolCalls: ChatToolCall[];
}

export function reply(request: ModelRequest): ModelReply {
  const conversation = readConversation(request.messages);
  if (request.tools.length > 0 && request.toolChoice !== 'none' && conversation.toolResults.length === 0) {
    const toolCalls = chooseToolCalls(conversation, request);
    if (toolCalls.length > 0) return { content: null, toolCalls };
  }
  const answer = () => composeAnswer(conversation, request.messages);
  const format = request.responseFormat;
  if (format.type === 'json_schema') {
    return {
      content: JSON.stringify(generateFromSchema(format.schema, fillContext(conversation, request, answer))),
      toolCalls: [],
    };
  }
  if (format.type === 'json_object') {
    return { content: JSON.stringify({ answer: answer() }), toolCalls: [] };
  }
  return { content: answer(), toolCalls: [] };
}

function fillContext(conversation: Conversation, request: ModelRequest, answer: () => string): FillContext {
  const toolNames = [...request.tools.map((t) => t.name), ...enumStrings(request.responseFormat)];
  return {
    focus: conversation.focus,
    intents: intentsOf(conversation.focus, toolNames, conversation.request),
    answer,
    toolNames: request.tools.map((t) => t.name),
    seed: request.seed,
  };
}

/** Strings offered in enums of the response schema: a planner's toolName enum names the tools. */
function enumStrings(format: ResponseFormat): string[] {
  if (format.type !== 'json_schema') return [];
  const found: string[] = [];
  const visit = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'enum' && Array.isArray(value))
          found.push(...value.filter((v): v is string => typeof v === 'string'));
        else visit(value);
      }
    }
  };
  visit(format.schema);
  return found;
}

function chooseToolCalls(conversation: Conversation, request: ModelRequest): ChatToolCall[] {
  const { tools, toolChoice } = request;
  const forced = typeof toolChoice === 'object' ? tools.find((t) => t.name === toolChoice.name) : undefined;
  const offered = forced ? [forced] : tools;
  const fitting = (purpose: ToolPurpose) =>
    offered.find((t) => toolFits(t.name, t.description ?? '', purpose) && takesArguments(t, purpose));
  const calls: { tool: FunctionTool; intent: Intent }[] = [];

  // One call per part of the request that a tool serves, as a model with parallel tool calls does.
  for (const intent of intentsOf(conversation.focus, [], conversation.request)) {
    const purpose: ToolPurpose | undefined = intent.expression
      ? 'arithmetic'
      : intent.time
        ? 'time'
        : intent.kind === 'research'
          ? 'search'
          : undefined;
    const tool = purpose ? fitting(purpose) : undefined;
    if (tool) calls.push({ tool, intent: { ...intent, kind: 'tool', toolName: tool.name } });
  }
  for (const tool of offered) {
    if (!calls.some((c) => c.tool === tool) && mentions(conversation.focus, tool.name)) {
      calls.push({ tool, intent: { kind: 'tool', text: conversation.focus, toolName: tool.name } });
    }
  }
  const first = offered[0];
  if (calls.length === 0 && (forced || toolChoice === 'required') && first) {
    calls.push({ tool: first, intent: { kind: 'tool', text: conversation.focus, toolName: first.name } });
  }

  const chosen = request.parallelToolCalls ? calls.slice(0, 6) : calls.slice(0, 1);
  return chosen.map(({ tool, intent }, index) => {
    const parameters = tool.parameters ?? { type: 'object', properties: {} };
    const args = generateFromSchema(parameters, {
      focus: intent.text,
      intents: [intent],
      answer: () => intent.text,
      toolNames: [tool.name],
      seed: request.seed,
    });
    return {
      id: `call_${shortHash(`${request.seed}:${index}`, 24)}`,
      type: 'function' as const,
      function: { name: tool.name, arguments: JSON.stringify(args) },
    };
  });
}

/** An arithmetic tool must take a string to hold the expression; other purposes take what they take. */
function takesArguments(tool: FunctionTool, purpose: ToolPurpose): boolean {
  if (purpose !== 'arithmetic') return true;
  const properties = tool.parameters?.properties;
  if (!properties || typeof properties !== 'object') return false;
  return Object.values(properties as Record<string, { type?: unknown }>).some((p) => p.type === 'string');
}

/** Whether the request names the tool ("use the weather tool", "get_weather"), as whole words. */
function mentions(focus: string, toolName: string): boolean {
  const text = focus.toLowerCase();
  if (new RegExp(`\\b${toolName.toLowerCase().replace(/[^a-z0-9_]/g, '')}\\b`).test(text)) return true;
  const words = nameWords(toolName)
    .split(' ')
    .filter((w) => w.length >= 4 && !['tool', 'function', 'current'].includes(w));
  return (
    words.length > 0 &&
    /\b(use|call|with|run)\b/.test(text) &&
    words.every((w) => new RegExp(`\\b${w}\\b`).test(text))
  );
}

export function shortHash(text: string, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = createHash('sha256').update(text).digest();
  let out = '';
  for (let i = 0; out.length < length; i++) out += alphabet[(bytes[i % bytes.length] ?? 0) % alphabet.length];
  return out;
}
