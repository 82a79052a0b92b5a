/**
 * Scheduling: what an orchestrator's actions become (history events, messages, work items), host-side
 * retries with the Durable Task Framework's semantics, and how an execution ends (completion, failure,
 * continue-as-new) and tells its parent.
 */
import { randomUUID } from 'node:crypto';
import { ActionType, type OrchestratorAction, actionInputJson } from './actions';
import { EventType, type HistoryEvent, historyEvent } from './history';
import {
  type EntityOperationMessage,
  type NewInstanceMessage,
  type OrchestrationRecord,
  type RetryPolicy,
  type RetryState,
  type WorkItem,
} from './store';
import { childVersion } from './versions';

/** What one episode adds: history events, messages, and the work to run once it is stored. */
export interface EpisodeWork {
  append: HistoryEvent[];
  send: NewInstanceMessage[];
  activities: { taskId: number; name: string; input: string | null }[];
  children: { taskId: number; name: string; instanceId: string; input: string | null; version?: string }[];
  httpCalls: { taskId: number; request: NonNullable<OrchestratorAction['httpRequest']> }[];
  wake: Set<string>;
  continueAsNew?: { input: string | null };
  unsupported?: string;
  timersScheduled: boolean;
}

export function newEpisodeWork(append: HistoryEvent[]): EpisodeWork {
  return {
    append,
    send: [],
    activities: [],
    children: [],
    httpCalls: [],
    wake: new Set(),
    timersScheduled: false,
  };
}

export function executionStarted(record: OrchestrationRecord): HistoryEvent {
  return historyEvent(EventType.ExecutionStarted, {
    Name: record.name,
    Input: record.input,
    Version: record.version ?? '',
    ParentInstance: record.parent
      ? { InstanceId: record.parent.instanceId, TaskScheduledId: record.parent.taskScheduledId }
      : null,
  });
}

export function schedule(
  instance: OrchestrationRecord,
  action: OrchestratorAction,
  position: number,
  work: EpisodeWork,
  now: Date,
  /** host.json `defaultVersion` now: what a child started without a version gets. */
  defaultVersion: string | undefined,
): void {
  const input = actionInputJson(action);
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry: {
      const taskId = instance.nextEventId++;
      const name = action.functionName ?? '';
      work.append.push(historyEvent(EventType.TaskScheduled, { EventId: taskId, Name: name, Input: input }));
      work.activities.push({ taskId, name, input });
      if (action.actionType === ActionType.CallActivityWithRetry) {
        instance.retries[String(taskId)] = newRetry('activity', name, input, action, taskId, now);
      }
      return;
    }
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry: {
      const taskId = instance.nextEventId++;
      const name = action.functionName ?? '';
      const childId =
        action.instanceId && action.instanceId !== '' ? action.instanceId : childInstanceId(instance, taskId);
      work.append.push(
        historyEvent(EventType.SubOrchestrationInstanceCreated, {
          EventId: taskId,
          Name: name,
          InstanceId: childId,
          Input: input,
        }),
      );
      const version = childVersion(action.version, defaultVersion);
      work.children.push({ taskId, name, instanceId: childId, input, version });
      if (action.actionType === ActionType.CallSubOrchestratorWithRetry) {
        const retry = newRetry('subOrchestration', name, input, action, taskId, now);
        if (action.instanceId) retry.subInstanceId = action.instanceId;
        // Every attempt is the same child call: it keeps the version the first one got.
        retry.version = version;
        instance.retries[String(taskId)] = retry;
      }
      return;
    }
    case ActionType.ContinueAsNew:
      work.continueAsNew = { input };
      return;
    case ActionType.CreateTimer: {
      const timerId = instance.nextEventId++;
      const fireAt = new Date(action.fireAt ?? now).toISOString();
      work.append.push(historyEvent(EventType.TimerCreated, { EventId: timerId, FireAt: fireAt }));
      if (!action.isCanceled) {
        instance.openTimers[String(position)] = timerId;
        sendTimer(instance, timerId, fireAt, work);
      }
      return;
    }
    case ActionType.WaitForExternalEvent:
      return;
    case ActionType.CallEntity:
    case ActionType.SignalEntity: {
      const taskId = instance.nextEventId++;
      const entityId = action.instanceId ?? '';
      const isSignal = action.actionType === ActionType.SignalEntity;
      const requestId = randomUUID();
      const operationInput = action.input === undefined ? undefined : JSON.stringify(action.input);
      work.append.push(
        historyEvent(EventType.EventSent, {
          EventId: taskId,
          Name: 'op',
          InstanceId: entityId,
          Input: JSON.stringify({
            id: requestId,
            op: action.operation,
            signal: isSignal,
            input: operationInput,
            parent: instance.instanceId,
          }),
        }),
      );
      const operation: EntityOperationMessage = {
        id: requestId,
        operation: action.operation ?? '',
        isSignal,
      };
      if (operationInput !== undefined) operation.input = operationInput;
      if (!isSignal) operation.parentInstanceId = instance.instanceId;
      work.send.push({ instanceId: entityId, kind: 'operation', operation });
      work.wake.add(entityId);
      return;
    }
    case ActionType.CallHttp: {
      const taskId = instance.nextEventId++;
      work.append.push(
        historyEvent(EventType.TaskScheduled, {
          EventId: taskId,
          Name: 'BuiltIn::HttpActivity',
          Input: JSON.stringify(action.httpRequest ?? {}),
        }),
      );
      work.httpCalls.push({ taskId, request: action.httpRequest ?? {} });
      return;
    }
    default:
      work.unsupported =
        `The orchestrator asked for action type ${String(action.actionType)} (${ActionType[action.actionType] ?? 'unknown'}), ` +
        'which the devhost does not support.';
  }
}

