import { createHash } from 'node:crypto';
import { evaluate, formatNumber } from './arithmetic';
import type { Intent } from './intents';
import { clipPhrase } from './topics';
import { wordsFor } from './wordProblems';

/**
 * Makes a JSON value valid against a JSON schema (the subset structured outputs and zod's
 * z.toJSONSchema use), filled from the conversation where a property's name says what it is for.
 */

type Schema = Record<string, unknown>;

export interface FillContext {
  /** What the request asks, for properties such as prompt, query, question, task. */
  focus: string;
  /** The work the request asks for; array items take one each, in order. */
  intents: readonly Intent[];
  /** The answer the model would give in prose, for properties such as answer, response, summary. */
  answer: () => string;
  /** Every string the request offers as a tool name, for enums such as toolName. */
  toolNames: readonly string[];
  /** Seeds the few choices that are not driven by the conversation. */
  seed: string;
}

interface Place {
  name: string;
  intent: Intent;
  depth: number;
}

export function generateFromSchema(schema: unknown, context: FillContext): unknown {
  const root = asSchema(schema);
  const intent = context.intents[0] ?? { kind: 'answer', text: context.focus };
  return generate(root, root, context, { name: '', intent, depth: 0 });
}

function asSchema(value: unknown): Schema {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Schema) : {};
}

function resolve(schema: Schema, root: Schema): Schema {
  let current = schema;
  for (let hops = 0; typeof current.$ref === 'string' && hops < 32; hops++) {
    const ref = current.$ref;
    if (!ref.startsWith('#')) throw new Error(`Only local $ref is supported, got "${ref}".`);
    let target: unknown = root;
    for (const raw of ref
      .slice(1)
      .split('/')
      .filter((p) => p !== '')) {
      const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
      target = asSchema(target)[key];
    }
    const { $ref: _ignored, ...siblings } = current;
    current = { ...asSchema(target), ...siblings };
  }
  return current;
}

function typesOf(schema: Schema): string[] {
  if (typeof schema.type === 'string') return [schema.type];
  if (Array.isArray(schema.type)) return schema.type.filter((t): t is string => typeof t === 'string');
  if (schema.properties || schema.additionalProperties !== undefined || schema.required) return ['object'];
  if (schema.items || schema.prefixItems) return ['array'];
  return [];
}

function generate(input: Schema, root: Schema, context: FillContext, place: Place): unknown {
  const schema = resolve(input, root);
  if (place.depth > 24) return null;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return chooseEnum(schema.enum, context, place);

  const alternatives = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alternatives) && alternatives.length > 0) {
    const options = alternatives.map((a) => resolve(asSchema(a), root));
    // A real model fills the branch with content rather than the null one.
    const chosen = options.find((o) => !typesOf(o).every((t) => t === 'null')) ?? options[0] ?? {};
    const { anyOf: _a, oneOf: _o, ...rest } = schema;
    return generate({ ...rest, ...chosen }, root, context, place);
  }
  if (Array.isArray(schema.allOf)) {
    const merged = schema.allOf.reduce<Schema>(
      (acc, part) => mergeSchemas(acc, resolve(asSchema(part), root)),
      {},
    );
    const { allOf: _all, ...rest } = schema;
    return generate(mergeSchemas(rest, merged), root, context, place);
  }

  const types = typesOf(schema).filter((t) => t !== 'null');
  const type = types[0] ?? (typesOf(schema).includes('null') ? 'null' : 'string');
  switch (type) {
    case 'object':
      return generateObject(schema, root, context, place);
    case 'array':
      return generateArray(schema, root, context, place);
    case 'string':
      return generateString(schema, context, place);
    case 'integer':
    case 'number':
      return generateNumber(schema, type === 'integer', context, place);
    case 'boolean':
      return generateBoolean(place);
    default:
      return null;
  }
}

function mergeSchemas(a: Schema, b: Schema): Schema {
  const merged: Schema = { ...a, ...b };
  if (a.properties || b.properties) {
    merged.properties = { ...asSchema(a.properties), ...asSchema(b.properties) };
  }
  if (Array.isArray(a.required) || Array.isArray(b.required)) {
    merged.required = [
      ...new Set([...((a.required as string[]) ?? []), ...((b.required as string[]) ?? [])]),
    ];
  }
  return merged;
}

