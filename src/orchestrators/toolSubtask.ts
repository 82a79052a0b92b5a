import type { OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { emptyUsage, type SubtaskResult } from '../contracts/agentRun';
import { checked, toolSubtaskInputSchema } from '../contracts/orchestrations';
import { runToolResultSchema, type RunToolInput } from '../contracts/model';
import { activityNames } from '../names';
import { activityRetry, failedSubtask, failureMessage } from './durable';

export type { ToolSubtaskInput } from '../contracts/orchestrations';

/**
 * One direct tool call. It runs as a small sub-orchestration so that, like the other subtasks, it
 * always ends with a result (never a fault) and the run can fan out with a single Task.all.
 */
export const toolSubtaskOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const { subtask } = checked(toolSubtaskInputSchema, context.df.getInput(), 'The tool subtask input');
  try {
    const tool = checked(
      runToolResultSchema,
      yield context.df.callActivityWithRetry(activityNames.runTool, activityRetry(), {
        name: subtask.toolName ?? '',
        arguments: subtask.toolArguments ?? '{}',
      } satisfies RunToolInput),
      'The tool result',
    );
    if (tool.isError) return failedSubtask(subtask, `${tool.name}: ${tool.content}`, emptyUsage);
    const result: SubtaskResult = {
      id: subtask.id,
      kind: subtask.kind,
      title: subtask.title,
      ok: true,
      text: `${tool.name} returned: ${tool.content}`,
      citations: [],
      usage: emptyUsage,
    };
    return result;
  } catch (error) {
    return failedSubtask(subtask, failureMessage(error), emptyUsage);
  }
};
