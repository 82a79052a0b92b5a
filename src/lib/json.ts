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

/** Deepest nesting of objects and arrays a request body may have; no field the API reads is near it. */
export const maxJsonDepth = 64;

/** At most this many problems are reported for one body: the first ones are what the sender must fix. */
export const maxJsonIssues = 20;

/**
 * The deepest nesting of `{` and `[` in `text`, read once from left to right (strings skipped), without
 * parsing. Lets a 30,000-deep body be refused before anything walks it.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      i = endOfString(text, i);
      continue;
    }
    if (ch === 0x7b || ch === 0x5b) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (ch === 0x7d || ch === 0x5d) {
      depth--;
    }
    i++;
  }
  return deepest;
}

/**
 * Every key that appears twice in the same object of `text`, which must already be valid JSON. Each
 * repeated key is reported once, at its path, and at most `maxJsonIssues` of them. One pass over the
 * text; a path is only built for a key that is reported.
 */
export function duplicateKeys(text: string): JsonIssue[] {
  type Frame = { kind: 'object'; keys: Set<string>; key?: string } | { kind: 'array'; index: number };
  const stack: Frame[] = [];
  const seen = new Set<string>();
  const issues: JsonIssue[] = [];
  let expectKey = false;
  let i = 0;
  while (i < text.length && issues.length < maxJsonIssues) {
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

/** A path as a chain of links to the parent, so a step costs O(1); built into an array only when reported. */
interface PathLink {
  parent: PathLink | undefined;
  step: string | number;
}

function pathOf(link: PathLink | undefined): JsonPath {
  const path: JsonPath = [];
  for (let at = link; at !== undefined; at = at.parent) path.push(at.step);
  return path.reverse();
}

/**
 * Numbers that are not finite (`1e309` parses as Infinity) and strings, keys included, that are not
 * valid text, each at its path; at most `maxJsonIssues`. Linear in the size of the value: each step of a
 * path is one link, not a copy of the path so far.
 */
export function unsafeValues(root: unknown): JsonIssue[] {
  const issues: JsonIssue[] = [];
  const pending: { value: unknown; at: PathLink | undefined }[] = [{ value: root, at: undefined }];
  const report = (at: PathLink | undefined, message: string) => {
    if (issues.length < maxJsonIssues) issues.push({ path: pathOf(at), message });
  };
  for (let next = pending.pop(); next !== undefined && issues.length < maxJsonIssues; next = pending.pop()) {
    const { value, at } = next;
    if (typeof value === 'number') {
      if (!Number.isFinite(value))
        report(at, 'is a number too large to represent (it overflows to infinity)');
    } else if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) report(at, problem);
    } else if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) {
        pending.push({ value: value[index] as unknown, at: { parent: at, step: index } });
      }
    } else if (typeof value === 'object' && value !== null) {
      const entries = Object.entries(value);
      for (const [key] of entries) {
        const keyProblem = textProblem(key);
        if (keyProblem) report({ parent: at, step: key }, `has a name that ${keyProblem}`);
      }
      // Pushed last to first, so they are visited (and reported) in document order.
      for (const [key, item] of entries.reverse())
        pending.push({ value: item, at: { parent: at, step: key } });
    }
  }
  return issues;
}
