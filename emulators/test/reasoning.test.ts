import { APIError, OpenAI } from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { startEmulators, type Emulators } from '../src';
import { emulatorsForThisFile } from './support';

// Reasoning deployments (the o-series and the GPT-5 family) as Azure OpenAI serves them: the classic
// max_tokens and a temperature other than 1 are refused with Azure's error, max_completion_tokens covers
// the reasoning and the answer, and usage says how much of the completion was reasoning.

const emulated = emulatorsForThisFile();

const question: ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You answer briefly.' },
  { role: 'user', content: 'Explain in two sentences why 12 * 7 + 5 is 89.' },
];

/** The error a call fails with, or a failure of the test when it succeeds. */
async function refusal(call: Promise<unknown>): Promise<APIError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof APIError) return error;
    throw error;
  }
  throw new Error('expected the call to be refused');
}

describe('a reasoning deployment, through the real openai client', () => {
  it("refuses max_tokens with Azure's unsupported_parameter error", async () => {
    const error = await refusal(
      emulated.openai.chat.completions.create({ model: 'gpt-5.4-mini', messages: question, max_tokens: 50 }),
    );

    expect(error.status).toBe(400);
    expect(error.error).toEqual({
      code: 'unsupported_parameter',
      message:
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
      type: 'invalid_request_error',
      param: 'max_tokens',
    });
  });

  it("refuses a temperature other than the default with Azure's unsupported_value error, and takes 1", async () => {
    const error = await refusal(
      emulated.openai.chat.completions.create({ model: 'gpt-5.4', messages: question, temperature: 0.2 }),
    );
    const atZero = await refusal(
      emulated.openai.chat.completions.create({ model: 'gpt-5.4', messages: question, temperature: 0 }),
    );
    const atDefault = await emulated.openai.chat.completions.create({
      model: 'gpt-5.4',
      messages: question,
      temperature: 1,
    });

    expect(error.status).toBe(400);
    expect(error.error).toEqual({
      code: 'unsupported_value',
      message:
        "Unsupported value: 'temperature' does not support 0.2 with this model. Only the default (1) value is supported.",
      type: 'invalid_request_error',
      param: 'temperature',
    });
    expect((atZero.error as { message: string }).message).toContain('does not support 0 with this model');
    expect(atDefault.choices[0]?.finish_reason).toBe('stop');
  });

  it('counts its reasoning in completion_tokens and reports it, the same for the same request', async () => {
    const ask = () =>
      emulated.openai.chat.completions.create({
        model: 'gpt-5.4-mini',
        messages: question,
        max_completion_tokens: 400,
      });
    const first = await ask();
    const second = await ask();
    const usage = first.usage!;
    const reasoning = usage.completion_tokens_details?.reasoning_tokens ?? 0;

    expect(first.model).toBe('gpt-5.4-mini-2026-03-17');
    expect(reasoning).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeGreaterThan(reasoning);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(second.usage).toEqual(usage);
  });

  it('answers nothing, cut for length, when its reasoning takes the whole max_completion_tokens', async () => {
    const out = await emulated.openai.chat.completions.create({
      model: 'gpt-5.4-mini',
      messages: question,
      max_completion_tokens: 5,
    });

    expect(out.choices[0]?.finish_reason).toBe('length');
    expect(out.choices[0]?.message.content).toBe('');
    expect(out.usage?.completion_tokens).toBe(5);
    expect(out.usage?.completion_tokens_details?.reasoning_tokens).toBe(5);
  });

  it('cuts the answer at max_completion_tokens less the reasoning', async () => {
    const whole = await emulated.openai.chat.completions.create({
      model: 'gpt-5.4-mini',
      messages: question,
    });
    const reasoning = whole.usage?.completion_tokens_details?.reasoning_tokens ?? 0;
    const limit = reasoning + 4;
    const cut = await emulated.openai.chat.completions.create({
      model: 'gpt-5.4-mini',
      messages: question,
      max_completion_tokens: limit,
    });

    expect(cut.choices[0]?.finish_reason).toBe('length');
    expect(cut.usage?.completion_tokens).toBe(limit);
    expect(whole.choices[0]?.message.content?.startsWith(cut.choices[0]?.message.content ?? '')).toBe(true);
  });

  it('thinks more with a higher reasoning_effort, not at all with none, and refuses an unknown effort', async () => {
    const reasoningAt = async (effort: 'none' | 'low' | 'medium' | 'high') =>
      (
        await emulated.openai.chat.completions.create({
          model: 'gpt-5.4',
          messages: question,
          reasoning_effort: effort,
        })
      ).usage?.completion_tokens_details?.reasoning_tokens;
    const [none, low, medium, high] = await Promise.all(
      (['none', 'low', 'medium', 'high'] as const).map(reasoningAt),
    );

    expect(none).toBe(0);
    expect(low).toBeLessThan(medium ?? 0);
    expect(medium).toBeLessThan(high ?? 0);
    const unknown = await refusal(
      emulated.openai.chat.completions.create({
        model: 'gpt-5.4',
        messages: question,
        reasoning_effort: 'extreme' as 'high',
      }),
    );
    expect(unknown.status).toBe(400);
    expect(unknown.error).toMatchObject({ param: 'reasoning_effort' });
  });

  it('reports the same usage, reasoning included, in the last chunk of a stream', async () => {
    const plain = await emulated.openai.chat.completions.create({
      model: 'gpt-5.4',
      messages: question,
      max_completion_tokens: 300,
    });
    const stream = await emulated.openai.chat.completions.create({
      model: 'gpt-5.4',
      messages: question,
      max_completion_tokens: 300,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }

    expect(text).toBe(plain.choices[0]?.message.content);
    expect(usage).toEqual(plain.usage);
  });
});

describe('a chat deployment keeps the classic request shape', () => {
  it('takes max_tokens and any temperature, and reasons not at all', async () => {
    const out = await emulated.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: question,
      max_tokens: 5,
      temperature: 0.2,
    });

    expect(out.choices[0]?.finish_reason).toBe('length');
    expect(out.usage?.completion_tokens).toBe(5);
    expect(out.usage?.completion_tokens_details?.reasoning_tokens).toBe(0);
  });
});

