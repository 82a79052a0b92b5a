import { AzureError } from '../errors';
import type { ChatMessage, FunctionTool } from './conversation';
import type { ModelKind } from './deployments';
import type { ResponseFormat, ToolChoice } from './model';

/**
 * Validation of a chat completions request body, with the messages Azure OpenAI gives for each
 * mistake; the answering lives in `chat.ts`.
 */

export interface ParsedChatRequest {
  messages: ChatMessage[];
  tools: FunctionTool[];
  toolChoice: ToolChoice;
  parallelToolCalls: boolean;
  responseFormat: ResponseFormat;
  stream: boolean;
  includeUsage: boolean;
  maxTokens?: number;
  /** Which field carried the limit. */
  limitParam?: 'max_tokens' | 'max_completion_tokens';
  temperature?: number;
  /** Reasoning deployments: how hard the model thinks (absent: medium, the service's default). */
  reasoningEffort?: ReasoningEffort;
  n: number;
}

export const reasoningEfforts = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;
export type ReasoningEffort = (typeof reasoningEfforts)[number];

const bad = (message: string, param: string | null = null) =>
  new AzureError(400, 'BadRequest', message, { type: 'invalid_request_error', param });

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseChatRequest(body: unknown, kind: ModelKind = 'chat'): ParsedChatRequest {
  if (!isRecord(body)) throw bad('The request body must be a JSON object with a "messages" array.');
  if (kind === 'reasoning') refuseForReasoning(body);
  const { messages, tools, tool_choice, response_format, stream, stream_options, parallel_tool_calls, n } =
    body;
  if (!Array.isArray(messages) || messages.length === 0) {
    throw bad("'messages' is a required property and must be a non-empty array.", 'messages');
  }
  const parsedMessages = messages.map((m, i) => parseMessage(m, i));
  checkToolMessages(parsedMessages);

  const parsedTools: FunctionTool[] = [];
  if (tools !== undefined && tools !== null) {
    if (!Array.isArray(tools)) throw bad("'tools' must be an array of function tools.", 'tools');
    tools.forEach((tool, i) => {
      if (!isRecord(tool) || tool.type !== 'function' || !isRecord(tool.function)) {
        throw bad(
          `Invalid value at tools[${i}]: expected {"type": "function", "function": {...}}.`,
          `tools[${i}]`,
        );
      }
      const name = tool.function.name;
      if (typeof name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
        throw bad(
          `Invalid 'tools[${i}].function.name': ${JSON.stringify(name)}. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.`,
          `tools[${i}].function.name`,
        );
      }
      const parameters = tool.function.parameters;
      if (parameters !== undefined && !isRecord(parameters)) {
        throw bad(
          `Invalid 'tools[${i}].function.parameters': expected a JSON schema object.`,
          `tools[${i}].function.parameters`,
        );
      }
      parsedTools.push({
        name,
        ...(typeof tool.function.description === 'string' ? { description: tool.function.description } : {}),
        ...(parameters ? { parameters } : {}),
      });
    });
  }

  let toolChoice: ToolChoice = 'auto';
  if (tool_choice === 'none' || tool_choice === 'auto' || tool_choice === 'required')
    toolChoice = tool_choice;
  else if (
    isRecord(tool_choice) &&
    isRecord(tool_choice.function) &&
    typeof tool_choice.function.name === 'string'
  ) {
    const name = tool_choice.function.name;
    if (!parsedTools.some((t) => t.name === name)) {
      throw bad(
        `Invalid value for 'tool_choice': no function named '${name}' was specified in the 'tools' parameter.`,
        'tool_choice',
      );
    }
    toolChoice = { name };
  } else if (tool_choice !== undefined && tool_choice !== null) {
    throw bad(
      "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or a named function.",
      'tool_choice',
    );
  }
  if (toolChoice !== 'auto' && toolChoice !== 'none' && parsedTools.length === 0) {
    throw bad(
      "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
      'tool_choice',
    );
  }

  const limitParam =
    body.max_completion_tokens !== undefined && body.max_completion_tokens !== null
      ? 'max_completion_tokens'
      : body.max_tokens !== undefined && body.max_tokens !== null
        ? 'max_tokens'
        : undefined;
  const maxTokens = limitParam ? body[limitParam] : undefined;
  const temperature = body.temperature;
  if (
    maxTokens !== undefined &&
    maxTokens !== null &&
    !(Number.isInteger(maxTokens) && (maxTokens as number) >= 1)
  ) {
    throw bad(
      `Invalid '${limitParam}': expected a whole number of tokens, 1 or more, got ${JSON.stringify(maxTokens)}.`,
      limitParam ?? 'max_tokens',
    );
  }
  const effort = body.reasoning_effort;
  if (
    kind === 'reasoning' &&
    effort !== undefined &&
    effort !== null &&
    !reasoningEfforts.includes(effort as ReasoningEffort)
  ) {
    throw bad(
      `Invalid value: ${JSON.stringify(effort)}. Supported values are: ${reasoningEfforts.map((e) => `'${e}'`).join(', ')}.`,
      'reasoning_effort',
    );
  }
  if (n !== undefined && n !== null && !(Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 128)) {
    throw bad(`Invalid 'n': expected a whole number from 1 to 128, got ${JSON.stringify(n)}.`, 'n');
  }

  return {
    messages: parsedMessages,
    tools: parsedTools,
    toolChoice,
    parallelToolCalls: parallel_tool_calls !== false,
    responseFormat: parseResponseFormat(response_format),
    stream: stream === true,
    includeUsage: stream === true && isRecord(stream_options) && stream_options.include_usage === true,
    ...(typeof maxTokens === 'number' && limitParam ? { maxTokens, limitParam } : {}),
    ...(typeof temperature === 'number' ? { temperature } : {}),
    ...(kind === 'reasoning' && typeof effort === 'string'
      ? { reasoningEffort: effort as ReasoningEffort }
      : {}),
    n: typeof n === 'number' ? n : 1,
  };
}

