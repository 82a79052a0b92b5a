import type { InvocationContext } from '@azure/functions';
import { runTool } from '../agents/tools';
import type { AppConfig } from '../config';
import type { RunToolInput, RunToolResult } from '../contracts/model';
import { forLog } from '../lib/logText';

export interface RunToolDeps {
  config: AppConfig;
  /** The clock tools see (current_time); tests fix it. */
  now?: () => Date;
}

/**
 * Runs one tool call. The model's mistakes come back as `isError: true` for it to read on its next
 * turn; nothing here is retried, because running the same bad arguments again gives the same answer.
 */
export function createRunTool(
  deps: RunToolDeps,
): (input: RunToolInput, context: InvocationContext) => Promise<RunToolResult> {
  const now = deps.now ?? (() => new Date());
  return async (input, context) => {
    const name = typeof input?.name === 'string' ? input.name : '';
    const args = typeof input?.arguments === 'string' ? input.arguments : '';
    const result = await runTool(name, args, { now: now(), allowNetwork: deps.config.toolsAllowNetwork });
    if (result.isError)
      context.log(
        `Tool ${forLog(name, 64) || '(unnamed)'} reported an error to the model: ${forLog(result.content)}`,
      );
    return result;
  };
}
