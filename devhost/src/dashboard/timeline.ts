/**
 * An instance's history as a timeline: each scheduled thing (activity, sub-orchestration, timer) joined
 * with the event that answered it, so it has a start, an end and a duration; everything else (events
 * raised and sent, suspend/resume, the end) as a point in time. Pure, so tests can feed it histories.
 */
import { EventType, type HistoryEvent } from '../durable/history';

export type TimelineKind =
  | 'started'
  | 'activity'
  | 'sub-orchestration'
  | 'timer'
  | 'event-raised'
  | 'event-sent'
  | 'suspended'
  | 'resumed'
  | 'terminated'
  | 'continued-as-new'
  | 'completed'
  | 'failed';

/**
 * `pending`: not answered yet (still running, or the instance ended without it: a cancelled timer, a
 * task the orchestrator stopped waiting for); `done` for points in time.
 */
export type TimelineOutcome = 'completed' | 'failed' | 'pending' | 'done';

export interface TimelineItem {
  kind: TimelineKind;
  /** Function, event or operation name ('' when there is none). */
  name: string;
  outcome: TimelineOutcome;
  /** When it was scheduled, raised or happened (ISO). */
  start: string;
  /** When its answer came (ISO); absent for points in time and pending items. */
  end?: string;
  /** end - start for answered items. */
  durationMs?: number;
  /** The orchestrator's task id for scheduled items. */
  taskId?: number;
  /** A sub-orchestration's instance, or the target of an event sent (an entity is `@name@key`). */
  instanceId?: string;
  /** A timer's due time (ISO). */
  fireAt?: string;
  /** Input, result, failure reason and details as stored: JSON text, or plain text for reasons. */
  input?: string | null;
  result?: string | null;
  reason?: string;
  details?: string;
}

interface Open {
  item: TimelineItem;
  answers: EventType[];
}

