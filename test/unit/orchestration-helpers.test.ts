import { numberCitations } from '../../src/agents/citations';
import { defaultResearchPolling, pollDelayMs } from '../../src/orchestrators/researchSubtask';
import type { SubtaskResult } from '../../src/contracts/agentRun';

const usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
const result = (id: string, urls: string[], text = id): SubtaskResult => ({
  id,
  kind: 'research',
  title: id,
  ok: true,
  text,
  citations: urls.map((url) => ({ url, title: url })),
  usage,
});

describe('numberCitations', () => {
  it('numbers each source once, in the order the subtasks cite them', () => {
    const { citations, numbersBySubtask } = numberCitations([
      result('s1', ['https://a.example', 'https://b.example']),
      result('s2', ['https://b.example', 'https://c.example']),
      result('s3', []),
    ]);
    expect(citations.map((c) => c.url)).toEqual([
      'https://a.example',
      'https://b.example',
      'https://c.example',
    ]);
    expect(numbersBySubtask.get('s1')).toEqual([1, 2]);
    expect(numbersBySubtask.get('s2')).toEqual([2, 3]);
    expect(numbersBySubtask.get('s3')).toEqual([]);
  });

  it("rewrites each subtask's own markers to the global numbers and leaves unknown ones alone", () => {
    const { textBySubtask } = numberCitations([
      result('s1', ['https://a.example'], 'A [1].'),
      result('s2', ['https://b.example', 'https://a.example'], 'B [1], A again [2], stray [7].'),
    ]);
    expect(textBySubtask.get('s1')).toBe('A [1].');
    expect(textBySubtask.get('s2')).toBe('B [2], A again [1], stray [7].');
  });
});

describe('research polling', () => {
  it('backs off so that a 30 s agent run takes at most 6 polls, where 1 s polling would take 30', () => {
    let elapsed = 0;
    let polls = 0;
    while (elapsed < 30_000) {
      elapsed += pollDelayMs(defaultResearchPolling, polls);
      polls += 1;
    }
    expect(polls).toBeLessThanOrEqual(6);
    // ...and it notices the end of the run within one capped interval.
    expect(elapsed - 30_000).toBeLessThanOrEqual(defaultResearchPolling.maxDelayMs);
  });

  it('starts soon, so short runs are collected quickly', () => {
    expect(pollDelayMs(defaultResearchPolling, 0)).toBeLessThanOrEqual(2000);
  });
});
