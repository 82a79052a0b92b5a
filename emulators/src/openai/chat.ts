import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChatSummary } from '../control';
import { AzureError } from '../errors';
import type { StreamCut } from '../faults/cutStream';
import { canonicalJson, parseChatRequest, type ParsedChatRequest, type ReasoningEffort } from './chatRequest';
import { textOf, type ChatToolCall } from './conversation';
import type { Deployment } from './deployments';
import { reply, shortHash } from './model';
import { countPromptTokens, countTokens, truncateToTokens } from './tokens';

/**
 * POST .../chat/completions as Azure OpenAI answers it: validation errors in Azure's shape, the
 * emulated model's reply, real token usage, and server-sent events when `stream` is true.
 */

/** A prompt containing this marker is refused as Azure's content filter refuses a harmful prompt. */
export const contentFilterMarker = 'EMULATOR_CONTENT_FILTER';

const safe = { filtered: false, severity: 'safe' };
const contentFilterResults = { hate: safe, self_harm: safe, sexual: safe, violence: safe };
const promptFilterResults = [
  {
    prompt_index: 0,
    content_filter_results: { ...contentFilterResults, jailbreak: { filtered: false, detected: false } },
  },
];

export interface ChatOutcome {
  summary: ChatSummary;
}

export interface ChatOptions {
  /** A canned answer instead of the model's. */
  cannedContent?: string;
  /** The pause before each chunk of a streamed answer. */
  chunkDelayMs?: number;
  /** Asked before each content chunk of a streamed answer: a cut-stream fault (faults/cutStream.ts). */
  cutStream?: StreamCut;
}

export async function handleChatCompletions(
  target: Deployment,
  body: unknown,
  response: ServerResponse,
  headers: Record<string, string>,
  summarize: (summary: ChatSummary) => void,
  options: ChatOptions = {},
): Promise<void> {
  const { cannedContent } = options;
  const deployment = target.name;
  const request = parseChatRequest(body, target.kind);
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
  const schema = request.responseFormat.type === 'json_schema' ? request.responseFormat.schema : undefined;
  const promptTokens = countPromptTokens(deployment, request.messages, request.tools, schema);
  // A reasoning model thinks first, and max_completion_tokens covers the thinking and the answer.
  const reasoningTokens =
    target.kind === 'reasoning'
      ? reasoningTokensFor(promptTokens, request.maxTokens, request.reasoningEffort)
      : 0;
  let content = answer.content;
  let finishReason = answer.toolCalls.length > 0 ? 'tool_calls' : 'stop';
  if (content !== null && request.maxTokens !== undefined) {
    const cut = truncateToTokens(deployment, content, request.maxTokens - reasoningTokens);
    content = cut.text;
    if (cut.truncated) finishReason = 'length';
  }
  summary.reply = {
    content,
    toolCalls: answer.toolCalls.map((c) => ({ name: c.function.name, arguments: c.function.arguments })),
    finishReason,
    ...(target.kind === 'reasoning' ? { reasoningTokens } : {}),
  };

  const completionTokens =
    reasoningTokens +
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
      reasoning_tokens: reasoningTokens,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
  const base = {
    id: `chatcmpl-${shortHash(seed, 29)}`,
    created: Math.floor(Date.now() / 1000),
    model: target.model,
    system_fingerprint: `fp_${seed.slice(0, 10)}`,
  };

  if (request.stream) {
    await streamCompletion(
      response,
      headers,
      base,
      { content, toolCalls: answer.toolCalls, finishReason },
      request,
      {
        usage,
        summary,
        chunkDelayMs: options.chunkDelayMs ?? 0,
        ...(options.cutStream ? { cutStream: options.cutStream } : {}),
      },
    );
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

/**
 * Server-sent events as Azure sends them. With a chunk delay each content chunk waits that long, so a
 * client sees the answer grow; `cutStream` may end the stream before any content chunk. The
 * time and content offset of every content chunk go to the request log (`chat.chunks`).
 */
async function streamCompletion(
  response: ServerResponse,
  headers: Record<string, string>,
  base: { id: string; created: number; model: string; system_fingerprint: string },
  answer: { content: string | null; toolCalls: ChatToolCall[]; finishReason: string },
  request: ParsedChatRequest,
  options: { usage: object; summary: ChatSummary; chunkDelayMs: number; cutStream?: StreamCut },
): Promise<void> {
  const { content, toolCalls, finishReason } = answer;
  const { usage } = options;
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    ...headers,
  });
  response.flushHeaders();
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
    const log: { atMs: number; end: number }[] = [];
    options.summary.chunks = log;
    let end = 0;
    for (const piece of words(content ?? '')) {
      if (options.cutStream && (await options.cutStream(response, log.length))) return;
      if (options.chunkDelayMs > 0) await sleep(options.chunkDelayMs);
      if (response.destroyed) return;
      send(chunk({ content: piece }, null, contentFilterResults));
      end += piece.length;
      log.push({ atMs: Date.now(), end });
    }
  }
  send(chunk({}, finishReason));
  if (request.includeUsage) send({ ...base, object: 'chat.completion.chunk', choices: [], usage });
  response.end('data: [DONE]\n\n');
}

/** How much more or less an effort thinks than medium, the service's default. */
const effortFactor: Record<ReasoningEffort, number> = {
  none: 0,
  minimal: 0.25,
  low: 0.5,
  medium: 1,
  high: 2,
  xhigh: 3,
};

/**
 * How many tokens the emulated reasoning model spends thinking: at medium effort 16 plus one per 64 prompt
 * tokens (scaled by the effort, none thinks not at all), so the same request always costs the same, and
 * never more than the limit. When the limit is all thinking, the answer is empty and cut (finish reason
 * length), as Azure answers a reasoning model that ran out of room.
 */
export function reasoningTokensFor(
  promptTokens: number,
  limit: number | undefined,
  effort: ReasoningEffort = 'medium',
): number {
  const wanted = Math.round((16 + Math.floor(promptTokens / 64)) * effortFactor[effort]);
  return limit === undefined ? wanted : Math.min(wanted, limit);
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
    ...(request.limitParam !== undefined ? { limitParam: request.limitParam } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.reasoningEffort !== undefined ? { reasoningEffort: request.reasoningEffort } : {}),
  };
}
