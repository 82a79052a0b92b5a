import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ActionType, flattenActions, type OrchestratorState } from '../../devhost/src/durable/actions';
import { typedDataValue } from '../../devhost/src/durable/engine';
import { orchestrationTriggerFields } from '../../devhost/src/durable/episode';
import { EventType, type HistoryEvent } from '../../devhost/src/durable/history';
import { findEntryPoints } from '../../devhost/src/functions/loader';
import { FunctionsRuntime } from '../../devhost/src/functions/runtime';
import { HostLog } from '../../devhost/src/log';
import type { RecordedHistory } from '../../scripts/recordHistories';

export const projectRoot = path.resolve(__dirname, '..', '..');
export const historiesDir = path.join(projectRoot, 'test', 'replay', 'histories');

/** One step an orchestrator schedules, as far as replay cares: what it is and what it names. */
export interface Step {
  kind: 'activity' | 'sub-orchestration' | 'timer' | 'entity';
  name?: string;
  instanceId?: string;
}

export function describeStep(step: Step | undefined): string {
  if (!step) return 'nothing';
  switch (step.kind) {
    case 'activity':
      return `activity ${step.name}`;
    case 'sub-orchestration':
      return `sub-orchestration ${step.name} (${step.instanceId})`;
    case 'timer':
      return 'a timer';
    case 'entity':
      return `entity operation ${step.name} on ${step.instanceId}`;
  }
}

export function readHistories(dir = historiesDir): { file: string; recorded: RecordedHistory }[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({
      file,
      recorded: JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as RecordedHistory,
    }));
}

/**
 * The steps a history says were scheduled, in task-id order. Inputs and timer times are left out on
 * purpose: on replay Durable matches each result to its task by id, so a new prompt text or deadline
 * does not break a waiting run, while a different step at the same id does.
 */
export function recordedSteps(history: readonly HistoryEvent[]): Step[] {
  const steps: { id: number; step: Step }[] = [];
  for (const e of history) {
    switch (e.EventType) {
      case EventType.TaskScheduled:
        steps.push({ id: e.EventId, step: { kind: 'activity', name: e.Name ?? '' } });
        break;
      case EventType.SubOrchestrationInstanceCreated:
        steps.push({
          id: e.EventId,
          step: { kind: 'sub-orchestration', name: e.Name ?? '', instanceId: e.InstanceId ?? '' },
        });
        break;
      case EventType.TimerCreated:
        steps.push({ id: e.EventId, step: { kind: 'timer' } });
        break;
      case EventType.EventSent: {
        const op = (JSON.parse(e.Input ?? '{}') as { op?: string }).op ?? e.Name ?? '';
        steps.push({ id: e.EventId, step: { kind: 'entity', name: op, instanceId: e.InstanceId ?? '' } });
        break;
      }
      default:
        break;
    }
  }
  return steps.sort((a, b) => a.id - b.id).map((s) => s.step);
}

/** The steps the orchestrator's actions ask for, in the order the SDK numbers them. */
export function producedSteps(state: OrchestratorState): Step[] {
  const steps: Step[] = [];
  for (const action of flattenActions(state.actions?.[0] ?? [])) {
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry:
        steps.push({ kind: 'activity', name: action.functionName ?? '' });
        break;
      case ActionType.CallHttp:
        steps.push({ kind: 'activity', name: 'BuiltIn::HttpActivity' });
        break;
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry:
        steps.push({
          kind: 'sub-orchestration',
          name: action.functionName ?? '',
          instanceId: action.instanceId ?? '',
        });
        break;
      case ActionType.CreateTimer:
        steps.push({ kind: 'timer' });
        break;
      case ActionType.CallEntity:
      case ActionType.SignalEntity:
        steps.push({ kind: 'entity', name: action.operation ?? '', instanceId: action.instanceId ?? '' });
        break;
      default:
        // Waiting for an event takes no task id and leaves no scheduling event; ContinueAsNew ends the list.
        break;
    }
  }
  return steps;
}

const sameStep = (a: Step | undefined, b: Step | undefined) =>
  a !== undefined &&
  b !== undefined &&
  a.kind === b.kind &&
  (a.name ?? '') === (b.name ?? '') &&
  (a.instanceId ?? '') === (b.instanceId ?? '');

export function howToVersion(file: string, recorded: RecordedHistory): string {
  return [
    `A run of ${recorded.orchestrator} that is waiting at this point ("${recorded.scenario}", test/replay/histories/${file})`,
    'would fail or take a wrong turn after this deploy. To change the steps safely:',
    '  1. Bump the version: host.json durableTask.defaultVersion and currentOrchestrationVersion in',
    '     src/orchestrators/version.ts (for example 1.0 -> 1.1). New runs start with the new version.',
    "  2. Keep the old steps for runs that started earlier: if (versionAtLeast(context, '1.1')) { new steps }",
    '     else { the steps this history recorded }. Runs keep their version for life.',
    '  3. Run `npm run record-histories` to add histories of the new version. Keep the older files: they',
    '     prove that runs started by the old code still replay.',
    'If no run can be waiting at this point in production (nothing was deployed with it yet), re-record instead.',
    'See README.md, "Changing an orchestrator safely".',
  ].join('\n');
}

