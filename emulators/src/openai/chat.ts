import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ChatSummary } from '../control';
import { AzureError } from '../errors';
import { textOf, type ChatMessage, type ChatToolCall, type FunctionTool } from './conversation';
import { reply, shortHash, type ResponseFormat, type ToolChoice } from './model';
import { countPromptTokens, countTokens, truncateToTokens } from './tokens';

/**
 * POST .../chat/completions as Azure OpenAI answers it: validation errors in Azure's shape, the
 * emulated model's reply, real token usage, and server-sent events when `stream` is true.
 */

/** A prompt containing this marker is refused as Azure's content filter refuses a harmful prompt. */
export const contentFilterMarker = 'EMULATOR_CONTENT_FILTER';

const modelVersions: Record<string, string> = {
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4o': 'gpt-4o-2024-11-20',
  'gpt-4.1': 'gpt-4.1-2025-04-14',
  'gpt-4.1-mini': 'gpt-4.1-mini-2025-04-14',
};

const safe = { filtered: false, severity: 'safe' };
const contentFilterResults = { hate: safe, self_harm: safe, sexual: safe, violence: safe };
const promptFilterResults = [
  {
    prompt_index: 0,
    content_filter_results: { ...contentFilterResults, jailbreak: { filtered: false, detected: false } },
  },
];

interface ParsedChatRequest {
  messages: ChatMessage[];
  tools: FunctionTool[];
  toolChoice: ToolChoice;
  parallelToolCalls: boolean;
  responseFormat: ResponseFormat;
  stream: boolean;
  includeUsage: boolean;
  maxTokens?: number;
  n: number;
}

export interface ChatOutcome {
  summary: ChatSummary;
}

export function handleChatCompletions(
  deployment: string,
  body: unknown,
  response: ServerResponse,
  headers: Record<string, string>,
  summarize: (summary: ChatSummary) => void,
  cannedContent?: string,
): void {
  const request = parseChatRequest(body);
  const summary = summaryOf(request);
  summarize(summary);

  const prompt = request.messages.map((m) => textOf(m.content)).join('\n');
  if (prompt.includes(contentFilterMarker)) {
    throw new AzureError(
      400,
      'content_filter',
      "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. (Emulated: the prompt contains " +
        `${contentFilterMarker}.)`,
      {
        param: 'prompt',
        type: null,
        status: 400,
        innererror: {
          code: 'ResponsibleAIPolicyViolation',
          content_filter_result: { ...contentFilterResults, violence: { filtered: true, severity: 'high' } },
        },
      },
    );
  }

  const seed = createHash('sha256')
    .update(
      canonicalJson({
        deployment,
        messages: request.messages,
        tools: request.tools,
        toolChoice: request.toolChoice,
        responseFormat: request.responseFormat,
        parallel: request.parallelToolCalls,
        maxTokens: request.maxTokens,
      }),
    )
    .digest('hex');
  let answer = reply({
    messages: request.messages,
    tools: request.tools,
    toolChoice: request.toolChoice,
    parallelToolCalls: request.parallelToolCalls,
    responseFormat: request.responseFormat,
    seed,
  });

  if (cannedContent !== undefined) answer = { ...answer, content: cannedContent, toolCalls: [] };
  let content = answer.content;
  let finishReason = answer.toolCalls.length > 0 ? 'tool_calls' : 'stop';
  if (content !== null && request.maxTokens !== undefined) {
    const cut = truncateToTokens(deployment, content, request.maxTokens);
    content = cut.text;
    if (cut.truncated) finishReason = 'length';
  }
  summary.reply = {
    content,
    toolCalls: answer.toolCalls.map((c) => ({ name: c.function.name, arguments: c.function.arguments })),
    finishReason,
  };

  const schema = request.responseFormat.type === 'json_schema' ? request.responseFormat.schema : undefined;
  const promptTokens = countPromptTokens(deployment, request.messages, request.tools, schema);
  const completionTokens =
    (content === null ? 0 : countTokens(deployment, content)) +
    answer.toolCalls.reduce(
      (sum, c) => sum + 4 + countTokens(deployment, c.function.name + c.function.arguments),
      0,
    );
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
  const base = {
    id: `chatcmpl-${shortHash(seed, 29)}`,
    created: Math.floor(Date.now() / 1000),
    model: modelVersions[deployment] ?? deployment,
    system_fingerprint: `fp_${seed.slice(0, 10)}`,
  };

  if (request.stream) {
    streamCompletion(response, headers, base, content, answer.toolCalls, finishReason, request, usage);
    return;
  }
  const message = {
    role: 'assistant',
    content,
    refusal: null,
    annotations: [],
    ...(answer.toolCalls.length > 0 ? { tool_calls: answer.toolCalls } : {}),
  };
  const choices = Array.from({ length: request.n }, (_, index) => ({
    index,
    finish_reason: finishReason,
    logprobs: null,
    message,
    content_filter_results: content === null ? {} : contentFilterResults,
  }));
  const text = JSON.stringify({
    ...base,
    object: 'chat.completion',
    prompt_filter_results: promptFilterResults,
    choices,
    usage,
  });
  response.writeHead(200, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}

function streamCompletion(
  response: ServerResponse,
  headers: Record<string, string>,
  base: { id: string; created: number; model: string; system_fingerprint: string },
  content: string | null,
  toolCalls: ChatToolCall[],
  finishReason: string,
  request: ParsedChatRequest,
  usage: object,
): void {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...headers,
  });
  const send = (data: unknown) => response.write(`data: ${JSON.stringify(data)}\n\n`);
  const usageField = request.includeUsage ? { usage: null } : {};
  const chunk = (delta: object, finish: string | null, filter: object = {}) => ({
    ...base,
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null, content_filter_results: filter }],
    ...usageField,
  });

  // Azure first sends the prompt filter results with no choices, then the deltas.
  send({
    id: '',
    object: '',
    created: 0,
    model: '',
    choices: [],
    prompt_filter_results: promptFilterResults,
  });
  if (toolCalls.length > 0) {
    send(chunk({ role: 'assistant', content: null, refusal: null }, null));
    toolCalls.forEach((call, index) => {
      send(
        chunk(
          {
            tool_calls: [
              { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } },
            ],
          },
          null,
        ),
      );
      for (const piece of pieces(call.function.arguments, 24)) {
        send(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }, null));
      }
    });
  } else {
    send(chunk({ role: 'assistant', content: '', refusal: null }, null));
    for (const piece of words(content ?? '')) send(chunk({ content: piece }, null, contentFilterResults));
  }
  send(chunk({}, finishReason));
  if (request.includeUsage) send({ ...base, object: 'chat.completion.chunk', choices: [], usage });
  response.end('data: [DONE]\n\n');
}