/** Builds the timeline from a history in stored order. */
export function buildTimeline(history: readonly HistoryEvent[]): TimelineItem[] {
  const items: TimelineItem[] = [];
  const open = new Map<string, Open>();
  const openKey = (group: 'task' | 'sub' | 'timer', id: number) => `${group}:${id}`;
  const answer = (key: string, event: HistoryEvent, outcome: 'completed' | 'failed') => {
    const found = open.get(key);
    if (!found || !found.answers.includes(event.EventType)) return false;
    open.delete(key);
    const { item } = found;
    item.outcome = outcome;
    item.end = event.Timestamp;
    item.durationMs = Math.max(0, Date.parse(event.Timestamp) - Date.parse(item.start));
    if (event.Result !== undefined) item.result = event.Result;
    if (event.Reason !== undefined) item.reason = event.Reason;
    if (event.Details !== undefined) item.details = event.Details;
    return true;
  };

  for (const event of history) {
    switch (event.EventType) {
      case EventType.ExecutionStarted:
        items.push({
          kind: 'started',
          name: event.Name ?? '',
          outcome: 'done',
          start: event.Timestamp,
          input: event.Input ?? null,
          ...(event.ParentInstance ? { instanceId: event.ParentInstance.InstanceId } : {}),
        });
        break;
      case EventType.TaskScheduled: {
        const item: TimelineItem = {
          kind: 'activity',
          name: event.Name ?? '',
          outcome: 'pending',
          start: event.Timestamp,
          taskId: event.EventId,
          input: event.Input ?? null,
        };
        items.push(item);
        open.set(openKey('task', event.EventId), {
          item,
          answers: [EventType.TaskCompleted, EventType.TaskFailed],
        });
        break;
      }
      case EventType.SubOrchestrationInstanceCreated: {
        const item: TimelineItem = {
          kind: 'sub-orchestration',
          name: event.Name ?? '',
          outcome: 'pending',
          start: event.Timestamp,
          taskId: event.EventId,
          input: event.Input ?? null,
          ...(event.InstanceId ? { instanceId: event.InstanceId } : {}),
        };
        items.push(item);
        open.set(openKey('sub', event.EventId), {
          item,
          answers: [EventType.SubOrchestrationInstanceCompleted, EventType.SubOrchestrationInstanceFailed],
        });
        break;
      }
      case EventType.TimerCreated: {
        const item: TimelineItem = {
          kind: 'timer',
          name: '',
          outcome: 'pending',
          start: event.Timestamp,
          taskId: event.EventId,
          ...(event.FireAt ? { fireAt: event.FireAt } : {}),
        };
        items.push(item);
        open.set(openKey('timer', event.EventId), { item, answers: [EventType.TimerFired] });
        break;
      }
      case EventType.TaskCompleted:
      case EventType.TaskFailed:
        answer(
          openKey('task', event.TaskScheduledId ?? -1),
          event,
          event.EventType === EventType.TaskCompleted ? 'completed' : 'failed',
        );
        break;
      case EventType.SubOrchestrationInstanceCompleted:
      case EventType.SubOrchestrationInstanceFailed:
        answer(
          openKey('sub', event.TaskScheduledId ?? -1),
          event,
          event.EventType === EventType.SubOrchestrationInstanceCompleted ? 'completed' : 'failed',
        );
        break;
      case EventType.TimerFired:
        answer(openKey('timer', event.TimerId ?? -1), event, 'completed');
        break;
      case EventType.EventRaised:
        items.push({
          kind: 'event-raised',
          name: event.Name ?? '',
          outcome: 'done',
          start: event.Timestamp,
          input: event.Input ?? null,
        });
        break;
      case EventType.EventSent:
        items.push({
          kind: 'event-sent',
          name: sentName(event),
          outcome: 'done',
          start: event.Timestamp,
          input: event.Input ?? null,
          ...(event.InstanceId ? { instanceId: event.InstanceId } : {}),
        });
        break;
      case EventType.ExecutionSuspended:
      case EventType.ExecutionResumed:
        items.push({
          kind: event.EventType === EventType.ExecutionSuspended ? 'suspended' : 'resumed',
          name: '',
          outcome: 'done',
          start: event.Timestamp,
          ...(event.Reason !== undefined ? { reason: event.Reason } : {}),
        });
        break;
      case EventType.ExecutionTerminated: {
        // The termination reason is the event's input, as in the Durable Task Framework.
        const reason = event.Reason ?? event.Input;
        items.push({
          kind: 'terminated',
          name: '',
          outcome: 'done',
          start: event.Timestamp,
          ...(typeof reason === 'string' ? { reason } : {}),
        });
        break;
      }
      case EventType.ContinueAsNew:
        items.push({
          kind: 'continued-as-new',
          name: '',
          outcome: 'done',
          start: event.Timestamp,
          result: event.Result ?? null,
        });
        break;
      case EventType.ExecutionCompleted: {
        const failed = event.OrchestrationStatus === 'Failed';
        items.push({
          kind: failed ? 'failed' : 'completed',
          name: event.OrchestrationStatus ?? '',
          outcome: failed ? 'failed' : 'done',
          start: event.Timestamp,
          result: event.Result ?? null,
          ...(event.Reason !== undefined ? { reason: event.Reason } : {}),
          ...(event.Details !== undefined ? { details: event.Details } : {}),
        });
        break;
      }
      default:
        // OrchestratorStarted/Completed mark episodes: engine detail, not steps of the instance.
        break;
    }
  }
  return items;
}

/** An entity operation is sent as an event named `op` whose input names the operation: show that name. */
function sentName(event: HistoryEvent): string {
  const name = event.Name ?? '';
  if (name !== 'op' || !event.InstanceId?.startsWith('@') || !event.Input) return name;
  try {
    const request = JSON.parse(event.Input) as { op?: unknown; signal?: unknown };
    if (typeof request.op === 'string') return `${request.signal === true ? 'signal' : 'call'} ${request.op}`;
  } catch {
    // not a request the SDK wrote: keep the event's name
  }
  return name;
}

/** `850 ms`, `1.25 s`, `2 min 5 s`, `3 h 4 min`, `2 d 3 h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  const hours = Math.floor(minutes / 60);
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}
