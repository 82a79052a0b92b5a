import type { SubtaskResult } from '../contracts/agentRun';
import type { Citation } from '../contracts/research';

/**
 * Numbers every source once, in the order the subtasks cite them, across all subtasks, and rewrites
 * each subtask's own markers ([1] is its first source) to those global numbers.
 */
export function numberCitations(results: readonly SubtaskResult[]): {
  citations: Citation[];
  numbersBySubtask: Map<string, number[]>;
  textBySubtask: Map<string, string>;
} {
  const citations: Citation[] = [];
  const byUrl = new Map<string, number>();
  const numbersBySubtask = new Map<string, number[]>();
  const textBySubtask = new Map<string, string>();
  for (const result of results) {
    const numbers: number[] = [];
    for (const citation of result.citations) {
      let n = byUrl.get(citation.url);
      if (n === undefined) {
        citations.push(citation);
        n = citations.length;
        byUrl.set(citation.url, n);
      }
      numbers.push(n);
    }
    numbersBySubtask.set(result.id, numbers);
    const text = (result.text ?? '').replace(/\[(\d+)\]/g, (marker, local: string) => {
      const global = numbers[Number(local) - 1];
      return global === undefined ? marker : `[${global}]`;
    });
    textBySubtask.set(result.id, text);
  }
  return { citations, numbersBySubtask, textBySubtask };
}