/** A few words per chunk, spaces kept, as a model streams them. */
function words(text: string): string[] {
  const parts = text.match(/\S+\s*|\s+/g) ?? [];
  const chunks: string[] = [];
  for (let i = 0; i < parts.length; i += 3) chunks.push(parts.slice(i, i + 3).join(''));
  return chunks;
}

function pieces(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function summaryOf(request: ParsedChatRequest): ChatSummary {
  return {
    messages: request.messages.map((m) => ({
      role: m.role,
      content: textOf(m.content),
      ...(m.tool_calls ? { toolCalls: m.tool_calls.map((c) => c.function.name) } : {}),
      ...(m.tool_call_id ? { toolCallId: m.tool_call_id } : {}),
    })),
    tools: request.tools.map((t) => t.name),
    toolChoice: request.toolChoice,
    responseFormat:
      request.responseFormat.type === 'json_schema'
        ? { type: 'json_schema', name: request.responseFormat.name }
        : { type: request.responseFormat.type },
    stream: request.stream,
    ...(request.maxTokens !== undefined ? { maxTokens: request.maxTokens } : {}),
  };
}

// ---- request validation -----------------------------------------------------------------------------

const bad = (message: string, param: string | null = null) =>
  new AzureError(400, 'BadRequest', message, { type: 'invalid_request_error', param });

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function parseChatRequest(body: unknown): ParsedChatRequest {
  if (!isRecord(body)) throw bad('The request body must be a JSON object with a "messages" array.');
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

  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  if (
    maxTokens !== undefined &&
    maxTokens !== null &&
    !(Number.isInteger(maxTokens) && (maxTokens as number) >= 1)
  ) {
    throw bad(
      `Invalid 'max_tokens': expected a whole number of tokens, 1 or more, got ${JSON.stringify(maxTokens)}.`,
      'max_tokens',
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
    ...(typeof maxTokens === 'number' ? { maxTokens } : {}),
    n: typeof n === 'number' ? n : 1,
  };
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

function canonicalJson(value: unknown): string {
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
