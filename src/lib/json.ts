/**
 * Checks on JSON that `JSON.parse` lets through but no request body should carry: a key given twice
 * (parsers disagree on which copy wins, so a proxy, a log and this app could each see a different
 * request), numbers that overflow to Infinity, and strings that are not valid Unicode text (an unpaired
 * UTF-16 surrogate cannot be encoded as UTF-8 for storage or a model call; a NUL ends strings early in
 * C-based tools). Both walks are iterative, so a deeply nested body cannot overflow the stack.
 */

/** A path into a JSON value: object keys and array indexes, outermost first. */
export type JsonPath = (string | number)[];

export interface JsonIssue {
  path: JsonPath;
  message: string;
}

export const duplicateKeyMessage =
  'appears more than once; send each field once (JSON readers disagree on which copy counts)';

/**
 * Every key that appears twice in the same object of `text`, which must already be valid JSON. Each
 * repeated key is reported once, at its path.
 */
export function duplicateKeys(text: string): JsonIssue[] {
  type Frame = { kind: 'object'; keys: Set<string>; key?: string } | { kind: 'array'; index: number };
  const stack: Frame[] = [];
  const seen = new Set<string>();
  const issues: JsonIssue[] = [];
  let expectKey = false;
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      const end = endOfString(text, i);
      const top = stack.at(-1);
      if (top?.kind === 'object' && expectKey) {
        const key = JSON.parse(text.slice(i, end)) as string;
        if (top.keys.has(key)) {
          const path = [...stack.slice(0, -1).map(frameStep), key];
          const id = JSON.stringify(path);
          if (!seen.has(id)) {
            seen.add(id);
            issues.push({ path, message: duplicateKeyMessage });
          }
        }
        top.keys.add(key);
        top.key = key;
        expectKey = false;
      }
      i = end;
      continue;
    }
    if (ch === '{') {
      stack.push({ kind: 'object', keys: new Set() });
      expectKey = true;
    } else if (ch === '[') {
      stack.push({ kind: 'array', index: 0 });
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      const top = stack.at(-1);
      if (top?.kind === 'object') expectKey = true;
      else if (top) top.index++;
    }
    i++;
  }
  return issues;
}

function frameStep(frame: { kind: 'object'; key?: string } | { kind: 'array'; index: number }) {
  return frame.kind === 'object' ? (frame.key ?? '') : frame.index;
}

/** The index just past the closing quote of the string that starts at `start`. */
function endOfString(text: string, start: number): number {
  let j = start + 1;
  while (j < text.length) {
    const ch = text[j];
    if (ch === '\\') j += 2;
    else if (ch === '"') return j + 1;
    else j++;
  }
  return text.length;
}

const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** What is wrong with a string as text, or undefined when it is fine. */
export function textProblem(value: string): string | undefined {
  if (loneSurrogate.test(value)) {
    return 'contains an unpaired surrogate (an escape such as \\ud800 without its pair), which is not valid Unicode';
  }
  if (value.includes('\u0000')) return 'contains a NUL character (\\u0000)';
  return undefined;
}

/**
 * Numbers that are not finite (`1e309` parses as Infinity) and strings, keys included, that are not
 * valid text, each at its path.
 */
export function unsafeValues(root: unknown): JsonIssue[] {
  const issues: JsonIssue[] = [];
  const pending: { value: unknown; path: JsonPath }[] = [{ value: root, path: [] }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { value, path } = next;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) {
        issues.push({ path, message: 'is a number too large to represent (it overflows to infinity)' });
      }
    } else if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) issues.push({ path, message: problem });
    } else if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) {
        pending.push({ value: value[index] as unknown, path: [...path, index] });
      }
    } else if (typeof value === 'object' && value !== null) {
      const entries = Object.entries(value);
      for (const [key] of entries) {
        const keyProblem = textProblem(key);
        if (keyProblem) issues.push({ path: [...path, key], message: `has a name that ${keyProblem}` });
      }
      // Pushed last to first, so they are visited (and reported) in document order.
      for (const [key, item] of entries.reverse()) pending.push({ value: item, path: [...path, key] });
    }
  }
  return issues;
}
