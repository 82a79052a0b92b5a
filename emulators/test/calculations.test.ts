import { evaluateExpression } from '../../src/agents/calculator';
import { evaluate, findExpressions } from '../src/openai/arithmetic';
import { intentsOf } from '../src/openai/intents';
import { answerPart, runOffline } from './productShapes';
import { emulatorsForThisFile } from './support';

/**
 * Arithmetic across the parts of a request, combined the way its words say, with the precision it asks
 * for. Each prompt runs as the product runs it (plan, the calculator tool or an answer subtask, the
 * synthesis) through the real AzureOpenAI client; the expression the emulator asks the calculator is
 * checked against the app's own calculator.
 */

const emulated = emulatorsForThisFile();

interface Case {
  prompt: string;
  /** The expression the calculator is asked, when the request is one calculation. */
  expression?: string;
  /** What the final answer must say. */
  has: (string | RegExp)[];
  hasNot?: (string | RegExp)[];
}

const cases: Case[] = [
  // The held-out prompts this model once answered badly.
  {
    prompt: '$18.50 pizza, 20% off, 8.25% tax, split 3 ways',
    expression: '18.50 * (1 - 20 / 100) * (1 + 8.25 / 100) / 3',
    has: ['$5.34 each', '20% off → $14.80', 'plus 8.25% tax → $16.02'],
    hasNot: ['You asked', 'no world knowledge'],
  },
  {
    prompt: 'What is 15% of 240, plus 3^4?',
    expression: '15 / 100 * 240 + 3^4',
    has: [': 117.', '15% of 240 = 36'],
  },
  {
    prompt: 'What is 22/7 to 4 decimal places?',
    expression: 'round(22/7, 4)',
    has: ['22/7 = 3.1429 (to 4 decimal places'],
    hasNot: ['3.142857'],
  },
  // Kinds of its own.
  {
    prompt: 'We are 4 friends. Dinner was $86.40 plus an 18% tip. How much does each of us pay?',
    expression: '86.40 * (1 + 18 / 100) / 4',
    has: ['How much does each of us pay? $25.49 each.'],
  },
  {
    prompt: 'A $120 jacket is 25% off and sales tax is 8%. What do I pay, rounded to cents?',
    expression: 'round(120 * (1 - 25 / 100) * (1 + 8 / 100), 2)',
    has: ['What do I pay? $97.20.', 'rounded to cents'],
  },
  {
    prompt: 'I earn $25 an hour and work 38 hours a week. What do I earn in a 4-week month?',
    expression: '25 * 38 * 4',
    has: ['$3,800.00', 'for 38 hours → $950.00', 'for 4 weeks'],
  },
  {
    prompt: 'Price is €2,400, VAT 21%, then a 5% discount. Total?',
    expression: '2400 * (1 + 21 / 100) * (1 - 5 / 100)',
    has: ['Total? €2,758.80.'],
    hasNot: ['"Total?"'],
  },
  {
    prompt: '3 coffees at $4.50 each, plus a 15% tip',
    expression: '3 * 4.50 * (1 + 15 / 100)',
    has: ['$15.53'],
  },
  {
    prompt: 'Compute (3 + 4) * 5, then divide by 7, then square it.',
    expression: '((3 + 4) * 5 / 7) ^ 2',
    has: [': 25.', 'divided by 7 → 5', 'squared → 25'],
  },
  { prompt: 'What is 12 plus 3, times 4?', expression: '(12 + 3) * 4', has: [': 60.'] },
  { prompt: 'What is 100 minus 15%?', expression: '100 * (1 - 15 / 100)', has: ['= 85'] },
  { prompt: 'Increase 80 by 15%.', expression: '80 * (1 + 15 / 100)', has: ['= 92'] },
  { prompt: 'What percent of 180 is 45?', expression: '45 / 180 * 100', has: ['= 25%'] },
  {
    prompt: 'What is the percentage change from 80 to 100?',
    expression: '(100 - 80) / 80 * 100',
    has: ['= 25%'],
  },
  {
    prompt: 'What is the average of 4, 8 and 15?',
    expression: '(4 + 8 + 15) / 3',
    has: ['The average of 4, 8 and 15 = 9'],
  },
  {
    prompt: 'What is 17% of 2,350 to the nearest whole number?',
    expression: 'round(17 / 100 * 2350)',
    has: ['= 400 (', 'to the nearest whole number'],
  },
  {
    prompt: 'What is 1234.5678 rounded to the nearest hundred?',
    expression: 'round(1234.5678 / 100) * 100',
    has: ['= 1200'],
  },
  {
    prompt: 'What is sqrt(2) to 3 significant figures?',
    expression: 'sqrt(2)',
    has: ['sqrt(2) = 1.41 (to 3 significant figures'],
  },
  { prompt: 'What is 7 / 3 rounded up?', expression: 'ceil(7 / 3)', has: ['7 / 3 = 3 (rounded up'] },
  // Several calculations: each gets its own line, and a precision said once applies to all.
  {
    prompt: 'Give all answers to 2 decimal places. What is 10 / 3? What is sqrt(2)?',
    has: ['10 / 3 = 3.33', 'sqrt(2) = 1.41'],
  },
  {
    prompt: 'Calculate the average of 4, 8 and 15, and the sum of 12, 15 and 20.',
    has: ['The average of 4, 8 and 15 = 9', 'The sum of 12, 15 and 20 = 47'],
  },
  // Numbers that are context, not arithmetic: what happened, and asks that do not compute.
  {
    prompt: 'Summarize the Q3 report: revenue grew 12% to $4.5M and costs fell 3%.',
    has: ['"Summarize the Q3 report: revenue grew 12% to $4.5M and costs fell 3%."'],
    hasNot: [/ = \d/, '→'],
  },
  {
    prompt: 'Summarize our budget: we spend $1,500 a month and the tax is 7%.',
    has: ['"Summarize our budget'],
    hasNot: [/ = \d/, '→'],
  },
  {
    prompt: 'In 2025 prices rose 10%. Design 2 needs 3 regions. What changed?',
    has: ['"What changed?"'],
    hasNot: [/ = \d/],
  },
];