/**
 * Compares what the code schedules now with what the history recorded, step by step. Null when they
 * agree; otherwise the message a developer needs. Steps past the end of the history are new work and
 * are not compared.
 */
export function replayMismatch(
  file: string,
  recorded: RecordedHistory,
  outcome: { state?: OrchestratorState; failure?: string },
): string | null {
  const where = `Replaying ${recorded.orchestrator} from test/replay/histories/${file}`;
  if (outcome.failure !== undefined && outcome.state === undefined) {
    return `${where}: the orchestrator failed on replay: ${outcome.failure}\n\n${howToVersion(file, recorded)}`;
  }
  const expected = recordedSteps(recorded.history);
  const produced = producedSteps(outcome.state ?? { isDone: false });
  for (let i = 0; i < expected.length; i++) {
    if (!sameStep(expected[i], produced[i])) {
      return (
        `${where}: step ${i} (task id ${i}) was ${describeStep(expected[i])} when the history was recorded, ` +
        `but the code now schedules ${describeStep(produced[i])} there.\n\n${howToVersion(file, recorded)}`
      );
    }
  }
  if (outcome.state?.error !== undefined) {
    return `${where}: the orchestrator threw on replay: ${outcome.state.error}\n\n${howToVersion(file, recorded)}`;
  }
  return null;
}

/**
 * The built app, loaded as the Node worker loads it (through the devhost's function runtime), so the
 * orchestrators run inside the real durable-functions SDK.
 */
export async function loadBuiltApp(): Promise<{
  replay: (r: RecordedHistory) => Promise<ReplayOutcome>;
  unload: () => Promise<void>;
}> {
  // The app reads its settings at load; none of these is called during a replay.
  Object.assign(process.env, {
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:9',
    AZURE_OPENAI_API_KEY: 'replay-key',
    AZURE_OPENAI_FAST_DEPLOYMENT: 'gpt-4o-mini',
    AZURE_OPENAI_STRONG_DEPLOYMENT: 'gpt-4o',
    AZURE_AI_PROJECT_ENDPOINT: 'http://127.0.0.1:9/api/projects/replay',
    BING_CONNECTION_ID: 'replay-bing-connection',
    AUTH_MODE: 'dev',
  });
  const runtime = new FunctionsRuntime(new HostLog(() => undefined, 'quiet'));
  // Under Jest every require goes through Jest's module registry, not Module.prototype.require, so
  // the worker's core module is handed to the app the registry's way, under the same name.
  jest.doMock('@azure/functions-core', () => runtime.coreApi, { virtual: true });
  const uninstall = () => jest.dontMock('@azure/functions-core');
  try {
    let files: string[];
    try {
      files = findEntryPoints(projectRoot);
    } catch (error) {
      throw new Error(`The replay test runs the built app: run \`npm run build\` first. (${String(error)})`, {
        cause: error,
      });
    }
    for (const file of files) {
      const absolute = path.resolve(projectRoot, file);
      createRequire(absolute)(absolute);
    }
    await runtime.finishLoading();
  } catch (error) {
    await runtime.close();
    uninstall();
    throw error;
  }
  return {
    unload: async () => {
      await runtime.close();
      uninstall();
    },
    replay: async (recorded) => {
      const registered = runtime.functions.get(recorded.orchestrator);
      if (!registered) {
        return {
          failure: `no orchestrator named ${recorded.orchestrator} is registered any more (renaming one breaks runs in flight)`,
        };
      }
      const payload = {
        history: recorded.history.map((e) => ({ ...e, IsPlayed: true })),
        ...orchestrationTriggerFields({
          input: recorded.input,
          instanceId: recorded.instanceId,
          isReplaying: true,
          parentInstanceId: null,
        }),
      };
      const outcome = await runtime.invoke(
        recorded.orchestrator,
        [{ name: registered.triggerKey, data: { string: JSON.stringify(payload) } }],
        { reason: 'replay test', quiet: true },
      );
      if (outcome.ok) return { state: typedDataValue(outcome.response.returnValue) as OrchestratorState };
      const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
      const label = '$OutOfProcData$:';
      const at = message.indexOf(label);
      if (at < 0) return { failure: message };
      return { state: JSON.parse(message.slice(at + label.length)) as OrchestratorState, failure: message };
    },
  };
}

export interface ReplayOutcome {
  state?: OrchestratorState;
  failure?: string;
}
