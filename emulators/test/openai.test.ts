import Ajv2020 from 'ajv/dist/2020';
import { AzureOpenAI } from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { z } from 'zod';
import { startEmulators, type Emulators } from '../src';

/** expect.stringContaining, typed for toMatchObject. */
const containing = (text: string): string => expect.stringContaining(text) as string;

let emulators: Emulators;
let client: AzureOpenAI;

beforeAll(async () => {
  emulators = await startEmulators({ port: 0 });
  client = new AzureOpenAI({
    endpoint: emulators.openaiEndpoint,
    apiKey: emulators.apiKey,
    apiVersion: '2024-10-21',
  });
});

afterAll(async () => {
  await emulators.stop();
});

const calculator: ChatCompletionTool = {
  type: 'function',
  function: {
    name: 'calculator',
    description: 'Evaluates an arithmetic expression.',
    parameters: {
      type: 'object',
      properties: { expression: { type: 'string', description: 'For example 2 * (3 + 4)' } },
      required: ['expression'],
      additionalProperties: false,
    },
  },
};

describe('Azure OpenAI chat completions through the real AzureOpenAI client', () => {
  it('calls the calculator with the expression from the prompt, then answers with the tool result', async () => {
    const messages: ChatCompletionMessageParam[] = [
      { role: 'system', content: 'Use tools for arithmetic.' },
      { role: 'user', content: 'What is 12 * 7 + 5? Use the calculator.' },
    ];
    const first = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      tools: [calculator],
    });

    const choice = first.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('expected a function tool call');
    expect(call.function.name).toBe('calculator');
    const args = JSON.parse(call.function.arguments) as unknown;
    expect(new Ajv2020().validate(calculator.function.parameters ?? {}, args)).toBe(true);
    expect(args).toEqual({ expression: '12 * 7 + 5' });
    expect(first.usage?.prompt_tokens).toBeGreaterThan(20);

    messages.push(choice!.message, { role: 'tool', tool_call_id: call.id, content: '89' });
    const second = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      tools: [calculator],
    });
    expect(second.choices[0]?.finish_reason).toBe('stop');
    expect(second.choices[0]?.message.content).toContain('89');
    expect(second.choices[0]?.message.tool_calls).toBeUndefined();
  });

  it('answers a plain question without calling a tool that does not fit', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Say hello.' }],
      tools: [calculator],
    });
    expect(completion.choices[0]?.message.tool_calls).toBeUndefined();
    expect(completion.choices[0]?.message.content).toMatch(/hello/i);
    expect(completion.model).toBe('gpt-4o-2024-11-20');
  });

  it('carries facts and numbers from the material it was given into the answer', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Write one answer from the findings.' },
        {
          role: 'user',
          content:
            'Request: What is 2 + 2, and what is new in Durable Functions?\n\nFindings:\n[s1] Work out 2 + 2:\n2 + 2 = 4.\n\n' +
            '[s2] Research Durable Functions:\nDurable Functions added the Durable Task Scheduler in 2025.\n  Sources:\n' +
            '  [1] Overview https://learn.microsoft.com/en-us/azure/azure-functions/durable/durable-functions-overview',
        },
      ],
    });
    const text = completion.choices[0]?.message.content ?? '';
    expect(text).toContain('4');
    expect(text).toContain('Durable Task Scheduler');
    expect(text).toContain('[1]');
  });

  it('gives the same answer to the same request', async () => {
    const ask = () =>
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Explain durable timers.' }],
      });
    const [a, b] = await Promise.all([ask(), ask()]);
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);
    expect(a.id).toBe(b.id);
  });

  it('counts tokens with the real tokenizer, not characters divided by four', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hello hello hello hello hello hello hello hello' }],
    });
    // 8 words are 8 o200k tokens; plus 3 per message, 1 for the role and 3 to prime the reply.
    expect(completion.usage?.prompt_tokens).toBe(15);
    expect(completion.usage?.total_tokens).toBe(
      (completion.usage?.prompt_tokens ?? 0) + (completion.usage?.completion_tokens ?? 0),
    );
  });

  it('cuts the answer at max_tokens and says so with finish_reason length', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Explain durable orchestrations in detail.' }],
      max_tokens: 5,
    });
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect(completion.usage?.completion_tokens).toBe(5);
  });
});