describe('deployments as configured', () => {
  let server: Emulators;
  beforeAll(async () => {
    server = await startEmulators({
      port: 0,
      deployments: [
        { name: 'planner', kind: 'reasoning', model: 'gpt-5.4-mini' },
        { name: 'writer', kind: 'chat' },
      ],
    });
  });
  afterAll(() => server?.stop());

  it('give a deployment named for no model the kind it was given, on the v1 API too', async () => {
    // The v1 API: the plain OpenAI client on /openai/v1/, the deployment in the body, the key as api-key.
    const v1 = new OpenAI({
      baseURL: `${server.openaiEndpoint}/openai/v1/`,
      apiKey: server.apiKey,
      defaultHeaders: { 'api-key': server.apiKey, Authorization: null },
      maxRetries: 0,
    });
    const health = await (await fetch(`${server.url}/_emulator/health`)).json();

    expect(health).toMatchObject({ kinds: { planner: 'reasoning', writer: 'chat' } });
    const error = await refusal(
      v1.chat.completions.create({ model: 'planner', messages: question, max_tokens: 20 }),
    );
    expect(error.error).toMatchObject({ code: 'unsupported_parameter', param: 'max_tokens' });
    const planned = await v1.chat.completions.create({
      model: 'planner',
      messages: question,
      max_completion_tokens: 200,
    });
    expect(planned.model).toBe('gpt-5.4-mini-2026-03-17');
    expect(planned.usage?.completion_tokens_details?.reasoning_tokens).toBeGreaterThan(0);
    const written = await v1.chat.completions.create({
      model: 'writer',
      messages: question,
      max_tokens: 20,
      temperature: 0,
    });
    expect(written.choices[0]?.message.content).not.toBe('');
  });
});
