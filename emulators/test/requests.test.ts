import { answerPart, plan, research, runOffline, synthesize } from './productShapes';
import { emulatorsForThisFile } from './support';

/**
 * The offline model reads the whole request, however long and wherever the question sits, and answers
 * every part of it: the planner gives one subtask per part, and the synthesis covers each. Each prompt
 * is driven through the real AzureOpenAI client in the shapes the product sends.
 */

const emulated = emulatorsForThisFile();
const honest = 'The offline emulator has no world knowledge';

const filler =
  'Our platform team is reviewing how agent runs should pause for people. ' +
  'We have read about approval flows in several products and want something that suits a small team with on-call rotations. '.repeat(
    6,
  );

describe('a request with several parts gets a part of the plan and of the answer each', () => {
  it('"Compute 12*7, 15% of 240, and 2^10." computes all three, not only the last', async () => {
    const run = await runOffline(emulated.openai, 'Compute 12*7, 15% of 240, and 2^10.');
    expect(run.subtasks.map((s) => [s.kind, s.toolArguments])).toEqual([
      ['tool', '{"expression":"12*7"}'],
      ['tool', '{"expression":"15 / 100 * 240"}'],
      ['tool', '{"expression":"2^10"}'],
    ]);
    expect(run.answer).toMatch(/12\*7 = 84\b/);
    expect(run.answer).toMatch(/15% of 240 = 36\b/);
    expect(run.answer).toMatch(/2\^10 = 1024\b/);
  });

  it('a long prompt that ends in "Main request: ... Also compute 1500 * 0.07." answers the request, not the filler', async () => {
    const prompt =
      `${filler}\n\nMain request: compare three designs for human approval of agent runs (a durable ` +
      'external event, a polling loop, and a queue with a status table), and recommend one. Also compute 1500 * 0.07.';
    const run = await runOffline(emulated.openai, prompt);
    expect(run.subtasks.map((s) => s.kind)).toEqual(['answer', 'tool']);
    expect(run.subtasks[0]?.instructions).toMatch(/^Compare three designs for human approval/);
    expect(run.answer).toContain('1500 * 0.07 = 105');
    expect(run.answer).toContain('"Compare three designs for human approval of agent runs');
    expect(run.answer).toContain(honest);
    expect(run.answer).not.toContain('We have read about approval flows');
  });

  it('the request stays whole at any length, with the question at the start, in the middle or at the end', async () => {
    const question = 'How long should an approval wait before it escalates?';
    const long = Array.from({ length: 20 }, () => filler.trim()).join(' '); // about 16,000 characters
    for (const prompt of [
      `${question} ${long}`,
      `${long}\n\nQuestion: ${question.toLowerCase()}\n\n${long}`,
      `${long} ${question}`,
    ]) {
      const subtasks = await plan(emulated.openai, prompt);
      expect(subtasks.map((s) => s.instructions)).toEqual([question]);
      const { text } = await answerPart(
        emulated.openai,
        prompt,
        subtasks[0] ?? { title: '', instructions: '' },
      );
      expect(text).toContain(`"${question}"`);
      expect(text).toContain(
        `It read the ${prompt.length.toLocaleString('en-US')} characters of the request`,
      );
    }
  });

  it('a numbered list of mixed asks plans each in order and answers each', async () => {
    const run = await runOffline(
      emulated.openai,
      '1. What is 2^8?\n2. What time is it in London?\n3. Research the latest Rust release.\n4. Why is the sky blue?',
    );
    expect(run.subtasks.map((s) => s.kind)).toEqual(['tool', 'answer', 'research', 'answer']);
    expect(run.answer).toContain('2^8 = 256');
    expect(run.answer).toContain('Europe/London');
    expect(run.answer).toContain('Rust release');
    expect(run.answer).toContain('"Why is the sky blue?"');
  });

  it('the time in a city and a calculation in one sentence are two parts', async () => {
    const run = await runOffline(emulated.openai, 'What time is it in Tokyo, and what is 9 * 9?');
    expect(run.subtasks.map((s) => s.kind).sort()).toEqual(['answer', 'tool']);
    expect(run.answer).toContain('9 * 9 = 81');
    expect(run.answer).toContain('Asia/Tokyo');
  });

  it('an answer subtask answers every part it was given, with a tool where one fits', async () => {
    const { text, toolCalls } = await answerPart(emulated.openai, 'Three things please.', {
      title: 'Three things',
      instructions: 'What is 6 * 7, what time is it in Paris, and who wrote Hamlet?',
    });
    expect(toolCalls.map((c) => c.name).sort()).toEqual(['calculator', 'current_time']);
    expect(text).toContain('6 * 7 = 42 (from the calculator tool)');
    expect(text).toContain('Europe/Paris');
    expect(text).toContain('"Who wrote Hamlet?"');
  });

  it('the synthesis works out a calculation that no subtask did, so no part of the request is left out', async () => {
    const answer = await synthesize(emulated.openai, 'What is 6 * 7, and why is the sky blue?', [
      {
        title: 'Why is the sky blue',
        text: `You asked: "Why is the sky blue?" ${honest}, so it cannot answer this.`,
      },
    ]);
    expect(answer).toContain('6 * 7 = 42.');
    expect(answer).toContain('"Why is the sky blue?"');
  });

  it('reads a finding written on its title line as well as one under it', async () => {
    const completion = await emulated.openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        {
          role: 'user',
          content:
            'Request: What is 12 * 7 + 5?\n\nFindings:\n[s1] Compute: 12 * 7 + 5 = 89. The product of 12 and 7 is 84, and 84 plus 5 is 89.',
        },
      ],
    });
    expect(completion.choices[0]?.message.content).toBe(
      '12 * 7 + 5 = 89. The product of 12 and 7 is 84, and 84 plus 5 is 89.',
    );
  });
});

describe('research in the answer', () => {
  it('puts a [n] marker only on the sentences that cite a source, and cites every source listed', async () => {
    const findings = [
      research('Research recent discoveries by the James Webb Space Telescope'),
      research('Research the latest news on serverless platforms'),
    ];
    const answer = await synthesize(emulated.openai, 'Research two things.', findings);
    const total = findings.reduce((n, f) => n + f.sources.length, 0);
    const markers = [...answer.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
    expect([...new Set(markers)].sort((a, b) => a - b)).toEqual(
      Array.from({ length: total }, (_v, i) => i + 1),
    );
    // Every marker follows the words it cites: no run of markers, none after the last sentence.
    expect(answer).not.toMatch(/\]\s*\[/);
    expect(answer).not.toMatch(/[.?!]\s*\[\d+\]/);
    expect(answer).not.toMatch(/\w\[\d+\]/);
  });
});
