/**
 * The floor under every host that runs the real SDK: the bench app's functions invoked through the real
 * worker pipeline (`@azure/functions`' InvocationModel, hooks and conversions) and the real durable-functions
 * replay, with everything a host adds taken away. No store, no HTTP, no scheduling, no concurrency limits,
 * no logging: each episode gets the history a host would hand it, built here as text, and each activity the
 * orchestrator asks for is invoked at once.
 *
 * A host that runs the SDK's replay through the worker pipeline does at least this work, so on chains and
 * many small orchestrations the peer's time over this one is the best ratio any such host could reach.
 * Activities run here one after another, so for a fan-out this is no tighter than a host that runs them
 * concurrently.
 */
import { type OrchestratorState, flattenActions, actionInputJson } from '../devhost/src/durable/actions';
import { orchestrationTriggerFields } from '../devhost/src/durable/episode';
import { EventType, historyEvent } from '../devhost/src/durable/history';
import { typedDataValue } from '../devhost/src/durable/values';
import { findEntryPoints, loadEntryPoint } from '../devhost/src/functions/loader';
import { FunctionsRuntime, type InvocationResponse } from '../devhost/src/functions/runtime';
import { HostLog } from '../devhost/src/log';

export interface FloorWorkload {
  orchestration: string;
  /** The orchestration's input. */
  size: number;
  instances: number;
}

/** Loads the app into this process (once) and runs the workload; returns milliseconds. */
export async function measureFloor(appDir: string, workload: FloorWorkload): Promise<number> {
  const runtime = new FunctionsRuntime(new HostLog(() => undefined, 'quiet'));
  runtime.installCoreModule();
  for (const file of findEntryPoints(appDir)) await loadEntryPoint(appDir, file);
  await runtime.finishLoading();
  try {
    const started = performance.now();
    for (let i = 0; i < workload.instances; i++) {
      const output = await runInstance(runtime, workload.orchestration, `floor-${String(i)}`, workload.size);
      // Both bench orchestrations return their input size: anything else means the work was not done.
      if (output !== workload.size) throw new Error(`floor instance ${String(i)} returned ${String(output)}`);
    }
    return performance.now() - started;
  } finally {
    await runtime.close();
  }
}

async function invoke(
  runtime: FunctionsRuntime,
  name: string,
  data: string,
  instanceId?: string,
): Promise<InvocationResponse> {
  const registered = runtime.functions.get(name);
  if (!registered) throw new Error(`the bench app has no function '${name}'`);
  const outcome = await runtime.invoke(name, [{ name: registered.triggerKey, data: { string: data } }], {
    reason: '(null)',
    quiet: true,
    ...(instanceId ? { triggerMetadata: { instanceId: { json: JSON.stringify(instanceId) } } } : {}),
  });
  if (!outcome.ok) throw outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
  return outcome.response;
}

/** One orchestration to its end: episodes and activities, one after another, as text in and out. */
async function runInstance(
  runtime: FunctionsRuntime,
  name: string,
  instanceId: string,
  input: number,
): Promise<unknown> {
  const rest = JSON.stringify(
    orchestrationTriggerFields({ input, instanceId, isReplaying: true, parentInstanceId: null }),
  ).slice(1);
  const text = (type: EventType, fields: Parameters<typeof historyEvent>[1] = {}) =>
    JSON.stringify(historyEvent(type, fields));
  // What earlier episodes recorded, and what arrived since (the first time: the start itself).
  let played = '';
  let fresh = text(EventType.ExecutionStarted, { Name: name, Input: JSON.stringify(input), Version: '' });
  let cursor = 0;
  for (;;) {
    const history = `${played}${played === '' ? '' : ','}${text(EventType.OrchestratorStarted)},${fresh}`;
    const response = await invoke(runtime, name, `{"history":[${history}],${rest}`);
    const state = typedDataValue(response.returnValue) as OrchestratorState;
    if (state.isDone) return state.output;
    played = history;
    const completions: string[] = [];
    const actions = flattenActions(state.actions?.[0] ?? []);
    for (; cursor < actions.length; cursor++) {
      const action = actions[cursor];
      if (!action?.functionName) throw new Error('the floor runs activities only');
      const activityInput = actionInputJson(action);
      played += `,${text(EventType.TaskScheduled, { EventId: cursor, Name: action.functionName, Input: activityInput })}`;
      const result = await invoke(runtime, action.functionName, activityInput ?? 'null', instanceId);
      const value = typedDataValue(result.returnValue);
      completions.push(
        text(EventType.TaskCompleted, {
          TaskScheduledId: cursor,
          Result: value === undefined ? 'null' : JSON.stringify(value),
        }),
      );
    }
    played += `,${text(EventType.OrchestratorCompleted)}`;
    fresh = completions.join(',');
  }
}
