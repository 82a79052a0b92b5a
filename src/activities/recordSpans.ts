import type { InvocationContext } from '@azure/functions';
import { recordSpansInputSchema } from '../contracts/telemetry';
import { emitRunSpans, emitSubtaskSpan, flushRunTree } from '../telemetry/runTree';

/**
 * Emits the spans an orchestration may not emit itself (it replays): the run's, a subtask's, the
 * approval waits'. Called once, when the orchestration ends, without retries; Durable runs an activity at
 * least once, so a worker lost after the export and before its completion was stored runs it again and
 * sends the same spans, with the same ids, a second time. Never fails: telemetry must not end a run.
 */
export function createRecordSpans(): (input: unknown, context: InvocationContext) => Promise<void> {
  return async (input, context) => {
    const parsed = recordSpansInputSchema.safeParse(input);
    if (!parsed.success) {
      context.warn(
        `recordSpans: not a span record (${parsed.error.issues[0]?.message ?? 'invalid'}); skipped.`,
      );
      return;
    }
    try {
      if ('run' in parsed.data) emitRunSpans(parsed.data.run);
      else emitSubtaskSpan(parsed.data.subtask);
    } catch (error) {
      context.warn('recordSpans: could not emit the spans:', error);
    }
    await flushRunTree();
  };
}
