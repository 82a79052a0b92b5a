/** The system prompts of the run's own model calls (the answer subtask has its own). Pure text. */

export const plannerPrompt =
  'Split the request into the smallest set of independent subtasks that can run in parallel. Kinds: ' +
  '"answer" (reasoning with tools such as a calculator), "research" (needs current facts from the web, with ' +
  'sources), "tool" (a single direct tool call; give toolName and toolArguments as a JSON object). For other ' +
  'kinds use toolName "none" and toolArguments "{}". Prefer one subtask for a simple request.';

export const synthesisPrompt =
  'Write one answer to the request from the findings of the subtasks. Keep every fact and number the findings ' +
  'give. Cite sources with their numbers in square brackets, like [1], exactly as numbered in the findings; ' +
  'do not invent sources. Mention briefly any part that could not be done.';

export const revisionPrompt =
  'Revise the draft answer to address the reviewer comment. Keep the citations [n] that still apply and ' +
  'do not invent new sources. Return only the revised answer.';