/**
 * What a reasoning deployment refuses, with the code, param and message Azure OpenAI answers (as clients
 * of o1, o3-mini, o4-mini, gpt-5 and gpt-5.x deployments report them; for example
 * github.com/langgenius/dify/issues/9746 and github.com/microsoft/vscode/issues/253673).
 */
function refuseForReasoning(body: Record<string, unknown>): void {
  if (body.max_tokens !== undefined && body.max_tokens !== null) {
    throw new AzureError(
      400,
      'unsupported_parameter',
      "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      { type: 'invalid_request_error', param: 'max_tokens' },
    );
  }
  const temperature = body.temperature;
  if (temperature !== undefined && temperature !== null && temperature !== 1) {
    throw new AzureError(
      400,
      'unsupported_value',
      `Unsupported value: 'temperature' does not support ${typeof temperature === 'number' ? String(temperature) : JSON.stringify(temperature)} with this model. Only the default (1) value is supported.`,
      { type: 'invalid_request_error', param: 'temperature' },
    );
  }
}

const roles = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

function parseMessage(value: unknown, index: number): ChatMessage {
  const at = `messages[${index}]`;
  if (!isRecord(value))
    throw bad(`Invalid value for '${at}': expected an object with a role and content.`, at);
  const { role, content, tool_calls, tool_call_id, name } = value;
  if (typeof role !== 'string' || !roles.has(role)) {
    throw bad(
      `Invalid value for '${at}.role': ${JSON.stringify(role)}. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.`,
      `${at}.role`,
    );
  }
  const contentOk =
    typeof content === 'string' ||
    Array.isArray(content) ||
    ((content === null || content === undefined) && role === 'assistant');
  if (!contentOk)
    throw bad(
      `Invalid value for '${at}.content': expected a string or an array of content parts.`,
      `${at}.content`,
    );
  const message: ChatMessage = { role: role as ChatMessage['role'], content };
  if (typeof name === 'string') message.name = name;
  if (role === 'assistant' && tool_calls !== undefined && tool_calls !== null) {
    if (!Array.isArray(tool_calls))
      throw bad(`Invalid value for '${at}.tool_calls': expected an array.`, `${at}.tool_calls`);
    message.tool_calls = tool_calls.map((call, i) => {
      if (
        !isRecord(call) ||
        typeof call.id !== 'string' ||
        !isRecord(call.function) ||
        typeof call.function.name !== 'string'
      ) {
        throw bad(
          `Invalid value for '${at}.tool_calls[${i}]': expected {id, type: "function", function: {name, arguments}}.`,
          `${at}.tool_calls[${i}]`,
        );
      }
      const args = call.function.arguments;
      return {
        id: call.id,
        type: 'function',
        function: { name: call.function.name, arguments: typeof args === 'string' ? args : '{}' },
      };
    });
  } else if (role === 'assistant' && (content === null || content === undefined)) {
    throw bad(
      `Invalid value for '${at}.content': an assistant message needs content or tool_calls.`,
      `${at}.content`,
    );
  }
  if (role === 'tool') {
    if (typeof tool_call_id !== 'string')
      throw bad(`Missing required parameter: '${at}.tool_call_id'.`, `${at}.tool_call_id`);
    message.tool_call_id = tool_call_id;
  }
  return message;
}

