import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { evaluateExpression } from '../../src/agents/calculator';
import { toolDefinitions } from '../../src/agents/tools';
import { evaluate, findExpression, findExpressions } from '../src/openai/arithmetic';
import { emulatorsForThisFile } from './support';

/**
 * What the emulated model does with the product's own tool definitions, through the real AzureOpenAI
 * client: whole expressions as tool arguments, tools chosen by what they do, honest prose, and a
 * streamed answer that is the same text as the non-streamed one.
 */

const emulated = emulatorsForThisFile();
const tools = toolDefinitions() as ChatCompletionTool[];

describe('arithmetic found in prose, in the calculator tool syntax', () => {
  it.each([
    ['What is 15% of 240?', 36],
    ['What is 2^10 + sqrt(144)?', 1036],
    ['Compute 1500 * 0.07, please.', 105],
    ['What is 2 + 3 * 4?', 14],
    ['What is (2 + 3) * 4?', 20],
    ['What is -2^2?', -4],
    ['What is 2^3^2?', 512],
    ['What is the square root of 81 plus 7 times 3?', 30],
    ['What is 10 divided by 4?', 2.5],
    ['What is 1,500 x 12?', 18000],
    ['What is 3 to the power of 4 minus 1?', 80],
    ['What is 12.5% of 80?', 10],
  ])('%s = %d, and the product calculator agrees on the same expression', (prose, value) => {
    const expression = findExpression(prose);
    expect(expression).not.toBeNull();
    expect(evaluate(expression ?? '')).toBeCloseTo(value, 10);
    expect(evaluateExpression(expression ?? '')).toBeCloseTo(value, 10);
  });

  it('finds arithmetic that has no value, so that the answer can say why', () => {
    expect(findExpressions('What is 100 / 0?')).toEqual(['100 / 0']);
    expect(evaluate('100 / 0')).toBeNull();
  });

  it.each([
    'The migration takes 2-3 weeks.',
    'It happened on 2026-12-01 at 22:33.',
    'See https://example.org/a/1/2 for details.',
    'Step 1 - install the tools.',
    'Tax is 7%.',
  ])('finds no arithmetic in %j', (prose) => {
    expect(findExpressions(prose)).toEqual([]);
  });
});

async function firstTurn(content: string) {
  const completion = await emulated.openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content }],
    tools,
  });
  return completion.choices[0]?.message;
}

describe('tool choice by what the tools do', () => {
  it('passes the whole expression, percentages rewritten, to the calculator', async () => {
    const message = await firstTurn('What is 15% of 240, and what is 2^10 + sqrt(144)?');
    const calls = (message?.tool_calls ?? []).map((c) => (c.type === 'function' ? c.function : undefined));
    expect(calls.map((c) => c?.name)).toEqual(['calculator', 'calculator']);
    expect(calls.map((c) => JSON.parse(c?.arguments ?? '{}') as unknown)).toEqual([
      { expression: '15 / 100 * 240' },
      { expression: '2^10 + sqrt(144)' },
    ]);
  });

  it('asks the clock for the zone of the city named', async () => {
    const message = await firstTurn('What time is it in Tokyo right now?');
    const call = message?.tool_calls?.[0];
    expect(call?.type === 'function' ? call.function.name : undefined).toBe('current_time');
    expect(JSON.parse(call?.type === 'function' ? call.function.arguments : '{}')).toEqual({
      timezone: 'Asia/Tokyo',
    });
  });

  it.each([
    'How do durable timers work in Durable Functions?',
    'What is the time complexity of quicksort?',
    'Explain why timeouts matter in distributed systems.',
    'What is the capital of France?',
  ])('calls no tool for %j', async (prompt) => {
    const message = await firstTurn(prompt);
    expect(message?.tool_calls ?? []).toEqual([]);
    expect(message?.content).toContain('The offline emulator has no world knowledge');
  });

  it('does not take a tool for a calculator when nothing says it computes', async () => {
    const weather: ChatCompletionTool = {
      type: 'function',
      function: {
        name: 'sum_up_weather',
        description: 'Summarises the weather forecast for a city.',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    };
    const completion = await emulated.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'What is 6 * 7?' }],
      tools: [weather],
    });
    expect(completion.choices[0]?.message.tool_calls ?? []).toEqual([]);
    expect(completion.choices[0]?.message.content).toContain('6 * 7 = 42');
  });
});

describe('streaming', () => {
  const prompts: ChatCompletionMessageParam[][] = [
    [{ role: 'user', content: 'What is the capital of France, and why is it important?' }],
    [{ role: 'user', content: 'What is 15% of 240?' }],
    [
      {
        role: 'user',
        content:
          'Request: What is 12 * 7 + 5?\n\nDraft:\n12 * 7 + 5 = 89.\n\nSources:\nnone\n\nReviewer comment: Add a one-line summary.',
      },
    ],
  ];
  it.each(prompts.map((messages) => [messages[0]?.content, messages]))(
    'streams the same text as the plain answer for %j',
    async (_name, messages) => {
      const plain = await emulated.openai.chat.completions.create({ model: 'gpt-4o', messages });
      const stream = await emulated.openai.chat.completions.create({
        model: 'gpt-4o',
        messages,
        stream: true,
      });
      let streamed = '';
      for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
      expect(streamed).toBe(plain.choices[0]?.message.content);
      expect(streamed.length).toBeGreaterThan(0);
    },
  );
});
