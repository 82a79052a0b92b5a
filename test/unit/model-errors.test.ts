import { APIConnectionError, APIConnectionTimeoutError, APIError } from 'openai';
import {
  classifyModelError,
  filteredCategories,
  jsonSchemaResponseFormat,
} from '../../src/activities/callModel';
import { canonicalJson, modelCacheKey, type ModelCacheKeyParts } from '../../src/activities/modelCache';
import { answerWithCitations } from '../../src/activities/research';
import { PermanentError, RateLimitedError, RetryableError, toOutcome } from '../../src/lib/errors';
import type { ThreadMessage } from '@azure/ai-agents';
import { z } from 'zod';
import { planSchema } from '../../src/contracts/agentRun';

const now = Date.parse('2025-05-01T10:00:00Z');
const ctx = {
  deployment: 'gpt-4o-mini',
  endpoint: 'https://example.openai.azure.com/',
  now,
  defaultRetryAfterMs: 10_000,
  secrets: ['sk-secret-key-123'],
};

/** An error exactly as openai builds it from an Azure response (body `{ error: {...} }`). */
const apiError = (status: number, error: Record<string, unknown>, headers: Record<string, string> = {}) =>
  APIError.generate(status, { error }, undefined, new Headers(headers));

describe('classifyModelError', () => {
  it('reads retry-after-ms first, for a 429', () => {
    const error = classifyModelError(
      apiError(429, { code: '429', message: 'Rate limit' }, { 'retry-after-ms': '1500', 'retry-after': '9' }),
      ctx,
    );
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(1500);
    expect(toOutcome(error)).toEqual({
      ok: false,
      kind: 'rate-limited',
      retryAfterMs: 1500,
      message: expect.stringContaining('gpt-4o-mini is rate-limited') as unknown,
    });
  });

  it('falls back to retry-after in seconds or as a date, then to the default', () => {
    const seconds = classifyModelError(apiError(429, {}, { 'retry-after': '30' }), ctx) as RateLimitedError;
    expect(seconds.retryAfterMs).toBe(30_000);
    const date = classifyModelError(
      apiError(429, {}, { 'retry-after': new Date(now + 7000).toUTCString() }),
      ctx,
    ) as RateLimitedError;
    expect(date.retryAfterMs).toBe(7000);
    const none = classifyModelError(apiError(429, {}), ctx) as RateLimitedError;
    expect(none.retryAfterMs).toBe(10_000);
  });

  it.each([
    [
      400,
      { code: 'invalid_request', message: 'messages is required' },
      /refused the request with 400: bad request: messages is required/,
    ],
    [
      401,
      { code: '401', message: 'Access denied due to invalid subscription key sk-secret-key-123' },
      /authentication failed .*check AZURE_OPENAI_API_KEY/,
    ],
    [403, { code: '403', message: 'Forbidden' }, /access denied .*Cognitive Services OpenAI User/],
    [
      404,
      { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' },
      /deployment not found at https:\/\/example.openai.azure.com\/ .*AZURE_OPENAI_FAST_DEPLOYMENT/,
    ],
  ])('%d is permanent, names the deployment and says what to do', (status, body, message) => {
    const error = classifyModelError(apiError(status, body), ctx);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).message).toMatch(/^Deployment gpt-4o-mini /);
    expect((error as PermanentError).message).toMatch(message);
    expect((error as PermanentError).message).not.toContain('sk-secret-key-123');
    expect(toOutcome(error)).toMatchObject({ ok: false, kind: 'permanent', status });
  });

  it('recognizes a prompt blocked by the content filter', () => {
    const error = classifyModelError(
      apiError(400, {
        code: 'content_filter',
        message:
          "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
        innererror: { code: 'ResponsibleAIPolicyViolation' },
      }),
      ctx,
    );
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as PermanentError).message).toContain('content filter blocked the prompt');
  });

  it.each([500, 502, 503, 408])('%d is transient: thrown for the retry policy', (status) => {
    const error = classifyModelError(apiError(status, { message: 'Service Unavailable' }), ctx);
    expect(error).toBeInstanceOf(RetryableError);
    expect(() => toOutcome(error)).toThrow(RetryableError);
  });

  it('treats connection failures and timeouts as transient', () => {
    const refused = classifyModelError(new APIConnectionError({ message: 'Connection error.' }), ctx);
    expect(refused).toBeInstanceOf(RetryableError);
    expect((refused as RetryableError).message).toContain(
      'Could not reach deployment gpt-4o-mini at https://example.openai.azure.com/',
    );
    expect(classifyModelError(new APIConnectionTimeoutError(), ctx)).toBeInstanceOf(RetryableError);
  });

  it('leaves errors that are not from the service alone', () => {
    expect(classifyModelError(new TypeError('bug'), ctx)).toBeUndefined();
  });
});

