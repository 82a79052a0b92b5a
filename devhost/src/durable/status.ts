/**
 * How an orchestration instance is shown over HTTP, as the Durable Task extension shows it: the status
 * payload and its history. The management API answers with it and the dashboard lists and shows it.
 */
import { EventType, type HistoryEvent } from './history';
import { type OrchestrationRecord } from './store';

/** The status payload of the extension (`StatusResponsePayload`). */
export function statusBody(
  instance: OrchestrationRecord,
  showInput: boolean,
  historyEvents?: Record<string, unknown>[],
): Record<string, unknown> {
  return {
    name: instance.name,
    instanceId: instance.instanceId,
    runtimeStatus: instance.runtimeStatus,
    input: showInput ? parseJsonText(instance.input) : null,
    customStatus: parseJsonText(instance.customStatus),
    output: parseJsonText(instance.output),
    // The orchestration version, shown when it has one (host.json defaultVersion or the caller's).
    ...(instance.version ? { version: instance.version } : {}),
    createdTime: formatTime(instance.createdTime),
    lastUpdatedTime: formatTime(instance.lastUpdatedTime),
    ...(historyEvents ? { historyEvents } : {}),
  };
}

/** History the way the extension shows it: named event types, completions joined with what they answer. */
export function historyForStatus(
  history: HistoryEvent[],
  flags: { showHistoryOutput: boolean; showInput: boolean },
): Record<string, unknown>[] {
  const scheduled = new Map<string, { index: number; name?: string; time: string; input?: string | null }>();
  const drop = new Set<number>();
  const items = history.map((event, index) => {
    const item: Record<string, unknown> = {
      ...event,
      EventType: EventType[event.EventType] ?? event.EventType,
    };
    switch (event.EventType) {
      case EventType.TaskScheduled:
      case EventType.SubOrchestrationInstanceCreated:
        scheduled.set(`${event.EventType}_${event.EventId}`, {
          index,
          ...(event.Name !== undefined ? { name: event.Name } : {}),
          time: event.Timestamp,
          input: event.Input ?? null,
        });
        delete item.Version;
        break;
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed: {
        const isTask =
          event.EventType === EventType.TaskCompleted || event.EventType === EventType.TaskFailed;
        const source = scheduled.get(
          `${isTask ? EventType.TaskScheduled : EventType.SubOrchestrationInstanceCreated}_${event.TaskScheduledId}`,
        );
        if (source) {
          item.ScheduledTime = source.time;
          item.FunctionName = source.name;
          if (flags.showInput) item.Input = source.input;
          drop.add(source.index);
        }
        delete item.TaskScheduledId;
        const completed =
          event.EventType === EventType.TaskCompleted ||
          event.EventType === EventType.SubOrchestrationInstanceCompleted;
        if (completed) {
          if (flags.showHistoryOutput) item.Result = parseJsonText(event.Result ?? null);
          else delete item.Result;
        }
        break;
      }
      case EventType.ExecutionStarted:
        item.FunctionName = event.Name;
        delete item.Name;
        delete item.ParentInstance;
        delete item.Version;
        break;
      case EventType.ExecutionCompleted:
        if (flags.showHistoryOutput) item.Result = parseJsonText(event.Result ?? null);
        else delete item.Result;
        break;
      case EventType.TimerFired:
        delete item.TimerId;
        break;
      case EventType.OrchestratorStarted:
      case EventType.OrchestratorCompleted:
        drop.add(index);
        break;
      default:
        break;
    }
    if (!flags.showInput && event.EventType !== EventType.TaskCompleted) delete item.Input;
    delete item.EventId;
    delete item.IsPlayed;
    return item;
  });
  return items.filter((_item, index) => !drop.has(index));
}

export function parseJsonText(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The extension writes times as `yyyy-MM-ddTHH:mm:ssZ`. */
export function formatTime(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
