import { call, pollUntil, startProduct, type Product } from '../support/product';

/**
 * What a newcomer sees from `npm start` before giving Azure settings: the whole product (planner,
 * subtasks, synthesis, approval rounds) answering with the offline emulators. Each prompt states
 * properties its answer must have and must not have; no answer is compared as a whole text.
 */

interface RunView {
  status: string;
  answer?: string | null;
  message?: string;
  citations?: { url: string; title: string }[];
  subtasks?: { kind: string; title: string; ok?: boolean }[];
  approval?: { round: number; draft: string };
}

type Pattern = string | RegExp;

interface Case {
  name: string;
  prompt: string;
  body?: Record<string, unknown>;
  /** Rejects the first draft with this comment; the properties are then about the revised draft. */
  comment?: string;
  has: Pattern[];
  hasNot?: Pattern[];
  /** Subtask kinds the plan must include, in any order. */
  kinds?: string[];
  citationsMatch?: RegExp;
}

const honest = 'The offline emulator has no world knowledge';
const longContext = [
  'Our team runs an order-processing system for a mid-size retailer with about 40,000 orders a day.',
  'Orders arrive through a REST API, are validated, stored in SQL, and a nightly batch job reconciles payments and inventory.',
  'The batch job often takes more than four hours and blocks the morning reports, and it fails about twice a month.',
  'Operations would like fewer pages at night and finance wants reconciled numbers by 7 in the morning.',
]
  .join(' ')
  .repeat(9);
const designs =
  'Design A keeps the batch job but splits it into shards. Design B moves to an event-driven pipeline with a queue per step. ' +
  'Design C runs one Durable Functions orchestration per order.';

