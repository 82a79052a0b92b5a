import { sentencesOf } from '../src/openai/intents';
import { revise } from './productShapes';
import { emulatorsForThisFile } from './support';

/**
 * Revisions after a reviewer's comment, in the shape the product sends them, through the real client:
 * every change is made on whole sentences, bullets or sections, and what cannot be done is said
 * plainly, with the reason.
 */

const emulated = emulatorsForThisFile();

const request = 'What is 12 * 7 + 5? Then research the latest news on Azure Durable Functions.';
const researchDraft = [
  '12 * 7 + 5 = 89 (from the calculator tool).',
  '',
  'What the emulated web research found (its sources are placeholders, not real pages):',
  '- The official documentation describes Azure Durable Functions: the main concepts, how to set it up, and the practices Microsoft recommends [1]. Recent coverage of Azure Durable Functions reports what changed over the past months [2].',
].join('\n');
const pizzaDraft =
  '$18.50 pizza, 20% off, 8.25% tax, split 3 ways: $5.34 each. Step by step: $18.50 pizza, 20% off → $14.80, ' +
  'plus 8.25% tax → $16.02, split 3 ways → $5.34; 18.50 * (1 - 20 / 100) * (1 + 8.25 / 100) / 3 = ' +
  '5.34033333333 (from the calculator tool).\nYou asked: "Who invented pizza?" The offline emulator has no world ' +
  'knowledge, so it cannot answer this itself; with Azure OpenAI settings the app answers with a real model.';

/** Every sentence of the revision is a whole sentence of the draft: nothing was cut inside one. */
function wholeSentencesOf(draft: string, revised: string): void {
  const original = new Set(sentencesOf(draft.replace(/^- /gm, '')));
  for (const sentence of sentencesOf(revised.replace(/^- /gm, ''))) expect(original).toContain(sentence);
}

describe('revisions', () => {
  it('"Remove the part about the research" removes the research section, heading and findings', async () => {
    const revised = await revise(
      emulated.openai,
      request,
      researchDraft,
      'Remove the part about the research.',
    );
    expect(revised).toBe('12 * 7 + 5 = 89 (from the calculator tool).');
  });

  it('"Remove the part about Durable Functions" removes the sentences about it, and the heading left empty', async () => {
    const revised = await revise(
      emulated.openai,
      request,
      researchDraft,
      'Remove the part about Durable Functions.',
    );
    expect(revised).toBe('12 * 7 + 5 = 89 (from the calculator tool).');
  });

  it('"Shorter" drops whole sentences, keeps a line for each part, and never cuts a word', async () => {
    for (const draft of [researchDraft, pizzaDraft]) {
      const revised = await revise(emulated.openai, request, draft, 'Shorter.');
      expect(revised.length).toBeLessThan(draft.length * 0.8);
      wholeSentencesOf(draft, revised);
      expect(revised).not.toContain('could not carry out');
    }
    const revised = await revise(emulated.openai, request, pizzaDraft, 'Shorter.');
    expect(revised).toContain('$5.34 each.');
    expect(revised).toContain('"Who invented pizza?"');
    expect(revised).not.toContain('Step by step');
  });

  it('"Shorter" on a single sentence says why it cannot', async () => {
    const revised = await revise(emulated.openai, request, '12 * 7 + 5 = 89.', 'Make it shorter.');
    expect(revised).toMatch(
      /could not carry out this part of the reviewer's comment: "Make it shorter" \(the draft is a single sentence/,
    );
  });

  it('"In one sentence" and "under 20 words" keep whole sentences that fit', async () => {
    const one = await revise(emulated.openai, request, researchDraft, 'Put it in one sentence.');
    expect(one).toBe('12 * 7 + 5 = 89 (from the calculator tool).');
    const short = await revise(emulated.openai, request, pizzaDraft, 'Keep it under 20 words.');
    expect(short).toContain('$18.50 pizza, 20% off, 8.25% tax, split 3 ways: $5.34 each.');
    expect(short.split(/\s+/).length).toBeLessThanOrEqual(20);
    wholeSentencesOf(pizzaDraft, short);
  });

  it('rounds the results to the precision asked, and leaves the expressions alone', async () => {
    const revised = await revise(
      emulated.openai,
      'What is 22/7?',
      '22/7 = 3.14285714286 (from the calculator tool).',
      'Round to 2 decimal places.',
    );
    expect(revised).toBe('22/7 = 3.14 (from the calculator tool).');
  });

  it('turns each line into a bullet', async () => {
    const revised = await revise(emulated.openai, request, pizzaDraft, 'Use bullet points.');
    expect(revised.split('\n').every((line) => line.startsWith('- '))).toBe(true);
    expect(revised.split('\n')).toHaveLength(2);
  });

  it('"Remove the calculations" removes the sentences with results', async () => {
    const revised = await revise(emulated.openai, request, pizzaDraft, 'Remove the calculations.');
    expect(revised).not.toContain('$5.34');
    expect(revised).toContain('"Who invented pizza?"');
  });

  it.each([
    ['Remove the part about pricing.', 'nothing in the draft is about pricing'],
    ['Make it more formal.', 'it cannot rewrite the wording or tone of its sentences'],
    ['Translate it into French.', 'it cannot translate offline'],
    ['Add more detail.', 'it has no world knowledge to add detail from'],
    ['Cite more sources.', 'it does not invent sources'],
  ])('%j is not done, and the revision says why', async (comment, why) => {
    const revised = await revise(emulated.openai, request, researchDraft, comment);
    expect(revised.startsWith(researchDraft)).toBe(true);
    expect(revised).toContain(`"${comment.replace(/\.$/, '')}" (${why}`);
  });

  it('does what it can of a comment with several instructions and names the rest', async () => {
    const revised = await revise(
      emulated.openai,
      request,
      researchDraft,
      'Remove the part about the research, add that the answer was checked, and make it friendlier.',
    );
    expect(revised).toMatch(
      /^12 \* 7 \+ 5 = 89 \(from the calculator tool\)\.\n- The answer was checked\.\n\n/,
    );
    expect(revised).toContain('"make it friendlier" (it cannot rewrite the wording or tone');
    expect(revised).not.toContain('emulated web research');
  });
});