describe('structured outputs', () => {
  const planSchema = z.strictObject({
    subtasks: z
      .array(
        z.strictObject({
          kind: z.enum(['answer', 'research', 'tool']),
          title: z.string().min(1).max(200),
          instructions: z.string().min(1).max(4000),
          toolName: z.enum(['none', 'calculator', 'current_time']),
          toolArguments: z.string().max(2000),
        }),
      )
      .min(1)
      .max(8),
  });

  async function plan(prompt: string) {
    const schema = z.toJSONSchema(planSchema) as Record<string, unknown>;
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Split the request into subtasks.' },
        {
          role: 'user',
          content: `Request: ${prompt}\n\nTools available: calculator, current_time. Research available: yes.`,
        },
      ],
      response_format: { type: 'json_schema', json_schema: { name: 'plan', schema, strict: true } },
    });
    const json = JSON.parse(completion.choices[0]?.message.content ?? '') as unknown;
    expect(new Ajv2020({ strict: false }).validate(schema, json)).toBe(true);
    return planSchema.parse(json);
  }

  it('plans arithmetic as a calculator tool call with the expression as arguments', async () => {
    const { subtasks } = await plan('What is 12 * 7 + 5? Use the calculator.');
    expect(subtasks).toEqual([
      expect.objectContaining({
        kind: 'tool',
        toolName: 'calculator',
        toolArguments: '{"expression":"12 * 7 + 5"}',
      }),
    ]);
  });

  it('plans research for a request about the latest news, and one subtask per part of the request', async () => {
    const { subtasks } = await plan('Research the latest Azure news and compute 6 * 7.');
    expect(subtasks.map((s) => s.kind)).toEqual(['research', 'tool']);
    expect(subtasks[0]?.toolName).toBe('none');
  });

  it('plans a plain answer otherwise', async () => {
    const { subtasks } = await plan('Write a haiku about autumn.');
    expect(subtasks).toEqual([
      expect.objectContaining({
        kind: 'answer',
        toolName: 'none',
        instructions: 'Write a haiku about autumn.',
      }),
    ]);
  });

  it('refuses a strict schema that allows additional properties, as the service does', async () => {
    await expect(
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
        response_format: {
          type: 'json_schema',
          json_schema: {
            name: 'loose',
            strict: true,
            schema: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] },
          },
        },
      }),
    ).rejects.toMatchObject({
      status: 400,
      message: containing("'additionalProperties' is required"),
    });
  });
});