describe('filteredCategories', () => {
  it("names each category Azure's content filter blocked, with its severity, and nothing it let through", () => {
    expect(
      filteredCategories({
        hate: { filtered: false, severity: 'safe' },
        violence: { filtered: true, severity: 'high' },
        self_harm: { filtered: true, severity: 'medium' },
        protected_material_text: { filtered: true, detected: true },
      }),
    ).toBe('violence (high), self_harm (medium), protected_material_text');
    expect(filteredCategories(undefined)).toBe('');
  });
});

describe('model cache key', () => {
  const parts: ModelCacheKeyParts = {
    deployment: 'gpt-4o',
    apiVersion: '2024-10-21',
    messages: [{ role: 'user', content: 'hi' }],
    tools: undefined,
    responseFormat: undefined,
    maxTokens: 100,
    temperature: 0,
  };

  it('is a SHA-256 that ignores key order', () => {
    const key = modelCacheKey(parts);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(modelCacheKey({ ...parts, messages: [{ content: 'hi', role: 'user' }] })).toBe(key);
    expect(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 4, e: 5 }] } })).toBe(
      '{"a":{"c":[3,{"e":5,"f":4}],"d":2},"b":1}',
    );
  });

  it.each<[string, Partial<ModelCacheKeyParts>]>([
    ['deployment', { deployment: 'gpt-4o-mini' }],
    ['api version', { apiVersion: '2025-01-01-preview' }],
    ['messages', { messages: [{ role: 'user', content: 'hi!' }] }],
    ['tools', { tools: [{ type: 'function', function: { name: 'calculator' } }] }],
    ['response format', { responseFormat: { type: 'json_schema' } }],
    ['max tokens', { maxTokens: 101 }],
    ['temperature', { temperature: 0.5 }],
    ['reasoning effort', { reasoningEffort: 'low' }],
  ])('changes with the %s', (_, change) => {
    expect(modelCacheKey({ ...parts, ...change })).not.toBe(modelCacheKey(parts));
  });

  it('is the same as before reasoning deployments when there is no reasoning effort', () => {
    expect(modelCacheKey({ ...parts, reasoningEffort: undefined })).toBe(modelCacheKey(parts));
  });
});

describe('jsonSchemaResponseFormat', () => {
  it('sends a strict schema without the string-length keywords strict mode refuses, keeping item counts', () => {
    /** A plan schema whose item title is `title`: the test changes only that. */
    const planSchema = (title: Record<string, unknown>) => ({
      type: 'object',
      properties: {
        items: {
          type: 'array',
          minItems: 1,
          maxItems: 3,
          items: {
            type: 'object',
            properties: { title },
            required: ['title'],
            additionalProperties: false,
          },
        },
      },
      required: ['items'],
      additionalProperties: false,
    });
    const format = jsonSchemaResponseFormat({
      name: 'plan',
      schema: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        ...planSchema({ type: 'string', minLength: 1, maxLength: 200 }),
      },
    });
    expect(format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'plan', strict: true, schema: planSchema({ type: 'string' }) },
    });
  });

  it('falls back to non-strict, schema untouched, when the schema cannot be strict', () => {
    const schema = {
      type: 'object',
      properties: { a: { type: 'string', maxLength: 3 }, b: { type: 'number' } },
      required: ['a'],
    };
    expect(jsonSchemaResponseFormat({ name: 'loose', schema })).toEqual({
      type: 'json_schema',
      json_schema: { name: 'loose', strict: false, schema },
    });
  });
});

describe('answerWithCitations', () => {
  const message = (role: 'assistant' | 'user', value: string, annotations: unknown[] = []) =>
    ({ role, content: [{ type: 'text', text: { value, annotations } }] }) as unknown as ThreadMessage;
  const cite = (text: string, url: string, title?: string) => ({
    type: 'url_citation',
    text,
    urlCitation: { url, ...(title === undefined ? {} : { title }) },
  });

  it('numbers cited URLs in order of first use, once each, and rewrites the markers', () => {
    const result = answerWithCitations([
      message('user', 'question'),
      message('assistant', 'Fact A【3:0†source】. Fact B【3:1†source】. Fact A again【3:2†source】.', [
        cite('【3:0†source】', 'https://a.example/', 'Source A'),
        cite('【3:1†source】', 'https://b.example/', ''),
        cite('【3:2†source】', 'https://a.example/', 'Source A'),
        { type: 'file_citation', text: 'x', fileCitation: { fileId: 'f' } },
      ]),
    ]);
    expect(result.text).toBe('Fact A[1]. Fact B[2]. Fact A again[1].');
    expect(result.citations).toEqual([
      { url: 'https://a.example/', title: 'Source A' },
      { url: 'https://b.example/', title: 'https://b.example/' },
    ]);
  });
});

describe('the planner schema', () => {
  it('is sent strict, keeping its subtask limit', () => {
    const format = jsonSchemaResponseFormat({
      name: 'plan',
      schema: z.toJSONSchema(planSchema(4, ['calculator'])),
    });
    expect(format.json_schema.strict).toBe(true);
    expect(format.json_schema.schema).toMatchObject({ properties: { subtasks: { maxItems: 4 } } });
  });
});