function generateObject(
  schema: Schema,
  root: Schema,
  context: FillContext,
  place: Place,
): Record<string, unknown> {
  const properties = asSchema(schema.properties);
  const result: Record<string, unknown> = {};
  // Every declared property is filled, like a model answering in strict mode; required ones certainly.
  for (const [name, propertySchema] of Object.entries(properties)) {
    result[name] = generate(asSchema(propertySchema), root, context, {
      ...place,
      name,
      depth: place.depth + 1,
    });
  }
  const required = Array.isArray(schema.required)
    ? schema.required.filter((r): r is string => typeof r === 'string')
    : [];
  for (const name of required) {
    if (!(name in result)) {
      const extra = asSchema(schema.additionalProperties);
      result[name] = generate(extra, root, context, { ...place, name, depth: place.depth + 1 });
    }
  }
  const minProperties = typeof schema.minProperties === 'number' ? schema.minProperties : 0;
  const extraSchema = schema.additionalProperties;
  for (let i = 1; Object.keys(result).length < minProperties && extraSchema !== false && i < 100; i++) {
    result[`item${i}`] = generate(asSchema(extraSchema), root, context, {
      ...place,
      name: 'item',
      depth: place.depth + 1,
    });
  }
  return result;
}

/** More intents than items allowed: the last item covers the rest, so no part of the request is dropped. */
function fitInto(intents: readonly Intent[], count: number): readonly Intent[] {
  if (intents.length <= count || count < 1) return intents;
  const rest = intents.slice(count - 1);
  const text = rest.map((i) => (/[.?!]$/.test(i.text) ? i.text : `${i.text}.`)).join(' ');
  return [...intents.slice(0, count - 1), { kind: 'answer', text }];
}

function generateArray(schema: Schema, root: Schema, context: FillContext, place: Place): unknown[] {
  const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
  const max = typeof schema.maxItems === 'number' ? schema.maxItems : Number.POSITIVE_INFINITY;
  const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems.map(asSchema) : [];
  const itemSchema = asSchema(schema.items);
  const wanted = Math.max(min, Math.min(max, Math.max(context.intents.length, prefix.length, 1)));
  const intents = fitInto(context.intents, wanted);
  const items: unknown[] = [];
  for (let i = 0; i < wanted; i++) {
    const intent = intents[i % Math.max(1, intents.length)] ?? place.intent;
    const childSchema = prefix[i] ?? (schema.items === false ? {} : itemSchema);
    let value = generate(childSchema, root, context, {
      name: singular(place.name),
      intent,
      depth: place.depth + 1,
    });
    if (schema.uniqueItems === true) value = makeUnique(value, items, childSchema, root, i);
    items.push(value);
  }
  return items;
}

function makeUnique(value: unknown, seen: unknown[], schema: Schema, root: Schema, index: number): unknown {
  const same = (v: unknown) => seen.some((s) => JSON.stringify(s) === JSON.stringify(v));
  if (!same(value)) return value;
  const resolved = resolve(schema, root);
  if (Array.isArray(resolved.enum)) return resolved.enum.find((v) => !same(v)) ?? value;
  if (typeof value === 'string') return `${value} (${index + 1})`;
  if (typeof value === 'number') return value + index;
  return value;
}

function singular(name: string): string {
  return name.endsWith('ies') ? `${name.slice(0, -3)}y` : name.replace(/s$/, '');
}

/** The words of a property name: toolArguments, tool_arguments and tool-arguments give "tool arguments". */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
}

const has = (name: string, candidates: readonly string[]) => words(name).some((w) => candidates.includes(w));