const matches = (text: string, p: string | RegExp) =>
  typeof p === 'string' ? text.includes(p) : p.test(text);

describe.each(cases)('$prompt', (c) => {
  it('the run answers with what the words say', async () => {
    const run = await runOffline(emulated.openai, c.prompt);
    const missing = c.has.filter((p) => !matches(run.answer, p)).map(String);
    const present = (c.hasNot ?? []).filter((p) => matches(run.answer, p)).map(String);
    expect({ missing, present, answer: run.answer }).toEqual({
      missing: [],
      present: [],
      answer: run.answer,
    });
    if (c.expression !== undefined) {
      expect(run.subtasks).toEqual([
        expect.objectContaining({
          kind: 'tool',
          toolName: 'calculator',
          toolArguments: JSON.stringify({ expression: c.expression }),
        }),
      ]);
    }
  });

  if (c.expression !== undefined) {
    it('asks the app calculator an expression it evaluates to the value the emulator states', () => {
      const expression = c.expression ?? '';
      expect(evaluateExpression(expression)).toBeCloseTo(evaluate(expression) ?? NaN, 9);
    });
  }
});

describe('without a calculator tool, the answer subtask works the arithmetic out itself', () => {
  it('gives the same result and the steps', async () => {
    const { text, toolCalls } = await answerPart(
      emulated.openai,
      '$18.50 pizza, 20% off, 8.25% tax, split 3 ways',
      { title: 'The bill', instructions: '$18.50 pizza, 20% off, 8.25% tax, split 3 ways' },
      [],
    );
    expect(toolCalls).toEqual([]);
    expect(text).toContain('$5.34 each');
    expect(text).not.toContain('from the calculator tool');
  });
});

describe('reading a request for calculations', () => {
  it('a comma between calculations separates them; inside a function call it separates arguments', () => {
    expect(findExpressions('Compute 12*7, 15% of 240, and 2^10.')).toEqual([
      '12*7',
      '15 / 100 * 240',
      '2^10',
    ]);
    expect(findExpressions('What is round(22 / 7, 4)?')).toEqual(['round(22 / 7, 4)']);
    expect(evaluate('round(22 / 7, 4)')).toBe(3.1429);
    expect(evaluate('max(3, 9, 4) - min(2, 5)')).toBe(7);
  });

  it('a bare amount in context is not worked out unless something asks for it', () => {
    expect(
      intentsOf('A pizza costs $18.50 and we have a 20% coupon. Who invented pizza?', []).map((i) => i.kind),
    ).toEqual(['answer']);
    expect(
      intentsOf('A pizza costs $18.50 and we have a 20% coupon. What do we pay?', [])[0]?.expression,
    ).toBe('18.50 * (1 - 20 / 100)');
  });

  it('a request that only describes a bill is read as asking for it', () => {
    expect(intentsOf('Dinner for two was $64, plus a 15% tip.', [])[0]?.expression).toBe(
      '64 * (1 + 15 / 100)',
    );
  });
});
