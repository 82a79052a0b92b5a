import * as cl100k from 'gpt-tokenizer/encoding/cl100k_base';
import * as o200k from 'gpt-tokenizer/encoding/o200k_base';
import { budgetSpentPrefix, minCompletionTokens } from '../contracts/model';
import type { ContentFilterResultsForChoiceOutput } from '@azure/openai/types';
import { setTimeout as sleep } from 'node:timers/promises';
import type { InvocationContext } from '@azure/functions';
import { APIConnectionError, APIError } from 'openai';
import type {
  ChatCompletion,
  ChatCompletionCreateParamsNonStreaming,
} from 'openai/resources/chat/completions';
import { toolNames } from '../contracts/tools';
import { createAnswerAttempt } from '../lib/answerBlobs';
import { forLog } from '../lib/logText';
import { AnswerBlobWriter } from './answerWriter';
import {
  limitFields,
  reasoningTokensOf,
  tokenLimitOf,
  withTokenLimit,
  type ModelKind,
  type ReasoningEffort,
} from '../agents/modelKinds';
import { toolDefinitions } from '../agents/tools';
import type { AppClients } from '../clients';
import type { AppConfig } from '../config';
import {
  assistantMessageSchema,
  callModelInputSchema,
  type AssistantMessage,
  type CallModelInput,
  type CallModelOutput,
  type CallModelResult,
} from '../contracts/model';
import { PermanentError, RateLimitedError, RetryableError, retryAfterMsFrom, toOutcome } from '../lib/errors';
import { ModelCache, modelCacheKey } from './modelCache';

export interface CallModelDeps {
  clients: AppClients;
  config: AppConfig;
  /** The clock, for retry-after dates and cache expiry. */
  now?: () => number;
  rateLimit?: RateLimitPolicy;
  /** How long streamed text may wait before it is appended to the answer blob (default 100 ms). */
  streamFlushMs?: number;
}

/**
 * A 429 asking for at most `maxInlineWaitMs` is waited out inside the activity (cheaper than a durable
 * timer round trip), at most `maxInlineWaits` times; anything longer goes back to the orchestrator as a
 * `rate-limited` outcome so no function is held while waiting.
 */
export interface RateLimitPolicy {
  maxInlineWaitMs: number;
  maxInlineWaits: number;
  /** Assumed when a 429 carries no retry-after header. */
  defaultRetryAfterMs: number;
}

export const defaultRateLimitPolicy: RateLimitPolicy = {
  maxInlineWaitMs: 5_000,
  maxInlineWaits: 3,
  defaultRetryAfterMs: 10_000,
};