const cases: Case[] = [
  {
    name: 'capital of France, fast model',
    prompt: 'What is the capital of France, and why is it important?',
    has: ['What is the capital of France, and why is it important?', honest],
    hasNot: [/:\s*$/m],
  },
  {
    name: 'capital of France, strong model',
    prompt: 'What is the capital of France, and why is it important?',
    body: { model: 'strong' },
    has: ['capital of France', honest],
  },
  { name: 'percentage', prompt: 'What is 15% of 240?', has: [/= 36\b/], hasNot: [honest] },
  { name: 'powers and roots', prompt: 'What is 2^10 + sqrt(144)?', has: ['2^10 + sqrt(144)', /= 1036\b/] },
  {
    name: 'decimals are never cut',
    prompt: 'Compute 1500 * 0.07.',
    has: ['1500 * 0.07 = 105'],
    hasNot: [/(^|\s)07 = /],
  },
  { name: 'precedence', prompt: 'What is 2 + 3 * 4?', has: [/= 14\b/], hasNot: [/= 20\b/] },
  { name: 'parentheses', prompt: 'What is (2 + 3) * 4?', has: [/= 20\b/] },
  { name: 'words for operators', prompt: 'What is the square root of 81 plus 7 times 3?', has: [/= 30\b/] },
  { name: 'division with decimals', prompt: 'What is 7.5 / 2.5 - 0.25?', has: [/= 2\.75\b/] },
  { name: 'percent of a decimal', prompt: 'What is 12.5% of 80?', has: [/= 10\b/] },
  {
    name: 'arithmetic without tools',
    prompt: 'What is 2^10 + sqrt(144)?',
    body: { tools: [] },
    has: [/= 1036\b/],
  },
  {
    name: 'time in a named city',
    prompt: 'What time is it in Tokyo right now?',
    has: ['current_time', 'Asia/Tokyo', /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z/],
    hasNot: [/(^|\s)\d{3}Z/, honest],
  },
  { name: "today's date", prompt: "What is today's date?", has: ['current_time', /\b20\d\d\b/] },
  {
    name: 'time without a time tool',
    prompt: 'What time is it?',
    body: { tools: ['calculator'] },
    has: ['no time tool'],
    hasNot: [/\d{2}:\d{2}:\d{2}/],
  },
  {
    name: 'a conceptual question about timers is not a time request',
    prompt: 'How do durable timers work in Durable Functions?',
    has: ['durable timers', honest],
    hasNot: ['current_time', /\(UTC\)/],
  },
  {
    name: 'time complexity is not a time request',
    prompt: 'What is the time complexity of quicksort?',
    has: ['quicksort', honest],
    hasNot: ['current_time'],
  },
  {
    name: 'walk-through: arithmetic then research',
    prompt: 'What is 12 * 7 + 5? Then research the latest news on Azure Durable Functions.',
    kinds: ['tool', 'research'],
    has: ['12 * 7 + 5 = 89', 'Durable Functions', /\[1\]/],
    hasNot: ['Then research', 'describes Then', /news on Azure Durable Functions:/],
    citationsMatch: /durable/i,
  },
  {
    name: 'research on a non-Azure subject',
    prompt: 'Research recent discoveries by the James Webb Space Telescope.',
    kinds: ['research'],
    has: ['James Webb Space Telescope', /\[1\]/],
    hasNot: ['Microsoft recommends', 'learn.microsoft.com'],
    citationsMatch: /james-webb/i,
  },
  {
    name: 'long context, then the request',
    prompt: `${longContext}\n\n${designs}\n\nCompare the three designs and recommend one.`,
    has: ['Compare the three designs and recommend one', honest],
    hasNot: ['Design A keeps the batch job', 'Our team runs'],
  },
  {
    name: 'long context with a calculation inside the request',
    prompt: `${longContext}\n\nWe budget 1500 dollars and the tax is 7%. Compute 1500 * 0.07 and recommend a design.`,
    has: ['1500 * 0.07 = 105', 'ecommend a design'],
    hasNot: [/(^|\s)07 = /],
  },
  {
    name: 'two questions in two sentences',
    prompt: 'What is 6 * 7? Why do people say it is the answer to everything?',
    has: [/6 \* 7 = 42/, 'Why do people say it is the answer to everything?', honest],
  },
  {
    name: 'a date question and a question it cannot answer',
    prompt: "What's today's date, and how many days until Christmas?",
    has: ['current_time', 'How many days until Christmas?', honest],
  },
  {
    name: 'plain explanation',
    prompt: 'Explain the difference between TCP and UDP.',
    has: ['TCP and UDP', honest],
  },
  {
    name: 'division by zero says why there is no value',
    prompt: 'What is 100 / 0?',
    has: ['100 / 0', 'division by zero'],
    hasNot: [honest, 'Infinity'],
  },
  {
    name: 'a day question in another city',
    prompt: 'What day is it today in New York?',
    has: ['current_time', 'America/New_York'],
  },
  { name: 'greeting', prompt: 'Hello!', has: ['Hello'], hasNot: [honest] },
  {
    name: 'several calculations in one sentence',
    prompt: 'Compute 12*7, 15% of 240, and 2^10.',
    kinds: ['tool', 'tool', 'tool'],
    has: ['12*7 = 84', '15% of 240 = 36', '2^10 = 1024'],
  },
  {
    name: 'a bill combined the way the words say',
    prompt: '$18.50 pizza, 20% off, 8.25% tax, split 3 ways',
    has: ['$5.34 each', '20% off → $14.80', 'plus 8.25% tax → $16.02'],
    hasNot: [honest, 'You asked'],
  },
  { name: 'a percentage plus a power', prompt: 'What is 15% of 240, plus 3^4?', has: [': 117.'] },
  {
    name: 'a precision request',
    prompt: 'What is 22/7 to 4 decimal places?',
    has: ['22/7 = 3.1429'],
    hasNot: ['3.142857'],
  },
  {
    name: 'a long prompt with the main request at the end',
    prompt: `${longContext}\n\nMain request: compare three designs for human approval (a durable external event, a polling loop, and a queue), and recommend one. Also compute 1500 * 0.07.`,
    kinds: ['answer', 'tool'],
    has: ['1500 * 0.07 = 105', '"Compare three designs for human approval', honest],
    hasNot: ['Our team runs', 'batch job'],
  },
  {
    name: 'a research topic joined to another ask',
    prompt: 'Research the latest news on serverless platforms and compare them with containers.',
    kinds: ['research', 'answer'],
    has: ['overview of serverless platforms:', '"Compare them with containers."'],
    hasNot: [/platforms and\b/],
    citationsMatch: /serverless-platforms|Serverless platforms/,
  },
  {
    name: 'a range is not a subtraction',
    prompt: 'A migration takes 2-3 weeks. Which week should we start?',
    has: ['Which week should we start?'],
    hasNot: [/= -1\b/],
  },
  {
    name: 'research requested in the body',
    prompt: 'Summarize what Azure Blob Storage is for.',
    body: { research: true },
    kinds: ['research'],
    has: ['Blob', /\[1\]/],
    citationsMatch: /blob/i,
  },
  {
    name: 'revision: add a one-line summary',
    prompt: 'What is 12 * 7 + 5?',
    comment: 'Add a one-line summary.',
    has: [/^Summary: .*89/m, '12 * 7 + 5 = 89'],
    hasNot: ['Revised as the reviewer asked', 'could not carry out'],
  },
  {
    name: 'revision: shorten',
    prompt: 'What is 12 * 7 + 5? Then research the latest news on Azure Durable Functions.',
    comment: 'Shorten it.',
    has: ['12 * 7 + 5 = 89'],
    hasNot: ['Revised as the reviewer asked', 'could not carry out'],
  },
  {
    name: 'revision: shorten a one-paragraph answer',
    prompt: 'Explain the difference between TCP and UDP.',
    comment: 'Make it shorter.',
    has: ['TCP and UDP'],
    hasNot: ['could not carry out', 'with Azure OpenAI settings'],
  },
  {
    name: 'revision: remove a part',
    prompt: 'What is 12 * 7 + 5? Then research the latest news on Azure Durable Functions.',
    comment: 'Remove the part about the research.',
    has: ['12 * 7 + 5 = 89'],
    hasNot: ['emulated web research', 'The official documentation', /\[\d\]/, 'could not carry out'],
  },
  {
    name: 'revision: shorter drops whole sentences',
    prompt: 'Research recent discoveries by the James Webb Space Telescope. What is 2^5?',
    comment: 'Shorter.',
    has: ['2^5 = 32', 'overview of discoveries by the James Webb Space Telescope'],
    hasNot: ['Recent coverage', 'could not carry out'],
  },
  {
    name: 'revision: add a point stated by the reviewer',
    prompt: 'What is 10 * 10?',
    comment: 'Please also mention it is a square.',
    has: ['10 * 10 = 100', /^- It is a square\.$/m],
    hasNot: ['could not carry out'],
  },
  {
    name: 'revision: add a point about a topic',
    prompt: 'What is the capital of France, and why is it important?',
    comment: 'Add a point about tourism.',
    has: [/^- Tourism: /m, honest],
    hasNot: ['could not carry out'],
  },
  {
    name: 'revision: an instruction it cannot carry out',
    prompt: 'What is the capital of France, and why is it important?',
    comment: 'Make it more formal.',
    has: ['could not carry out', 'Make it more formal'],
    hasNot: ['Revised as the reviewer asked'],
  },
  {
    name: 'revision: one part done, one not',
    prompt: 'What is 12 * 7 + 5?',
    comment: 'Add a one-line summary and translate it into French.',
    has: [/^Summary: /m, 'could not carry out', 'translate it into French'],
  },
];

