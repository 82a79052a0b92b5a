import type { InvocationContext } from '@azure/functions';
import { messageOnly } from '../lib/safeErrors';

/**
 * The edge between an activity and durable state. A failure thrown past it is recorded in history and
 * may end up in the run's output and custom status, which the owner reads, so only its message crosses:
 * the whole error, stack included, goes to the log, where operators look.
 */
export function atActivityBoundary<I, O>(
  name: string,
  handler: (input: I, context: InvocationContext) => O | Promise<O>,
): (input: I, context: InvocationContext) => Promise<O> {
  return async (input, context) => {
    try {
      return await handler(input, context);
    } catch (error) {
      context.error(`Activity ${name} failed:`, error);
      throw messageOnly(error);
    }
  };
}