/** One chat-completions call on the deployment for the requested tier. */
export function createCallModel(
  deps: CallModelDeps,
): (input: CallModelInput, context: InvocationContext) => Promise<CallModelOutput> {
  const { clients, config } = deps;
  const now = deps.now ?? Date.now;
  const policy = deps.rateLimit ?? defaultRateLimitPolicy;
  const cache =
    config.modelCache.ttlSeconds > 0
      ? new ModelCache(clients.blobService, config.modelCache.container, config.modelCache.ttlSeconds * 1000)
      : undefined;
  const answers = clients.blobService.getContainerClient(config.resultsContainer);
  let answersReady: Promise<unknown> | undefined;
  const answerContainer = async () => {
    answersReady ??= answers.createIfNotExists().catch((error: unknown) => {
      answersReady = undefined;
      throw error;
    });
    await answersReady;
    return answers;
  };
  const flushMs = deps.streamFlushMs ?? 100;

  return async (input, context) => {
    try {
      const parsed = callModelInputSchema.safeParse(input);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`);
        throw new PermanentError(`callModel input is invalid: ${problems.join('; ')}`);
      }
      if (input.stream && ((input.tools?.length ?? 0) > 0 || input.responseFormat)) {
        throw new PermanentError(
          'callModel streams text answers only: a call with stream cannot offer tools or a response format',
        );
      }
      const unknownTools = (input.tools ?? []).filter((name) => !toolNames.includes(name));
      if (unknownTools.length > 0) {
        throw new PermanentError(
          `callModel was asked to offer unknown tools: ${unknownTools.join(', ')}; the registry has ${toolNames.join(', ')}`,
        );
      }
      const strong = input.tier === 'strong';
      const deployment = strong ? config.openai.strongDeployment : config.openai.fastDeployment;
      const kind = strong ? config.openai.strongKind : config.openai.fastKind;
      const body = boundToBudget(
        toRequestBody(input, deployment, kind, config.openai.reasoningEffort),
        input.budgetTokens,
        deployment,
        kind,
      );

      // A cache hit reports the usage of the call that produced it, so the quota is charged as if the
      // model had answered: the cache saves latency and Azure cost, not a user's allowance, and a
      // user's spend does not depend on what other users asked before.
      const key = cache
        ? modelCacheKey({
            deployment,
            apiVersion: config.openai.apiVersion,
            messages: body.messages,
            tools: body.tools,
            responseFormat: body.response_format,
            maxTokens: tokenLimitOf(body),
            temperature: body.temperature ?? undefined,
            reasoningEffort: body.reasoning_effort ?? undefined,
          })
        : undefined;
      if (cache && key) {
        const hit = await cache.get(key, now(), context);
        if (hit) {
          // The stream still shows the answer: the cached text, in one piece.
          if (input.stream) await streamWhole(input.stream, hit.message.content ?? '');
          return { ok: true, value: hit };
        }
      }

      const target = input.stream;
      const completion = await withInlineWaits(
        target
          ? () => streamOnce(body, target, deployment)
          : () => clients.openai.chat.completions.create(body, { maxRetries: 0 }),
        deployment,
        context,
      );
      const result = toResult(completion, deployment);
      if (cache && key) await cache.put(key, result, now(), context);
      return { ok: true, value: result };
    } catch (error) {
      return toOutcome<CallModelResult>(error);
    }
  };

  function answerWriter(target: { runId: string; round: number }): AnswerBlobWriter {
    return new AnswerBlobWriter(
      async () => (await createAnswerAttempt(await answerContainer(), target.runId, target.round)).blob,
      flushMs,
    );
  }

  async function streamWhole(target: { runId: string; round: number }, text: string): Promise<void> {
    const writer = answerWriter(target);
    writer.push(text);
    await writer.close();
  }

  /**
   * One streamed call: the text goes to a fresh answer blob (this attempt's own) as it arrives, and the
   * chunks add up to the completion the non-streamed call would have returned, usage included
   * (`include_usage`: the last chunk carries the exact counts).
   */
  async function streamOnce(
    body: ChatCompletionCreateParamsNonStreaming,
    target: { runId: string; round: number },
    deployment: string,
  ): Promise<ChatCompletion> {
    const writer = answerWriter(target);
    try {
      const stream = await clients.openai.chat.completions.create(
        { ...body, stream: true, stream_options: { include_usage: true } },
        { maxRetries: 0 },
      );
      let content = '';
      let finishReason: ChatCompletion.Choice['finish_reason'] | null = null;
      let filter: ContentFilterResultsForChoiceOutput | undefined;
      let usage: ChatCompletion['usage'];
      let meta = { id: '', created: 0, model: deployment };
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        if (chunk.id) meta = { id: chunk.id, created: chunk.created, model: chunk.model };
        const choice = chunk.choices[0];
        if (!choice) continue;
        const piece = choice.delta?.content;
        if (piece) {
          content += piece;
          writer.push(piece);
        }
        if (choice.finish_reason) finishReason = choice.finish_reason;
        const results = (choice as AzureChoice).content_filter_results;
        if (
          results &&
          Object.values(results).some((r) => (r as { filtered?: unknown } | undefined)?.filtered)
        )
          filter = results;
      }
      await writer.close();
      if (finishReason === null) {
        throw new RetryableError(`Deployment ${deployment} ended its stream without a finish reason.`);
      }
      const choice = {
        index: 0,
        message: { role: 'assistant' as const, content, refusal: null },
        finish_reason: finishReason,
        logprobs: null,
        ...(filter ? { content_filter_results: filter } : {}),
      };
      return { ...meta, object: 'chat.completion', choices: [choice], ...(usage ? { usage } : {}) };
    } catch (error) {
      writer.abandon();
      if (error instanceof APIError || error instanceof RetryableError) throw error;
      // The stream broke off (a reset socket) or the answer blob could not be written: this attempt's
      // blob is left as it is, and the retried attempt writes a new one.
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new RetryableError(
        `The streamed answer of run ${target.runId} (round ${target.round}) from deployment ${deployment} broke off: ${reason}`,
      );
    }
  }

  async function withInlineWaits(
    once: () => Promise<ChatCompletion>,
    deployment: string,
    context: InvocationContext,
  ): Promise<ChatCompletion> {
    for (let waits = 0; ; waits++) {
      try {
        return await once();
      } catch (error) {
        const failure = classifyModelError(error, {
          deployment,
          endpoint: config.openai.endpoint,
          now: now(),
          defaultRetryAfterMs: policy.defaultRetryAfterMs,
          ...(config.openai.apiKey ? { secrets: [config.openai.apiKey] } : {}),
        });
        if (
          failure instanceof RateLimitedError &&
          failure.retryAfterMs <= policy.maxInlineWaitMs &&
          waits < policy.maxInlineWaits
        ) {
          context.log(
            `Deployment ${deployment} rate-limited; waiting ${failure.retryAfterMs} ms before trying again.`,
          );
          await sleep(failure.retryAfterMs);
          continue;
        }
        if (failure instanceof RetryableError) context.warn(forLog(failure.message));
        throw failure ?? error;
      }
    }
  }
}

/** The request as the deployment's kind takes it: see src/agents/modelKinds.ts. */
function toRequestBody(
  input: CallModelInput,
  deployment: string,
  kind: ModelKind,
  reasoningEffort: ReasoningEffort,
): ChatCompletionCreateParamsNonStreaming {
  const tools = input.tools && input.tools.length > 0 ? toolDefinitions(input.tools) : undefined;
  return {
    model: deployment,
    messages: input.messages,
    ...(tools ? { tools } : {}),
    ...(input.responseFormat ? { response_format: jsonSchemaResponseFormat(input.responseFormat) } : {}),
    ...limitFields(kind, input.maxTokens, input.temperature, reasoningEffort),
  };
}

/** Over the tokenizer's count: the service's chat framing is not published exactly for every model. */
const promptEstimateMargin = { factor: 1.05, tokens: 32 };

/**
 * A count of the prompt's tokens that is never below the service's: the deployment's tokenizer, chat
 * framing per message, tool definitions and the response schema, plus a margin.
 */
export function estimatePromptTokens(
  body: ChatCompletionCreateParamsNonStreaming,
  deployment: string,
): number {
  const encoding = /gpt-?4o|gpt-?4\.1|gpt-?5|^o\d/i.test(deployment)
    ? o200k
    : /gpt-?4|gpt-?35|gpt-?3\.5/i.test(deployment)
      ? cl100k
      : o200k;
  const count = (text: string) => encoding.encode(text).length;
  let total = 3;
  for (const message of body.messages) {
    total += 4 + count(message.role) + count(JSON.stringify(message.content ?? ''));
    if ('tool_calls' in message && message.tool_calls) total += count(JSON.stringify(message.tool_calls));
    if ('tool_call_id' in message) total += count(message.tool_call_id);
  }
  if (body.tools) total += 8 * body.tools.length + count(JSON.stringify(body.tools));
  if (body.response_format) total += 8 + count(JSON.stringify(body.response_format));
  return Math.ceil(total * promptEstimateMargin.factor) + promptEstimateMargin.tokens;
}

/**
 * Lowers the completion limit so that the prompt and the reply fit what the run has left; refuses the
 * call when not even a short reply fits, so a run never spends more than it reserved. On a reasoning
 * deployment the limit is max_completion_tokens, which bounds the reasoning tokens as well as the answer.
 */
function boundToBudget(
  body: ChatCompletionCreateParamsNonStreaming,
  budget: number | undefined,
  deployment: string,
  kind: ModelKind,
): ChatCompletionCreateParamsNonStreaming {
  if (budget === undefined) return body;
  const prompt = estimatePromptTokens(body, deployment);
  const room = budget - prompt;
  if (room < minCompletionTokens) {
    throw new PermanentError(
      `${budgetSpentPrefix} ${budget} tokens are left, and the prompt alone takes about ${prompt}.`,
    );
  }
  return withTokenLimit(body, kind, Math.min(tokenLimitOf(body) ?? room, room));
}

/**
 * Structured outputs. Strict mode guarantees the shape but refuses a few validation keywords (string
 * lengths, property counts, uniqueItems, default); those are dropped from what the model sees, and the
 * caller still validates the answer against its full schema. Item counts, patterns, formats and numeric
 * bounds are kept: strict mode supports them. A schema that cannot be strict (an object allowing extra
 * keys or with optional keys) is sent as is, non-strict.
 */
export function jsonSchemaResponseFormat(format: { name: string; schema: Record<string, unknown> }): {
  type: 'json_schema';
  json_schema: { name: string; schema: Record<string, unknown>; strict: boolean };
} {
  const strictSchema = toStrictSchema(format.schema);
  return {
    type: 'json_schema',
    json_schema: strictSchema
      ? { name: format.name, schema: strictSchema, strict: true }
      : { name: format.name, schema: withoutKeys(format.schema, ['$schema']), strict: false },
  };
}

const unsupportedStrictKeywords = [
  '$schema',
  'minLength',
  'maxLength',
  'minProperties',
  'maxProperties',
  'uniqueItems',
  'default',
];

function toStrictSchema(schema: unknown): Record<string, unknown> | undefined {
  if (Array.isArray(schema)) return undefined;
  if (schema === null || typeof schema !== 'object') return undefined;
  const node = schema as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (unsupportedStrictKeywords.includes(key)) continue;
    if (key === 'properties' || key === '$defs' || key === 'definitions') {
      const children: Record<string, unknown> = {};
      for (const [name, child] of Object.entries(value as Record<string, unknown>)) {
        const strictChild = toStrictSchema(child);
        if (!strictChild) return undefined;
        children[name] = strictChild;
      }
      out[key] = children;
    } else if (key === 'items' || key === 'additionalProperties' || key === 'not') {
      if (typeof value === 'boolean') out[key] = value;
      else {
        const strictChild = toStrictSchema(value);
        if (!strictChild) return undefined;
        out[key] = strictChild;
      }
    } else if (key === 'anyOf' || key === 'oneOf' || key === 'allOf') {
      if (!Array.isArray(value)) return undefined;
      const children = value.map(toStrictSchema);
      if (children.some((c) => c === undefined)) return undefined;
      out[key] = children;
    } else {
      out[key] = value;
    }
  }
  if (node.type === 'object' || node.properties !== undefined) {
    const properties = Object.keys((node.properties as Record<string, unknown> | undefined) ?? {});
    const required = Array.isArray(node.required) ? (node.required as unknown[]) : [];
    if (node.additionalProperties !== false) return undefined;
    if (properties.some((p) => !required.includes(p))) return undefined;
  }
  return out;
}

function withoutKeys(schema: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(schema).filter(([key]) => !keys.includes(key)));
}

/** Maps the service's answer to ours, checking the parts we rely on. */
function toResult(completion: ChatCompletion, deployment: string): CallModelResult {
  const choice = completion.choices?.[0];
  if (!choice?.message) {
    throw new RetryableError(
      `Deployment ${deployment} returned a completion without a message; trying again.`,
    );
  }
  const finishReason = choice.finish_reason ?? 'unknown';
  if (finishReason === 'content_filter') {
    const filtered = filteredCategories((choice as AzureChoice).content_filter_results);
    throw new PermanentError(
      `Deployment ${deployment} stopped its answer: the Azure OpenAI content filter blocked the output` +
        `${filtered ? ` (${filtered})` : ''}. Rephrase the request.`,
      400,
    );
  }
  const toolCalls = (choice.message.tool_calls ?? []).flatMap((call) =>
    call.type === 'function'
      ? [
          {
            id: call.id,
            type: 'function' as const,
            function: { name: call.function.name, arguments: call.function.arguments },
          },
        ]
      : [],
  );
  const candidate: AssistantMessage = {
    role: 'assistant',
    content: choice.message.content ?? null,
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
  };
  const message = assistantMessageSchema.safeParse(candidate);
  if (!message.success) {
    throw new RetryableError(
      `Deployment ${deployment} returned a malformed message (${message.error.issues[0]?.message}).`,
    );
  }
  if (message.data.content === null && !message.data.tool_calls) {
    throw new RetryableError(
      `Deployment ${deployment} returned neither text nor tool calls (finish reason ${finishReason}).`,
    );
  }
  const usage = completion.usage;
  // Reasoning tokens are part of completion_tokens already; they are kept apart only to be seen.
  const reasoningTokens = reasoningTokensOf(usage);
  return {
    message: message.data,
    usage: {
      promptTokens: usage?.prompt_tokens ?? 0,
      completionTokens: usage?.completion_tokens ?? 0,
      totalTokens: usage?.total_tokens ?? (usage ? usage.prompt_tokens + usage.completion_tokens : 0),
      ...(reasoningTokens === undefined ? {} : { reasoningTokens }),
    },
    deployment,
    finishReason,
    cached: false,
  };
}

export interface ModelErrorContext {
  deployment: string;
  endpoint: string;
  now: number;
  defaultRetryAfterMs: number;
  /** Values that must never appear in a message (the API key). */
  secrets?: readonly string[];
}

/**
 * Decides what a failed model call means: a rate limit (with how long to wait), a permanent refusal
 * (the same request will fail again), or a transient fault for the retry policy. Messages name the
 * deployment and the reason, and never carry a key.
 */
export function classifyModelError(
  error: unknown,
  ctx: ModelErrorContext,
): RateLimitedError | PermanentError | RetryableError | undefined {
  const clean = (text: string) => redact(text, ctx.secrets ?? []);
  if (error instanceof APIConnectionError) {
    // Includes timeouts (APIConnectionTimeoutError): nothing was answered, so trying again is safe.
    return new RetryableError(
      clean(`Could not reach deployment ${ctx.deployment} at ${ctx.endpoint}: ${error.message}`),
    );
  }
  if (!isApiError(error)) return undefined;
  const apiError = error;
  const status = apiError.status;
  if (status === undefined) return undefined;
  const reason = clean(serviceReason(apiError));
  const requestId = apiError.requestID ? ` (request id ${apiError.requestID})` : '';
  if (status === 429) {
    const retryAfterMs = retryAfterMsFrom(apiError.headers, ctx.now) ?? ctx.defaultRetryAfterMs;
    return new RateLimitedError(
      `Deployment ${ctx.deployment} is rate-limited; retry after ${retryAfterMs} ms${requestId}.`,
      retryAfterMs,
    );
  }
  if (isContentFilter(apiError)) {
    return new PermanentError(
      `Deployment ${ctx.deployment} refused the request: the Azure OpenAI content filter blocked the prompt (${reason}). Rephrase the request.`,
      status,
    );
  }
  const permanent: Record<number, string> = {
    400: `bad request: ${reason}`,
    401: `authentication failed (${reason}); check AZURE_OPENAI_API_KEY, or that the app's identity can sign in`,
    403: `access denied (${reason}); the app's identity needs the Cognitive Services OpenAI User role on the resource`,
    404: `deployment not found at ${ctx.endpoint} (${reason}); check AZURE_OPENAI_FAST_DEPLOYMENT / AZURE_OPENAI_STRONG_DEPLOYMENT and AZURE_OPENAI_API_VERSION`,
    413: `request too large: ${reason}`,
    422: `request not processable: ${reason}`,
  };
  const permanentReason = permanent[status];
  if (permanentReason) {
    return new PermanentError(
      `Deployment ${ctx.deployment} refused the request with ${status}: ${permanentReason}${requestId}.`,
      status,
    );
  }
  // 408, 409, 5xx and anything unexpected: transient as far as we can tell.
  return new RetryableError(
    `Deployment ${ctx.deployment} failed with ${status}: ${reason}${requestId}.`,
    status,
  );
}

/** `instanceof APIError` alone narrows to APIError<any, ...>; this keeps the declared field types. */
/** A choice as Azure OpenAI sends it: the openai types plus Azure's content filter annotations. */
type AzureChoice = { content_filter_results?: ContentFilterResultsForChoiceOutput };

/** The categories Azure's content filter blocked, with their severity: "violence (high), hate (medium)". */
export function filteredCategories(results: ContentFilterResultsForChoiceOutput | undefined): string {
  if (!results) return '';
  const severityCategories = ['hate', 'sexual', 'violence', 'self_harm'] as const;
  const detectionCategories = ['profanity', 'protected_material_text', 'protected_material_code'] as const;
  return [
    ...severityCategories.flatMap((name) => {
      const result = results[name];
      return result?.filtered ? [`${name} (${result.severity})`] : [];
    }),
    ...detectionCategories.flatMap((name) => (results[name]?.filtered ? [name] : [])),
  ].join(', ');
}

function isApiError(error: unknown): error is APIError {
  return error instanceof APIError;
}

/** Azure reports a filtered prompt as a 400 with code content_filter (innererror ResponsibleAIPolicyViolation). */
function isContentFilter(error: APIError): boolean {
  if (error.code === 'content_filter') return true;
  const body: unknown = error.error;
  const inner = isRecord(body) && isRecord(body.innererror) ? body.innererror : undefined;
  return inner?.code === 'ResponsibleAIPolicyViolation';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The service's own words, without openai's "400 " prefix, kept short. */
function serviceReason(error: APIError): string {
  const body: unknown = error.error;
  const text =
    isRecord(body) && typeof body.message === 'string'
      ? body.message
      : error.message.replace(/^\d{3}\s*/, '');
  const oneLine = text.replace(/\s+/g, ' ').trim() || 'no details';
  return oneLine.length > 300 ? `${oneLine.slice(0, 300)}...` : oneLine;
}

function redact(text: string, secrets: readonly string[]): string {
  return secrets.reduce((t, secret) => (secret.length >= 4 ? t.split(secret).join('[redacted]') : t), text);
}