/** As Azure checks: tool messages answer a preceding tool call, and every tool call gets its answer. */
function checkToolMessages(messages: readonly ChatMessage[]): void {
  let open = new Set<string>();
  messages.forEach((message, i) => {
    if (message.role === 'tool') {
      if (!message.tool_call_id || !open.has(message.tool_call_id)) {
        throw bad(
          `Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'. (messages[${i}].tool_call_id is ${JSON.stringify(message.tool_call_id)}.)`,
          `messages.[${i}].role`,
        );
      }
      open.delete(message.tool_call_id);
      return;
    }
    if (open.size > 0) {
      throw bad(
        `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...open].join(', ')}`,
        `messages.[${i}].role`,
      );
    }
    open = new Set((message.tool_calls ?? []).map((c) => c.id));
  });
}

function parseResponseFormat(value: unknown): ResponseFormat {
  if (value === undefined || value === null) return { type: 'text' };
  if (!isRecord(value))
    throw bad("Invalid 'response_format': expected an object with a 'type'.", 'response_format');
  switch (value.type) {
    case 'text':
      return { type: 'text' };
    case 'json_object':
      return { type: 'json_object' };
    case 'json_schema': {
      const spec = value.json_schema;
      if (!isRecord(spec) || typeof spec.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(spec.name)) {
        throw bad(
          "Missing or invalid 'response_format.json_schema.name': expected a name matching '^[a-zA-Z0-9_-]{1,64}$'.",
          'response_format.json_schema.name',
        );
      }
      const schema = spec.schema ?? {};
      if (!isRecord(schema))
        throw bad(
          "Invalid 'response_format.json_schema.schema': expected a JSON schema object.",
          'response_format.json_schema.schema',
        );
      if (spec.strict === true) checkStrictSchema(spec.name, schema, schema, []);
      return { type: 'json_schema', name: spec.name, schema };
    }
    default:
      throw bad(
        `Invalid value for 'response_format.type': ${JSON.stringify(value.type)}. Supported values are: 'text', 'json_object' and 'json_schema'.`,
        'response_format.type',
      );
  }
}

/** Structured outputs' two best-known strict-mode rules, with the messages the service gives. */
function checkStrictSchema(
  name: string,
  node: unknown,
  root: Record<string, unknown>,
  context: string[],
): void {
  if (Array.isArray(node)) {
    node.forEach((child, i) => checkStrictSchema(name, child, root, [...context, String(i)]));
    return;
  }
  if (!isRecord(node)) return;
  const where = `In context=(${context.map((c) => `'${c}'`).join(', ')})`;
  if (isRecord(node.properties) && (node.type === 'object' || node.type === undefined)) {
    if (node.additionalProperties !== false) {
      throw bad(
        `Invalid schema for response_format '${name}': ${where}, 'additionalProperties' is required to be supplied and to be false.`,
        'response_format',
      );
    }
    const required = Array.isArray(node.required) ? node.required : [];
    const missing = Object.keys(node.properties).find((key) => !required.includes(key));
    if (missing !== undefined) {
      throw bad(
        `Invalid schema for response_format '${name}': ${where}, 'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'.`,
        'response_format',
      );
    }
  }
  for (const [key, child] of Object.entries(node)) {
    if (key === 'enum' || key === 'const' || key === 'required' || key === 'default' || key === 'examples')
      continue;
    checkStrictSchema(name, child, root, [...context, key]);
  }
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