/** What no answer may contain, whatever it was asked. */
const neverInAnyAnswer: Pattern[] = [
  /^\s*[-*]\s*$/m, // an empty bullet
  /^\s*[-*] [^\n]*:\s*$/m, // a bullet that ends in a dangling colon
  /(^|\s)\d{3}Z\b/, // a timestamp cut at its decimal point
  'Revised as the reviewer asked',
  /\w\[\d+\]|\]\s*\[|[.?!]\s*\[\d+\]/, // a citation marker glued to a word, in a run, or after the sentence it cites
  'undefined',
  '[object Object]',
  'NaN',
];

let product: Product;
const results = new Map<string, { view: RunView; text: string; firstDraft?: string }>();

async function runCase(c: Case): Promise<void> {
  const body = { prompt: c.prompt, ...c.body, ...(c.comment ? { approval: { required: true } } : {}) };
  const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, { body });
  if (started.status !== 202) throw new Error(`${c.name}: start answered ${started.status}`);
  const url = `${product.baseUrl}/api/agent-runs/${started.body.runId}`;
  const settled = (v: RunView) => ['completed', 'failed', 'awaiting-approval'].includes(v.status);
  let view = (
    await pollUntil(
      () => call<RunView>(url),
      (r) => settled(r.body),
    )
  ).body;
  if (!c.comment) {
    results.set(c.name, { view, text: view.answer ?? view.message ?? '' });
    return;
  }
  const firstDraft = view.approval?.draft ?? '';
  await call(`${url}/approval`, { body: { decision: 'reject', round: 0, comment: c.comment } });
  view = (
    await pollUntil(
      () => call<RunView>(url),
      (r) => r.body.approval?.round === 1 || r.body.status === 'failed',
    )
  ).body;
  results.set(c.name, { view, text: view.approval?.draft ?? view.message ?? '', firstDraft });
}