function chooseEnum(values: unknown[], context: FillContext, place: Place): unknown {
  const strings = values.filter((v): v is string => typeof v === 'string');
  const lower = (v: string) => v.toLowerCase();
  const pick = (test: (v: string) => boolean) => strings.find((v) => test(lower(v)));

  // A tool-name enum: the tool this item's intent uses, otherwise the "none" value.
  const toolValues = strings.filter((v) => context.toolNames.includes(v));
  if (toolValues.length > 0 || has(place.name, ['tool', 'function'])) {
    if (place.intent.toolName && strings.includes(place.intent.toolName)) return place.intent.toolName;
    const none = pick((v) => ['none', 'null', 'no', 'n/a', ''].includes(v));
    if (none !== undefined) return none;
  }

  const byKind: Record<Intent['kind'], (v: string) => boolean> = {
    research: (v) => /research|search|web|browse|lookup/.test(v),
    tool: (v) => /tool|calc|compute|math|function/.test(v),
    answer: (v) => /answer|respond|reply|direct|chat|general/.test(v),
  };
  const kindMatch =
    pick(byKind[place.intent.kind]) ?? (place.intent.kind === 'tool' ? pick(byKind.answer) : undefined);
  if (kindMatch !== undefined) return kindMatch;

  // Otherwise the value the request's words mention, else the first (a model's most likely pick).
  const focus = place.intent.text.toLowerCase();
  return pick((v) => v.length > 2 && focus.includes(v)) ?? values[0];
}

function generateString(schema: Schema, context: FillContext, place: Place): string {
  const format = typeof schema.format === 'string' ? schema.format : '';
  let value = formatted(format, context, place) ?? stringFor(place, context);
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Number.POSITIVE_INFINITY;
  if ([...value].length > max) value = cutToLength(value, max);
  while ([...value].length < min) value += value === '' ? 'n/a' : ' ';
  if ([...value].length < min) value = value.padEnd(min, '.');
  if (typeof schema.pattern === 'string') value = fitPattern(schema.pattern, value, context, place);
  return value;
}

/** Prose cut between words where it can be, so a bounded string never ends inside a word. */
function cutToLength(value: string, max: number): string {
  const chars = [...value];
  const room = chars.slice(0, max).join('');
  const space = room.lastIndexOf(' ');
  if (/\s/.test(chars[max] ?? ' ') || space < max / 2) return room.trimEnd();
  return room.slice(0, space).trimEnd();
}

function fitPattern(pattern: string, value: string, context: FillContext, place: Place): string {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern, 'u');
  } catch {
    return value;
  }
  if (regex.test(value)) return value;
  const candidates = [
    slug(place.intent.text),
    slug(place.intent.text).replace(/-/g, '_'),
    place.name,
    'example',
    'a',
    'A',
    '0',
    '1',
    'x@example.org',
    'https://example.org/',
    '2025-01-01',
    uuid(context.seed + place.name),
  ];
  return candidates.find((c) => regex.test(c)) ?? value;
}

function formatted(format: string, context: FillContext, place: Place): string | null {
  switch (format) {
    case 'date-time':
      return '2025-01-01T12:00:00Z';
    case 'date':
      return '2025-01-01';
    case 'time':
      return '12:00:00Z';
    case 'email':
      return 'someone@example.org';
    case 'uri':
    case 'url':
      return `https://example.org/${slug(place.intent.text) || 'page'}`;
    case 'uuid':
      return uuid(context.seed + place.name);
    case 'hostname':
      return 'example.org';
    case 'ipv4':
      return '192.0.2.1';
    default:
      return null;
  }
}

function stringFor(place: Place, context: FillContext): string {
  const { name, intent } = place;
  const expression = intent.expression;
  if (has(name, ['expression', 'expr', 'formula', 'calculation', 'equation', 'math']) && expression)
    return expression;
  if (has(name, ['arguments', 'args', 'params', 'parameters']) || name.toLowerCase().endsWith('json')) {
    if (intent.kind === 'tool' && expression) return JSON.stringify({ expression });
    if (intent.kind === 'tool' && intent.time) return JSON.stringify(intent.time);
    return '{}';
  }
  if (has(name, ['url', 'link', 'href', 'uri'])) return `https://example.org/${slug(intent.text) || 'page'}`;
  if (has(name, ['title', 'name', 'label', 'heading', 'headline', 'topic', 'subject']))
    return titleFor(intent);
  if (
    has(name, ['answer', 'response', 'reply', 'result', 'output', 'summary', 'message', 'conclusion', 'text'])
  ) {
    return context.answer();
  }
  if (has(name, ['reason', 'rationale', 'explanation', 'reasoning', 'thought', 'justification', 'why'])) {
    return reasonFor(intent);
  }
  if (has(name, ['language', 'lang', 'locale'])) return 'en';
  if (has(name, ['timezone', 'tz', 'zone'])) return intent.time?.timezone ?? 'UTC';
  if (has(name, ['id', 'key', 'slug'])) return slug(intent.text) || 'item';
  if (has(name, ['email'])) return 'someone@example.org';
  // prompt, query, question, task, description, instructions, and anything else: the words asked.
  return intent.text || context.focus;
}

