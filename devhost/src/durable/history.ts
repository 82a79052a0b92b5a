/**
 * History events as the Durable Task extension hands them to out-of-process SDKs (PascalCase fields,
 * numeric EventType). The SDK matches completions by id, so only the fields below matter to it; the rest
 * is what the status API shows.
 */
export enum EventType {
  ExecutionStarted = 0,
  ExecutionCompleted = 1,
  ExecutionTerminated = 3,
  TaskScheduled = 4,
  TaskCompleted = 5,
  TaskFailed = 6,
  SubOrchestrationInstanceCreated = 7,
  SubOrchestrationInstanceCompleted = 8,
  SubOrchestrationInstanceFailed = 9,
  TimerCreated = 10,
  TimerFired = 11,
  OrchestratorStarted = 12,
  OrchestratorCompleted = 13,
  EventSent = 14,
  EventRaised = 15,
  ContinueAsNew = 16,
  ExecutionSuspended = 19,
  ExecutionResumed = 20,
}

export interface HistoryEvent {
  EventType: EventType;
  EventId: number;
  IsPlayed: boolean;
  Timestamp: string;
  Name?: string;
  Input?: string | null;
  Result?: string | null;
  Reason?: string;
  Details?: string;
  TaskScheduledId?: number;
  TimerId?: number;
  FireAt?: string;
  InstanceId?: string;
  Version?: string;
  OrchestrationStatus?: string;
  ParentInstance?: { InstanceId: string; TaskScheduledId: number } | null;
}

/** Builds an event; `EventId` is -1 for events that answer something rather than schedule it, as in DTFx. */
export function historyEvent(
  type: EventType,
  fields: Omit<Partial<HistoryEvent>, 'EventType'> = {},
  now: Date = new Date(),
): HistoryEvent {
  return { EventType: type, EventId: -1, IsPlayed: false, Timestamp: now.toISOString(), ...fields };
}

/** The task id a completion event answers, for the events that answer one. */
export function completedTaskId(event: HistoryEvent): number | undefined {
  switch (event.EventType) {
    case EventType.TaskCompleted:
    case EventType.TaskFailed:
    case EventType.SubOrchestrationInstanceCompleted:
    case EventType.SubOrchestrationInstanceFailed:
      return event.TaskScheduledId;
    case EventType.TimerFired:
      return event.TimerId;
    default:
      return undefined;
  }
}