beforeAll(async () => {
  // Every run reserves its token budget up front; the table's runs all fit in one owner's month.
  product = await startProduct({ env: { QUOTA_DEFAULT_MONTHLY_TOKENS: '100000000' } });
  // All at once, as several newcomers would: the product runs them in parallel.
  await Promise.all(cases.map(runCase));
});

afterAll(async () => {
  await product?.stop();
});

const matches = (text: string, pattern: Pattern) =>
  typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);

test('the table has at least 30 prompts', () => {
  expect(cases.length).toBeGreaterThanOrEqual(30);
});

describe.each(cases)('$name', (c) => {
  const result = () => {
    const found = results.get(c.name);
    if (!found) throw new Error(`no result for ${c.name}`);
    return found;
  };

  it('finishes with an answer that has what it must have', () => {
    const { view, text } = result();
    expect(view.status).toBe(c.comment ? 'awaiting-approval' : 'completed');
    const missing = c.has.filter((p) => !matches(text, p)).map(String);
    expect({ missing, text }).toEqual({ missing: [], text });
  });

  it('has nothing it must not have', () => {
    const { text } = result();
    const present = [...(c.hasNot ?? []), ...neverInAnyAnswer].filter((p) => matches(text, p)).map(String);
    expect({ present, text }).toEqual({ present: [], text });
  });

  if (c.kinds) {
    it('plans a subtask of each kind the request needs', () => {
      const kinds = (result().view.subtasks ?? []).map((s) => s.kind);
      expect(kinds).toEqual(expect.arrayContaining(c.kinds ?? []));
    });
  }
  if (c.citationsMatch) {
    it('cites sources about the subject asked', () => {
      const citations = result().view.citations ?? [];
      expect(citations.length).toBeGreaterThan(0);
      for (const citation of citations)
        expect(`${citation.url} ${citation.title}`).toMatch(c.citationsMatch!);
    });
  }
  if (c.comment) {
    it('changes the draft as the comment asked', () => {
      const { text, firstDraft } = result();
      expect(text).not.toBe(firstDraft);
    });
  }
});

test('the same prompt gets the same answer and the same sources', async () => {
  const first = results.get('walk-through: arithmetic then research');
  const again = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
    body: { prompt: 'What is 12 * 7 + 5? Then research the latest news on Azure Durable Functions.' },
  });
  const view = (
    await pollUntil(
      () => call<RunView>(`${product.baseUrl}/api/agent-runs/${again.body.runId}`),
      (r) => r.body.status === 'completed',
    )
  ).body;
  expect(view.answer).toBe(first?.view.answer);
  expect(view.citations).toEqual(first?.view.citations);
});