function titleFor(intent: Intent): string {
  const text = intent.text.replace(/\s+/g, ' ').replace(/[.?!]+$/, '');
  const short = clipPhrase(text, 120);
  const problem = intent.problem;
  // A lone expression is named by it; a calculation in words keeps the words, which say what it is.
  if (
    problem &&
    problem.steps.length === 0 &&
    problem.base.explicit &&
    !problem.precision &&
    !problem.percent
  ) {
    return clipPhrase(`Compute ${wordsFor(problem)}`, 120);
  }
  switch (intent.kind) {
    case 'tool':
      return intent.expression && !problem ? `Compute ${intent.expression}` : short;
    case 'research':
      return short.length > 0 ? short : 'Research the request';
    case 'answer':
      return short || 'Answer the request';
  }
}

function reasonFor(intent: Intent): string {
  switch (intent.kind) {
    case 'tool': {
      const value = intent.expression ? evaluate(intent.expression) : null;
      return `The request contains arithmetic (${intent.expression ?? ''}); a calculator gives an exact result${
        value === null ? '' : ` (${formatNumber(value)})`
      }.`;
    }
    case 'research':
      return 'The request asks for current information, which needs web sources.';
    case 'answer':
      return 'The request can be answered directly.';
  }
}

function generateNumber(schema: Schema, integer: boolean, context: FillContext, place: Place): number {
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  let low = num(schema.minimum) ?? Number.NEGATIVE_INFINITY;
  let high = num(schema.maximum) ?? Number.POSITIVE_INFINITY;
  const exclusiveLow = num(schema.exclusiveMinimum);
  const exclusiveHigh = num(schema.exclusiveMaximum);
  const step = num(schema.multipleOf) ?? (integer ? 1 : undefined);
  const epsilon = step ?? 0.01;
  if (exclusiveLow !== undefined) low = Math.max(low, exclusiveLow + epsilon);
  if (schema.exclusiveMinimum === true && low !== Number.NEGATIVE_INFINITY) low += epsilon;
  if (exclusiveHigh !== undefined) high = Math.min(high, exclusiveHigh - epsilon);
  if (schema.exclusiveMaximum === true && high !== Number.POSITIVE_INFINITY) high -= epsilon;

  let value: number;
  const computed = place.intent.expression ? evaluate(place.intent.expression) : null;
  if (
    computed !== null &&
    has(place.name, ['result', 'value', 'answer', 'total', 'sum', 'product', 'number'])
  ) {
    value = computed;
  } else if (has(place.name, ['confidence', 'probability', 'score', 'certainty'])) {
    value = high <= 1 || low >= 0 ? 0.9 : 90;
    if (high > 1 && Number.isFinite(high) && high <= 10) value = Math.min(high, 9);
  } else if (has(place.name, ['priority', 'order', 'index', 'rank', 'step', 'position'])) {
    value = 1;
  } else if (has(place.name, ['count', 'number', 'quantity', 'amount', 'total'])) {
    value = Math.max(1, context.intents.length);
  } else {
    value = 1;
  }
  if (integer) value = Math.round(value);
  value = Math.min(high, Math.max(low, value));
  if (step !== undefined) {
    value = Math.ceil(value / step) * step;
    if (value > high) value = Math.floor(high / step) * step;
    value = Number(value.toPrecision(12));
  }
  if (integer) value = Math.ceil(value - 1e-9);
  return value;
}

function generateBoolean(place: Place): boolean {
  const name = place.name;
  if (has(name, ['research', 'search', 'web', 'sources', 'grounding']))
    return place.intent.kind === 'research';
  if (has(name, ['tool', 'tools', 'calculator', 'calculate', 'compute'])) return place.intent.kind === 'tool';
  if (has(name, ['done', 'complete', 'completed', 'success', 'ok', 'valid', 'possible'])) return true;
  return false;
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .split('-')
    .slice(0, 8)
    .join('-');
}

function uuid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