function sendTimer(instance: OrchestrationRecord, timerId: number, fireAt: string, work: EpisodeWork): void {
  work.send.push({
    instanceId: instance.instanceId,
    kind: 'event',
    executionId: instance.executionId,
    visibleAt: fireAt,
    event: historyEvent(EventType.TimerFired, { TimerId: timerId, FireAt: fireAt }),
  });
  work.timersScheduled = true;
}

function newRetry(
  kind: RetryState['kind'],
  name: string,
  input: string | null,
  action: OrchestratorAction,
  taskId: number,
  now: Date,
): RetryState {
  const options = action.retryOptions ?? {};
  const policy: RetryPolicy = {
    firstRetryIntervalMs: options.firstRetryIntervalInMilliseconds ?? 1000,
    maxNumberOfAttempts: options.maxNumberOfAttempts ?? 1,
    backoffCoefficient: options.backoffCoefficient ?? 1,
    maxRetryIntervalMs: options.maxRetryIntervalInMilliseconds ?? Number.MAX_SAFE_INTEGER,
    retryTimeoutMs: options.retryTimeoutInMilliseconds ?? Number.MAX_SAFE_INTEGER,
  };
  return {
    kind,
    name,
    input,
    options: policy,
    attempt: 1,
    firstAttemptAt: now.toISOString(),
    waitingOn: taskId,
    phase: 'attempt',
  };
}

/** The retry an event moves forward (an attempt failed, or its retry timer fired), if any. */
export function retryToAdvance(instance: OrchestrationRecord, event: HistoryEvent): string | undefined {
  const answered =
    event.EventType === EventType.TimerFired
      ? event.TimerId
      : event.EventType === EventType.TaskCompleted ||
          event.EventType === EventType.TaskFailed ||
          event.EventType === EventType.SubOrchestrationInstanceCompleted ||
          event.EventType === EventType.SubOrchestrationInstanceFailed
        ? event.TaskScheduledId
        : undefined;
  if (answered === undefined) return undefined;
  const key = String(answered);
  const retry = instance.retries[key];
  if (!retry) return undefined;
  if (
    event.EventType === EventType.TaskCompleted ||
    event.EventType === EventType.SubOrchestrationInstanceCompleted
  ) {
    delete instance.retries[key];
    return undefined;
  }
  if (event.EventType === EventType.TimerFired) return retry.phase === 'timer' ? key : undefined;
  return retry.phase === 'attempt' ? key : undefined;
}

/**
 * Host-side retries with DTFx RetryInterceptor semantics: after each failed attempt a timer
 * (firstRetryInterval * backoffCoefficient^(attempt-1), capped by maxRetryInterval), then the next attempt;
 * after the last attempt one more timer, then the SDK fails the task. Once retryTimeout has passed the
 * remaining attempts fail at once, so the orchestrator sees the failure without waiting.
 */
export function advanceRetry(
  instance: OrchestrationRecord,
  key: string,
  event: HistoryEvent | undefined,
  work: EpisodeWork,
  now: Date,
): void {
  const retry = instance.retries[key];
  if (!retry || !event) return;
  delete instance.retries[key];
  const policy = retry.options;
  const timedOut = now.getTime() - Date.parse(retry.firstAttemptAt) >= policy.retryTimeoutMs;
  if (retry.phase === 'attempt') {
    retry.lastReason = event.Reason ?? '';
    retry.lastDetails = event.Details ?? '';
    const delay = timedOut
      ? 0
      : Math.min(
          policy.firstRetryIntervalMs * Math.pow(policy.backoffCoefficient, retry.attempt - 1),
          policy.maxRetryIntervalMs,
        );
    const timerId = instance.nextEventId++;
    const fireAt = new Date(now.getTime() + delay).toISOString();
    work.append.push(historyEvent(EventType.TimerCreated, { EventId: timerId, FireAt: fireAt }));
    sendTimer(instance, timerId, fireAt, work);
    retry.phase = 'timer';
    retry.waitingOn = timerId;
    instance.retries[String(timerId)] = retry;
    return;
  }
  if (retry.attempt >= policy.maxNumberOfAttempts) return;
  const taskId = instance.nextEventId++;
  retry.attempt += 1;
  retry.phase = 'attempt';
  retry.waitingOn = taskId;
  instance.retries[String(taskId)] = retry;
  if (retry.kind === 'activity') {
    work.append.push(
      historyEvent(EventType.TaskScheduled, { EventId: taskId, Name: retry.name, Input: retry.input }),
    );
    if (timedOut) {
      work.send.push(
        answer(instance, EventType.TaskFailed, taskId, {
          Reason: retry.lastReason,
          Details: retry.lastDetails,
        }),
      );
    } else {
      work.activities.push({ taskId, name: retry.name, input: retry.input });
    }
    return;
  }
  const childId = retry.subInstanceId ?? childInstanceId(instance, taskId);
  work.append.push(
    historyEvent(EventType.SubOrchestrationInstanceCreated, {
      EventId: taskId,
      Name: retry.name,
      InstanceId: childId,
      Input: retry.input,
    }),
  );
  if (timedOut) {
    work.send.push(
      answer(instance, EventType.SubOrchestrationInstanceFailed, taskId, {
        Reason: retry.lastReason,
        Details: retry.lastDetails,
      }),
    );
  } else {
    work.children.push({
      taskId,
      name: retry.name,
      instanceId: childId,
      input: retry.input,
      version: retry.version ?? '',
    });
  }
}

