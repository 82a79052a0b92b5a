import {
  limitFields,
  modelKindFromName,
  reasoningTokensOf,
  tokenLimitOf,
  withTokenLimit,
} from '../../src/agents/modelKinds';
import { ConfigError, loadConfig } from '../../src/config';

const env = (settings: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:7072',
  AZURE_OPENAI_FAST_DEPLOYMENT: 'gpt-5.4-mini',
  AZURE_OPENAI_STRONG_DEPLOYMENT: 'gpt-5.4',
  AUTH_MODE: 'dev',
  ...settings,
});

describe('the model kind a deployment name suggests', () => {
  it.each([
    ['o1', 'reasoning'],
    ['o3-mini', 'reasoning'],
    ['o4-mini', 'reasoning'],
    ['gpt-5', 'reasoning'],
    ['gpt-5-mini', 'reasoning'],
    ['gpt-5.4-mini', 'reasoning'],
    ['GPT-5.5', 'reasoning'],
    ['gpt-5.1-chat', 'reasoning'],
    ['gpt-chat-latest', 'reasoning'],
    ['gpt-5-chat', 'chat'],
    ['gpt-4o', 'chat'],
    ['gpt-4.1-mini', 'chat'],
    ['Mistral-Large-3', 'chat'],
    ['planner', 'chat'],
  ])('%s: %s', (name, kind) => {
    expect(modelKindFromName(name)).toBe(kind);
  });
});

describe('the request fields of each kind', () => {
  it('gives a reasoning deployment max_completion_tokens and the effort, never a temperature', () => {
    expect(limitFields('reasoning', 500, 0, 'low')).toEqual({
      max_completion_tokens: 500,
      reasoning_effort: 'low',
    });
  });

  it('gives a chat deployment max_tokens and the temperature, never an effort', () => {
    expect(limitFields('chat', 500, 0, 'low')).toEqual({ max_tokens: 500, temperature: 0 });
    expect(limitFields('chat')).toEqual({});
  });

  it('sets the limit in the field of the kind, and only there', () => {
    const body = { model: 'x', max_tokens: 900 };
    expect(tokenLimitOf(body)).toBe(900);
    expect(withTokenLimit(body, 'reasoning', 300)).toEqual({ model: 'x', max_completion_tokens: 300 });
    const unbounded: { model: string; max_tokens?: number } = { model: 'x' };
    expect(withTokenLimit(unbounded, 'chat', 300)).toEqual({ model: 'x', max_tokens: 300 });
  });

  it('reads reasoning tokens only when the service reports some', () => {
    expect(reasoningTokensOf({ completion_tokens_details: { reasoning_tokens: 40 } })).toBe(40);
    expect(reasoningTokensOf({ completion_tokens_details: { reasoning_tokens: 0 } })).toBeUndefined();
    expect(reasoningTokensOf(undefined)).toBeUndefined();
  });
});

describe('model settings', () => {
  it('take the kind from the deployment name unless a kind is set, and low effort by default', () => {
    expect(loadConfig(env()).openai).toMatchObject({
      apiVersion: 'v1',
      fastKind: 'reasoning',
      strongKind: 'reasoning',
      reasoningEffort: 'low',
    });
    expect(
      loadConfig(
        env({
          AZURE_OPENAI_FAST_DEPLOYMENT: 'planner',
          AZURE_OPENAI_FAST_KIND: 'reasoning',
          AZURE_OPENAI_STRONG_KIND: 'chat',
          AZURE_OPENAI_REASONING_EFFORT: 'medium',
        }),
      ).openai,
    ).toMatchObject({ fastKind: 'reasoning', strongKind: 'chat', reasoningEffort: 'medium' });
  });

  it('refuse an unknown kind, effort or API version, naming each setting', () => {
    let error: unknown;
    try {
      loadConfig(
        env({
          AZURE_OPENAI_FAST_KIND: 'thinking',
          AZURE_OPENAI_REASONING_EFFORT: 'extreme',
          AZURE_OPENAI_API_VERSION: 'latest',
        }),
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.key).sort()).toEqual([
      'AZURE_OPENAI_API_VERSION',
      'AZURE_OPENAI_FAST_KIND',
      'AZURE_OPENAI_REASONING_EFFORT',
    ]);
    expect((error as ConfigError).message).toMatch(/AZURE_OPENAI_FAST_KIND: expected reasoning .* or chat/);
  });

  it('accept v1 and dated API versions', () => {
    expect(loadConfig(env({ AZURE_OPENAI_API_VERSION: '2025-04-01-preview' })).openai.apiVersion).toBe(
      '2025-04-01-preview',
    );
  });
});
