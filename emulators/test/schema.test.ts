import Ajv2020 from 'ajv/dist/2020';
import { z } from 'zod';
import { intentsOf } from '../src/openai/intents';
import { generateFromSchema, type FillContext } from '../src/openai/schema';

// Formats (email, uuid, date-time) are checked by zod below; ajv checks the rest, patterns included.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });

function fill(schema: Record<string, unknown>, focus: string, toolNames: string[] = []): unknown {
  const context: FillContext = {
    focus,
    intents: intentsOf(focus, toolNames),
    answer: () => `An answer to: ${focus}`,
    toolNames,
    seed: 'seed',
  };
  const value = generateFromSchema(schema, context);
  const valid = ajv.validate(schema, value);
  if (!valid) throw new Error(`${JSON.stringify(value)} is not valid: ${ajv.errorsText()}`);
  return value;
}

const Step = z.object({ title: z.string().min(3).max(10), priority: z.number().int().min(2).max(5) });

const schemas: Record<string, z.ZodType> = {
  'nested objects, enums and bounded numbers': z.strictObject({
    verdict: z.enum(['yes', 'no', 'unsure']),
    confidence: z.number().min(0).max(1),
    score: z.number().gt(10).lt(11),
    count: z.number().int().multipleOf(5).min(7),
    tags: z.array(z.string()).min(2).max(4),
    flag: z.boolean(),
  }),
  'arrays with minItems above the work asked for': z.object({ steps: z.array(Step).min(3).max(3) }),
  'recursive $defs and $ref': z.object({
    tree: z.lazy(() => Node),
  }),
  'anyOf, nullable and optional fields': z.object({
    value: z.union([z.string(), z.number()]),
    note: z.string().nullable(),
    extra: z.string().optional(),
    when: z.iso.datetime(),
    contact: z.email(),
    site: z.url(),
    id: z.uuid(),
  }),
  'discriminated oneOf': z.object({
    action: z.discriminatedUnion('type', [
      z.object({ type: z.literal('search'), query: z.string() }),
      z.object({ type: z.literal('answer'), text: z.string().min(1) }),
    ]),
  }),
  'tuples and unique items': z.object({
    pair: z.tuple([z.string(), z.number()]),
    colours: z
      .array(z.enum(['red', 'green', 'blue']))
      .min(3)
      .refine(() => true),
  }),
  'records with additionalProperties': z.object({ scores: z.record(z.string(), z.number().min(1)) }),
};

interface TreeNode {
  label: string;
  children: TreeNode[];
}
const Node: z.ZodType<TreeNode> = z.object({
  label: z.string(),
  children: z.array(z.lazy(() => Node)).max(0),
});

describe('JSON generated for a response_format schema', () => {
  it.each(Object.entries(schemas))('is valid for %s', (_name, schema) => {
    const value = fill(z.toJSONSchema(schema), 'Tell me about autumn.');
    expect(schema.safeParse(value).error).toBeUndefined();
  });

  it('is valid for a hand-written draft-07 style schema with definitions and unique items', () => {
    fill(
      {
        type: 'object',
        definitions: { word: { type: 'string', minLength: 2 } },
        properties: {
          words: { type: 'array', items: { $ref: '#/definitions/word' }, minItems: 3, uniqueItems: true },
          level: { type: ['integer', 'null'], exclusiveMinimum: 3 },
          mode: { const: 'fixed' },
        },
        required: ['words', 'level', 'mode'],
        additionalProperties: false,
      },
      'Give me three words.',
    );
  });

  it('fills prompt-like strings from the request and picks the enum the request calls for', () => {
    const schema = z.toJSONSchema(
      z.object({
        items: z.array(
          z.object({
            kind: z.enum(['answer', 'research', 'tool']),
            query: z.string(),
            toolName: z.enum(['none', 'calculator']),
          }),
        ),
      }),
    ) as Record<string, unknown>;

    expect(fill(schema, 'Search the web for sources on durable timers.')).toEqual({
      items: [{ kind: 'research', query: 'Search the web for sources on durable timers.', toolName: 'none' }],
    });
    expect(fill(schema, 'What is 3 * (4 + 5)?', ['calculator'])).toEqual({
      items: [{ kind: 'tool', query: 'What is 3 * (4 + 5)?', toolName: 'calculator' }],
    });
    expect(fill(schema, 'Write a limerick.')).toEqual({
      items: [{ kind: 'answer', query: 'Write a limerick.', toolName: 'none' }],
    });
  });
});