export function answer(
  instance: Pick<OrchestrationRecord, 'instanceId' | 'executionId'>,
  type: EventType,
  taskId: number,
  fields: Partial<HistoryEvent>,
): NewInstanceMessage {
  return {
    instanceId: instance.instanceId,
    kind: 'event',
    executionId: instance.executionId,
    event: historyEvent(type, { TaskScheduledId: taskId, ...fields }),
  };
}

/** Ends the execution Failed; `asIs` keeps the message without the orchestrator-failure prefix. */
export function fail(instance: OrchestrationRecord, message: string, work: EpisodeWork, asIs = false): void {
  const reason = asIs ? message : `Orchestrator function '${instance.name}' failed: ${message}`;
  instance.runtimeStatus = 'Failed';
  instance.output = JSON.stringify(reason);
  work.append.push(
    historyEvent(EventType.ExecutionCompleted, { OrchestrationStatus: 'Failed', Result: instance.output }),
  );
  notifyParent(instance, work, {
    EventType: EventType.SubOrchestrationInstanceFailed,
    Reason: reason,
    Details: message,
  });
}

export function continueAsNew(instance: OrchestrationRecord, input: string | null, work: EpisodeWork): void {
  instance.executionId = newExecutionId();
  instance.input = input;
  instance.output = null;
  instance.runtimeStatus = 'Running';
  instance.nextEventId = 0;
  instance.actionCursor = 0;
  instance.retries = {};
  instance.openTimers = {};
  work.send.push({
    instanceId: instance.instanceId,
    kind: 'event',
    executionId: instance.executionId,
    event: executionStarted(instance),
  });
}

export function notifyParent(
  instance: OrchestrationRecord,
  work: EpisodeWork,
  fields: Partial<HistoryEvent> & { EventType: EventType },
): void {
  const parent = instance.parent;
  if (!parent) return;
  work.send.push({
    ...answer(
      { instanceId: parent.instanceId, executionId: parent.executionId },
      fields.EventType,
      parent.taskScheduledId,
      fields,
    ),
  });
  work.wake.add(parent.instanceId);
}

/**
 * The work an episode scheduled, as stored items. Ids are `<execution>:<task id>`, so the same work run
 * again after a restart answers the same task. Made before the instance record changes execution
 * (continue-as-new schedules nothing).
 */
export function workItems(instance: OrchestrationRecord, work: EpisodeWork): WorkItem[] {
  const base = (taskId: number) => ({
    id: `${instance.executionId}:${String(taskId)}`,
    instanceId: instance.instanceId,
    executionId: instance.executionId,
    taskId,
  });
  return [
    ...work.activities.map((a): WorkItem => ({
      ...base(a.taskId),
      kind: 'activity',
      name: a.name,
      input: a.input,
    })),
    ...work.httpCalls.map((c): WorkItem => ({ ...base(c.taskId), kind: 'http', request: c.request })),
    ...work.children.map((c): WorkItem => ({
      ...base(c.taskId),
      kind: 'child',
      name: c.name,
      childInstanceId: c.instanceId,
      input: c.input,
      ...(c.version !== undefined ? { version: c.version } : {}),
    })),
  ];
}

/** Execution ids are GUIDs without dashes, as the Durable Task Framework writes them. */
export function newExecutionId(): string {
  return randomUUID().replace(/-/g, '');
}

/**
 * The id of a sub-orchestration started without one: the Durable Task Framework names it
 * `<parent execution id>:<task id>`, so each attempt of a retried call gets its own child.
 */
function childInstanceId(parent: Pick<OrchestrationRecord, 'executionId'>, taskId: number): string {
  return `${parent.executionId}:${String(taskId)}`;
}