describe('streaming', () => {
  it('streams the same answer in chunks, with usage in the last chunk when asked', async () => {
    const messages: ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is 6 * 7?' }];
    const whole = await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let usage: unknown = null;
    let finish: string | null = null;
    for await (const chunk of stream) {
      chunks += 1;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toBe(whole.choices[0]?.message.content);
    expect(text).toContain('42');
    expect(finish).toBe('stop');
    expect(usage).toEqual(whole.usage);
  });

  it('streams tool calls that the SDK helper reassembles', async () => {
    const stream = client.chat.completions.stream({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Compute 3 * (4 + 5).' }],
      tools: [calculator],
    });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({
      expression: '3 * (4 + 5)',
    });
  });
});

describe('streaming on the wire', () => {
  const url = () =>
    `${emulators.openaiEndpoint}/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21`;
  const post = (body: Record<string, unknown>) =>
    fetch(url(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': emulators.apiKey },
      body: JSON.stringify({
        messages: [{ role: 'user', content: 'What is 6 * 7? Explain briefly.' }],
        ...body,
      }),
    });
  const control = (path: string, body: Record<string, unknown>) =>
    fetch(`${emulators.url}/_emulator/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  /** The data lines of an SSE body, in order. */
  const dataLines = (text: string) =>
    text
      .split('\n\n')
      .filter((block) => block.trim() !== '')
      .map((block) => {
        expect(block.startsWith('data: ')).toBe(true);
        return block.slice('data: '.length);
      });

  afterEach(async () => {
    await control('reset', {});
  });

  it('sends data: chunks, the usage chunk only with include_usage, and [DONE] last', async () => {
    const withUsage = await post({ stream: true, stream_options: { include_usage: true } });
    expect(withUsage.headers.get('content-type')).toContain('text/event-stream');
    const lines = dataLines(await withUsage.text());
    expect(lines.at(-1)).toBe('[DONE]');
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(chunks[0]).toMatchObject({ choices: [], prompt_filter_results: [{ prompt_index: 0 }] });
    const usageChunk = chunks.at(-1) as { choices: unknown[]; usage: { total_tokens: number } };
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage.total_tokens).toBeGreaterThan(0);
    // Until the last chunk, every chunk says usage: null, as Azure does when usage was asked for.
    expect(chunks.slice(1, -1).every((c) => c.usage === null && c.object === 'chat.completion.chunk')).toBe(
      true,
    );
    const finish = chunks
      .slice(1, -1)
      .map((c) => (c.choices as { finish_reason: unknown }[])[0]?.finish_reason);
    expect(finish.at(-1)).toBe('stop');
    expect(finish.slice(0, -1).every((f) => f === null)).toBe(true);

    const without = dataLines(await (await post({ stream: true })).text());
    expect(without.at(-1)).toBe('[DONE]');
    expect(without.slice(0, -1).some((l) => 'usage' in (JSON.parse(l) as object))).toBe(false);
  });

  it('leaves a request without stream answering one JSON document', async () => {
    const plain = await post({});
    expect(plain.headers.get('content-type')).toBe('application/json');
    expect(((await plain.json()) as { object: string }).object).toBe('chat.completion');
  });

  it('with a chunk delay, the first chunk reaches the client while the rest is still being written', async () => {
    expect((await control('streaming', { chunkDelayMs: 150 })).status).toBe(200);
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'What is 6 * 7? Explain briefly.' }],
      stream: true,
    });
    let text = '';
    let writtenAtFirstChunk: number | undefined;
    for await (const chunk of stream) {
      const piece = chunk.choices[0]?.delta.content ?? '';
      if (piece !== '' && writtenAtFirstChunk === undefined) {
        const log = (await (await fetch(`${emulators.url}/_emulator/requests?service=openai`)).json()) as {
          requests: { chat?: { chunks?: unknown[] } }[];
        };
        writtenAtFirstChunk = log.requests.at(-1)?.chat?.chunks?.length;
      }
      text += piece;
    }
    const log = (await (await fetch(`${emulators.url}/_emulator/requests?service=openai`)).json()) as {
      requests: { chat?: { chunks?: { end: number }[] } }[];
    };
    const written = log.requests.at(-1)?.chat?.chunks ?? [];
    expect(written.length).toBeGreaterThan(2);
    expect(written.at(-1)?.end).toBe(text.length);
    expect(writtenAtFirstChunk).toBeLessThan(written.length);
    expect((await control('streaming', { chunkDelayMs: -1 })).status).toBe(400);
  });

  it('cuts a stream after the chunks a fault allows, and leaves requests without stream alone', async () => {
    const added = await control('faults', { cutStreamAfterChunks: 2, path: '/chat/completions' });
    expect(added.status).toBe(201);
    // Not a streamed request: the fault does not match it.
    expect((await post({})).status).toBe(200);
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'What is 6 * 7? Explain briefly.' }],
      stream: true,
    });
    let pieces = 0;
    await expect(
      (async () => {
        for await (const chunk of stream) if (chunk.choices[0]?.delta.content) pieces += 1;
      })(),
    ).rejects.toThrow();
    expect(pieces).toBe(2);
    expect((await control('faults', { cutStreamAfterChunks: 'x' })).status).toBe(400);
  });
});

describe('errors in the shape Azure answers', () => {
  it('answers 401 without an api-key or Authorization header', async () => {
    const response = await fetch(
      `${emulators.openaiEndpoint}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
      },
    );
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: {
        code: '401',
        message: containing('Access denied due to missing subscription key'),
      },
    });
  });

  it('answers 401 to a wrong key, through the SDK', async () => {
    const wrong = new AzureOpenAI({
      endpoint: emulators.openaiEndpoint,
      apiKey: 'not-the-key',
      apiVersion: '2024-10-21',
    });
    await expect(
      wrong.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    ).rejects.toMatchObject({
      status: 401,
      message: containing('invalid subscription key'),
    });
  });

  it('accepts a bearer token instead of a key', async () => {
    const entra = new AzureOpenAI({
      endpoint: emulators.openaiEndpoint,
      azureADTokenProvider: () => Promise.resolve('any-token'),
      apiVersion: '2024-10-21',
    });
    const completion = await entra.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(completion.choices[0]?.message.content).toBeTruthy();
  });

  it('answers 404 DeploymentNotFound for an unknown deployment', async () => {
    await expect(
      client.chat.completions.create({
        model: 'gpt-5-imaginary',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 404, code: 'DeploymentNotFound' });
  });

  it('answers 400 to a malformed body and to a tool message that answers no tool call', async () => {
    const post = (body: string) =>
      fetch(
        `${emulators.openaiEndpoint}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'api-key': emulators.apiKey },
          body,
        },
      );
    const notJson = await post('{"messages": [');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('BadRequest');

    await expect(
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'tool', tool_call_id: 'call_nowhere', content: '1' },
        ],
      }),
    ).rejects.toMatchObject({
      status: 400,
      message: containing("role 'tool' must be a response"),
    });
  });

  it('refuses a prompt with the content-filter marker with 400 content_filter', async () => {
    await expect(
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'please EMULATOR_CONTENT_FILTER' }],
      }),
    ).rejects.toMatchObject({ status: 400, code: 'content_filter' });
  });

  it('serves the /openai/v1 form with the deployment as the model', async () => {
    const response = await fetch(`${emulators.openaiEndpoint}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer token' },
      body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'What is 2 + 2?' }] }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { object: string; choices: { message: { content: string } }[] };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]?.message.content).toContain('4');
  });
});
