import { z } from 'zod';
import type { RunToolResult } from '../contracts/model';
import { toolNames, type ToolName } from '../contracts/tools';
import {
  calculatorFunctionNames,
  CalculatorError,
  evaluateExpression,
  formatNumber,
  maxExpressionLength,
} from './calculator';

/**
 * The tools a model may call. One zod schema per tool gives the handler its typed arguments and the
 * model its JSON schema (z.toJSONSchema). Importable from orchestrators: no Node built-ins,
 * and nothing here does I/O unless `ctx.allowNetwork` says it may (no tool needs the network yet).
 */

export interface ToolContext {
  /** The time the tools see; the activity passes its clock, tests pass a fixed one. */
  now: Date;
  /** TOOLS_ALLOW_NETWORK: a tool that reaches the network must refuse when this is false. */
  allowNetwork: boolean;
}

interface Tool<S extends z.ZodType> {
  description: string;
  parameters: S;
  /** Returns text for the model; throws ToolInputError for a problem the model can fix. */
  run(args: z.output<S>, ctx: ToolContext): string | Promise<string>;
}

/** A problem with the arguments that the model can read and correct on its next turn. */
export class ToolInputError extends Error {
  override readonly name = 'ToolInputError';
}

const defineTool = <S extends z.ZodType>(tool: Tool<S>): Tool<S> => tool;

const calculator = defineTool({
  description:
    'Evaluates an arithmetic expression exactly and returns the number. Supports + - * / % ^ (power), ' +
    `parentheses, unary minus, decimals, the constants pi and e, and the functions ${calculatorFunctionNames.join(', ')} ` +
    '(angles in radians; round(x, digits)). Use it for any arithmetic instead of computing in your head.',
  parameters: z
    .object({
      expression: z
        .string()
        .min(1)
        .max(maxExpressionLength)
        .describe('The expression, for example "(17.5 * 3 - 2) / 4" or "sqrt(2) ^ 2"'),
    })
    .strict(),
  run({ expression }) {
    try {
      return `${expression} = ${formatNumber(evaluateExpression(expression))}`;
    } catch (error) {
      if (error instanceof CalculatorError)
        throw new ToolInputError(`cannot evaluate "${expression}": ${error.message}`);
      throw error;
    }
  },
});

const currentTime = defineTool({
  description:
    'Returns the current date and time, in UTC and in the given IANA time zone (for example Europe/Paris). ' +
    'Use it whenever the answer depends on today’s date or the time.',
  parameters: z
    .object({
      timezone: z
        .string()
        .min(1)
        .max(64)
        .optional()
        .describe('An IANA time zone name such as America/New_York; UTC when omitted'),
    })
    .strict(),
  run({ timezone }, ctx) {
    const zone = timezone ?? 'UTC';
    let format: Intl.DateTimeFormat;
    try {
      format = new Intl.DateTimeFormat('en-GB', {
        timeZone: zone,
        dateStyle: 'full',
        timeStyle: 'long',
      });
    } catch {
      throw new ToolInputError(
        `unknown time zone "${zone}"; use an IANA name such as UTC, Europe/London or America/New_York`,
      );
    }
    const zoneName = format.resolvedOptions().timeZone;
    return `${ctx.now.toISOString()} (UTC); in ${zoneName}: ${format.format(ctx.now)}`;
  },
});

/** Every tool, by its name in contracts/tools.ts: a new tool is added there and here. */
const registry = {
  calculator,
  current_time: currentTime,
} as const satisfies Record<ToolName, Tool<z.ZodType>>;

const isToolName = (name: string): name is ToolName => Object.hasOwn(registry, name);

/** The longest `arguments` text accepted; a model that writes more is not calling a tool correctly. */
export const maxToolArgumentsLength = 10_000;

export interface ToolDefinition {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** Chat-completions tool definitions for the named tools (all tools when omitted); unknown names throw. */
export function toolDefinitions(names: readonly string[] = toolNames): ToolDefinition[] {
  return names.map((name) => {
    if (!isToolName(name)) {
      throw new Error(`Unknown tool "${name}"; the registry has: ${toolNames.join(', ')}`);
    }
    const tool: Tool<z.ZodType> = registry[name];
    const { $schema: _ignored, ...parameters } = z.toJSONSchema(tool.parameters, { io: 'input' }) as Record<
      string,
      unknown
    >;
    return { type: 'function', function: { name, description: tool.description, parameters } };
  });
}

/**
 * Runs one tool call as the model wrote it. Never throws for the model's mistakes (unknown tool, bad
 * JSON, arguments that fail the schema, an expression that cannot be evaluated): those come back as
 * `isError: true` with a message the model can read and act on.
 */
export async function runTool(name: string, argumentsJson: string, ctx: ToolContext): Promise<RunToolResult> {
  const fail = (content: string): RunToolResult => ({ name, content, isError: true });
  if (!isToolName(name)) return fail(`Unknown tool "${name}". Available tools: ${toolNames.join(', ')}.`);
  if (argumentsJson.length > maxToolArgumentsLength) {
    return fail(`Arguments are ${argumentsJson.length} characters; the limit is ${maxToolArgumentsLength}.`);
  }
  let json: unknown;
  try {
    // Models sometimes send "" for a tool without required parameters; that means no arguments.
    json = argumentsJson.trim() === '' ? {} : JSON.parse(argumentsJson);
  } catch (error) {
    return fail(`Arguments are not valid JSON (${(error as Error).message}); send a JSON object.`);
  }
  const tool: Tool<z.ZodType> = registry[name];
  const parsed = tool.parameters.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`,
    );
    return fail(`Invalid arguments for ${name}: ${problems.join('; ')}.`);
  }
  try {
    return { name, content: await tool.run(parsed.data, ctx), isError: false };
  } catch (error) {
    if (error instanceof ToolInputError) return fail(error.message);
    // An unexpected failure is still reported to the model rather than failing the whole run; the
    // message only, never a stack.
    return fail(`${name} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
