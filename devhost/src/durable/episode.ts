/**
 * One orchestration episode: the instance's pending messages become new history events, the orchestrator
 * replays the whole history through the real durable-functions SDK, and what it asked for (tasks, timers,
 * its end) is committed with the consumed messages in one store step. Terminate, the version check of
 * host.json and the custom status limit are decided here too.
 */
import { type HostLog, errorMessage } from '../log';
import { type OrchestratorState, flattenActions } from './actions';
import { type EngineContext, type EngineOptions } from './context';
import { EventType, type HistoryEvent, historyEvent } from './history';
import {
  advanceRetry,
  continueAsNew,
  fail,
  newEpisodeWork,
  notifyParent,
  retryToAdvance,
  schedule,
  workItems,
} from './scheduling';
import { type InstanceMessage, type OrchestrationRecord, terminalStatuses } from './store';
import { parseJson, typedDataValue } from './values';
import { compareVersions } from './versions';

/** The extension's limit on a custom status, in whole KB of UTF-16 JSON text. */
const customStatusLimitKb = 16;
/** What the Durable Task Framework records when `versionFailureStrategy` is Fail (failure type VersionMismatch). */
const versionFailureMessage = 'Orchestration version did not comply with Worker Versioning';

/**
 * The orchestration trigger's fields besides `history`, as the extension sends them to out-of-process
 * SDKs (schema V3, its default timer settings).
 */
export function orchestrationTriggerFields(fields: {
  input: unknown;
  instanceId: string;
  isReplaying: boolean;
  parentInstanceId: string | null;
}): Record<string, unknown> {
  return {
    ...fields,
    upperSchemaVersion: 1,
    upperSchemaVersionNew: 2,
    longRunningTimerIntervalDuration: '3.00:00:00',
    maximumShortTimerDuration: '6.00:00:00',
    defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
  };
}

export async function orchestrationEpisode(ctx: EngineContext, id: string): Promise<void> {
  const instance = await ctx.store.getInstance(id);
  const messages = await ctx.store.pendingMessages(id);
  if (!instance) {
    if (messages.length > 0)
      await ctx.store.deleteMessages(
        id,
        messages.map((m) => m.id),
      );
    return;
  }
  ctx.armWake(id, messages);
  const now = new Date();
  const visible = messages.filter((m) => !m.visibleAt || Date.parse(m.visibleAt) <= now.getTime());
  if (visible.length === 0) return;
  if (terminalStatuses.has(instance.runtimeStatus)) {
    // Work for a finished instance (late timers, activity results) has nowhere to go.
    await ctx.store.deleteMessages(
      id,
      visible.map((m) => m.id),
    );
    return;
  }
  const termination = visible.find((m) => m.kind === 'terminate');
  if (termination && termination.kind === 'terminate') {
    await terminate(ctx, instance, termination.reason, messages);
    return;
  }

  // Stored histories always begin with ExecutionStarted: an empty one is an execution yet to start.
  const history = await ctx.store.getHistoryText(id);
  const freshExecution = history.count === 0;
  const startMessage = freshExecution
    ? visible.find((m) => m.kind === 'event' && m.event.EventType === EventType.ExecutionStarted)
    : undefined;
  if (freshExecution && !startMessage) return;
  const ordered = startMessage ? [startMessage, ...visible.filter((m) => m !== startMessage)] : visible;

  const statusEvents: HistoryEvent[] = [];
  const batch: HistoryEvent[] = [];
  const consumed: string[] = [];
  const eventNames = new Set<string>();
  let status = instance.runtimeStatus === 'Pending' ? 'Running' : instance.runtimeStatus;
  let retryKey: string | undefined;
  let leftover = false;
  let heldWhileSuspended = false;
  for (const message of ordered) {
    if (retryKey !== undefined) {
      leftover = true;
      break;
    }
    if (message.kind === 'suspend') {
      if (status !== 'Suspended')
        statusEvents.push(historyEvent(EventType.ExecutionSuspended, { Reason: message.reason }, now));
      status = 'Suspended';
      consumed.push(message.id);
      continue;
    }
    if (message.kind === 'resume') {
      if (status === 'Suspended')
        statusEvents.push(historyEvent(EventType.ExecutionResumed, { Reason: message.reason }, now));
      status = 'Running';
      consumed.push(message.id);
      continue;
    }
    if (message.kind !== 'event') {
      consumed.push(message.id);
      continue;
    }
    if (status === 'Suspended') {
      heldWhileSuspended = true;
      continue;
    }
    if (message.executionId && message.executionId !== instance.executionId) {
      consumed.push(message.id);
      continue;
    }
    const event = message.event;
    if (event.EventType === EventType.EventRaised) {
      // One event per name per episode: an orchestrator that continues as new after one event keeps the rest.
      const name = (event.Name ?? '').toLowerCase();
      if (eventNames.has(name)) {
        leftover = true;
        continue;
      }
      eventNames.add(name);
    }
    if (event.EventType === EventType.TimerFired) {
      // A timer fires when it is delivered, not when it was set.
      event.Timestamp = now.toISOString();
      for (const [position, timerId] of Object.entries(instance.openTimers)) {
        if (timerId === event.TimerId) delete instance.openTimers[position];
      }
    }
    batch.push(event);
    consumed.push(message.id);
    const key = retryToAdvance(instance, event);
    // The SDK numbers the retry's next task when it replays this event: it must be the episode's last one.
    if (key !== undefined) retryKey = key;
  }

  // Events held back by a suspend that a later message in this batch lifted go in the next episode.
  if (heldWhileSuspended && status !== 'Suspended') leftover = true;
  if (batch.length === 0) {
    if (consumed.length > 0 || statusEvents.length > 0) {
      instance.runtimeStatus = status;
      instance.lastUpdatedTime = now.toISOString();
      await ctx.store.commitEpisode(id, { instance, append: statusEvents, consumed, send: [] });
    }
    if (leftover) ctx.wake(id);
    return;
  }

  const started = historyEvent(EventType.OrchestratorStarted, {}, now);
  const newEvents = [...statusEvents, started, ...batch];
  // The stored events are already serialised and marked played: only this episode's events are new text.
  const rest = JSON.stringify(
    orchestrationTriggerFields({
      input: instance.input === null ? null : parseJson(instance.input),
      instanceId: id,
      isReplaying: history.count > 0,
      parentInstanceId: instance.parent?.instanceId ?? null,
    }),
  );
  let events = history.text;
  for (const event of newEvents) events += (events === '' ? '' : ',') + JSON.stringify(event);
  const payloadText = `{"history":[${events}],${rest.slice(1)}`;
  const functionName = instance.name;
  const registered = ctx.runtime.functions.get(functionName);
  let state: OrchestratorState | undefined;
  let failure: string | undefined;
  let versionFailed = false;
  const versionProblem = versionMismatch(ctx.options, instance);
  if (versionProblem !== undefined && ctx.options.versionFailureStrategy !== 'Fail') {
    // Reject: the work stays queued, untouched, for a host whose version matches (a later start of this one).
    if (!ctx.rejectedVersions.has(id)) {
      ctx.rejectedVersions.add(id);
      ctx.log.warn(
        `Orchestration '${id}' is not run: ${versionProblem} It waits for a host with a matching version.`,
      );
    }
    return;
  }
  if (versionProblem !== undefined) {
    // Fail: the orchestrator is not run; the execution ends Failed with the framework's own message.
    versionFailed = true;
    failure = versionFailureMessage;
  } else if (!registered) {
    failure = `The function '${functionName}' doesn't exist, is disabled, or is not an orchestrator function.`;
  } else {
    const outcome = await ctx.runtime.invoke(
      functionName,
      [{ name: registered.triggerKey, data: { string: payloadText } }],
      { reason: '(null)' },
    );
    if (outcome.ok) {
      state = typedDataValue(outcome.response.returnValue) as OrchestratorState | undefined;
      if (!state || typeof state !== 'object')
        failure = 'The orchestrator returned no state: is it registered with df.app.orchestration?';
    } else {
      ({ state, failure } = parseOrchestratorFailure(outcome.error));
    }
  }

  const work = newEpisodeWork([...newEvents]);
  const previousStatus = instance.customStatus;
  // The extension takes the custom status before the actions: one over the limit fails the episode and
  // nothing it asked for is scheduled.
  let statusRefused = false;
  if (state?.customStatus !== undefined && failure === undefined) {
    const customStatus = JSON.stringify(state.customStatus);
    const refusal = customStatusRefusal(customStatus);
    if (refusal !== undefined) {
      statusRefused = true;
      failure = refusal;
    } else {
      instance.customStatus = customStatus;
    }
  }
  const flat = statusRefused ? [] : flattenActions(state?.actions?.[0] ?? []);
  for (let position = instance.actionCursor; position < flat.length; position++) {
    const action = flat[position];
    if (action) schedule(instance, action, position, work, now, ctx.options.defaultVersion);
  }
  instance.actionCursor = Math.max(instance.actionCursor, flat.length);
  const cancelled: number[] = [];
  for (const [position, timerId] of Object.entries(instance.openTimers)) {
    if (flat[Number(position)]?.isCanceled) {
      cancelled.push(timerId);
      delete instance.openTimers[position];
    }
  }
  if (retryKey !== undefined && !statusRefused)
    advanceRetry(instance, retryKey, batch[batch.length - 1], work, now);
  if (work.unsupported !== undefined && failure === undefined) failure = work.unsupported;

  instance.runtimeStatus = status;
  instance.lastUpdatedTime = new Date().toISOString();
  let resetHistory = false;
  let finished = false;
  if (failure !== undefined) {
    finished = true;
    fail(instance, failure, work, versionFailed);
  } else if (state?.isDone && work.continueAsNew) {
    resetHistory = true;
    continueAsNew(instance, work.continueAsNew.input, work);
  } else if (state?.isDone) {
    finished = true;
    const output = state.output === undefined ? null : JSON.stringify(state.output);
    instance.runtimeStatus = 'Completed';
    instance.output = output;
    work.append.push(
      historyEvent(EventType.ExecutionCompleted, { OrchestrationStatus: 'Completed', Result: output }),
    );
    notifyParent(instance, work, {
      EventType: EventType.SubOrchestrationInstanceCompleted,
      Result: output ?? 'null',
    });
  }
  if (!resetHistory) work.append.push(historyEvent(EventType.OrchestratorCompleted));

  const drop = new Set(consumed);
  if (finished || resetHistory) {
    // A finished execution's timers will never be wanted; a new execution keeps only its events.
    for (const message of messages) {
      const isTimer = message.kind === 'event' && message.event.EventType === EventType.TimerFired;
      if (finished || isTimer) drop.add(message.id);
    }
  } else if (cancelled.length > 0) {
    for (const message of messages) {
      if (message.kind === 'event' && message.event.EventType === EventType.TimerFired) {
        if (cancelled.includes(message.event.TimerId ?? -1)) drop.add(message.id);
      }
    }
  }

  const items = workItems(instance, work);
  await ctx.store.commitEpisode(id, {
    instance,
    append: resetHistory ? [] : work.append,
    resetHistory,
    work: items,
    consumed: [...drop],
    send: work.send,
  });

  if (
    finished &&
    failure !== undefined &&
    /requires a Durable Functions extension that supports OOProc schema V4/.test(failure)
  ) {
    ctx.log.warn(
      `Orchestration '${id}' used entity locks (context.df.lock): the devhost speaks the out-of-process schema V3 ` +
        'of the Durable Task extension, which has no entity locks. Locks are not supported here.',
    );
  }
  logMilestones(ctx.log, instance, previousStatus, finished);
  ctx.afterCommit(items, work.wake);
  if (finished || resetHistory || work.timersScheduled || cancelled.length > 0) {
    ctx.armWake(id, await ctx.store.pendingMessages(id));
  }
  // A timer set for a time the episode has already passed (a 1 ms retry-after, a deadline of "now")
  // is due at once; armWake only arms future ones, so nothing else would ever deliver it.
  const dueAt = Date.now();
  if (
    !finished &&
    work.send.some((m) => m.instanceId === id && m.visibleAt && Date.parse(m.visibleAt) <= dueAt)
  ) {
    ctx.wake(id);
  }
  if (leftover || resetHistory) ctx.wake(id);
}

/**
 * One line when an orchestration reports a new `stage` in its custom status (a run waiting for approval),
 * is escalated (`approval.escalated` turns true), or ends - with the `status` its output names, if any
 * (a run that expired).
 */
function logMilestones(
  log: HostLog,
  instance: OrchestrationRecord,
  previousStatus: string | null,
  finished: boolean,
): void {
  const who = `Orchestration '${instance.name}' (${instance.instanceId})`;
  if (instance.customStatus !== previousStatus) {
    const before = milestoneFields(previousStatus);
    const now = milestoneFields(instance.customStatus);
    if (now.stage !== undefined && now.stage !== before.stage) log.event(`${who}: ${now.stage}`);
    if (now.escalated && !before.escalated) log.event(`${who}: approval escalated`);
  }
  if (!finished) return;
  const output = instance.output === null ? undefined : parseJson(instance.output);
  const named =
    output && typeof output === 'object' && typeof (output as { status?: unknown }).status === 'string'
      ? ` (${(output as { status: string }).status})`
      : '';
  const reason =
    instance.runtimeStatus === 'Failed' && typeof output === 'string'
      ? `: ${(output.split('\n')[0] ?? '').trim()}`
      : '';
  log.event(`${who} ${instance.runtimeStatus.toLowerCase()}${named}${reason}`);
}

/**
 * Why this host must not run the instance's version, per host.json `versionMatchStrategy` against
 * `defaultVersion` (the host's current version); undefined when it may.
 */
function versionMismatch(options: EngineOptions, instance: OrchestrationRecord): string | undefined {
  const strategy = options.versionMatchStrategy ?? 'CurrentOrOlder';
  const current = options.defaultVersion;
  if (strategy === 'None' || current === undefined || current === '') return undefined;
  const version = instance.version ?? '';
  if (strategy === 'Strict' && version !== current) {
    return `The orchestration version '${version}' does not match the worker version '${current}'.`;
  }
  if (strategy === 'CurrentOrOlder' && compareVersions(version, current) > 0) {
    return `The orchestration version '${version}' is greater than the worker version '${current}'.`;
  }
  return undefined;
}

async function terminate(
  ctx: EngineContext,
  instance: OrchestrationRecord,
  reason: string,
  messages: InstanceMessage[],
): Promise<void> {
  const work = newEpisodeWork([historyEvent(EventType.ExecutionTerminated, { Input: reason })]);
  instance.runtimeStatus = 'Terminated';
  instance.output = JSON.stringify(reason);
  instance.lastUpdatedTime = new Date().toISOString();
  notifyParent(instance, work, {
    EventType: EventType.SubOrchestrationInstanceFailed,
    Reason: `Orchestrator function '${instance.name}' was terminated: ${reason}`,
    Details: reason,
  });
  await ctx.store.commitEpisode(instance.instanceId, {
    instance,
    append: work.append,
    consumed: messages.map((m) => m.id),
    send: work.send,
  });
  ctx.armWake(instance.instanceId, []);
  ctx.log.event(`Orchestration '${instance.name}' (${instance.instanceId}) terminated: ${reason}`);
  ctx.afterCommit([], work.wake);
}

/**
 * Why the extension refuses a custom status, or undefined when it fits: its size is counted in whole KB of
 * UTF-16 (two bytes per code unit, rounded down), and more than 16 of them fail the orchestration.
 */
export function customStatusRefusal(customStatusJson: string): string | undefined {
  const sizeKb = Math.floor((customStatusJson.length * 2) / 1024);
  if (sizeKb <= customStatusLimitKb) return undefined;
  const kb = (n: number) => n.toLocaleString('en-US');
  return (
    `The UTF-16 size of the JSON-serialized payload must not exceed ${kb(customStatusLimitKb)} KB. ` +
    `The current payload size is ${kb(sizeKb)} KB.`
  );
}

function milestoneFields(customStatus: string | null): { stage?: string; escalated?: boolean } {
  const value = customStatus === null ? undefined : parseJson(customStatus);
  if (!value || typeof value !== 'object') return {};
  const { stage, approval } = value as { stage?: unknown; approval?: { escalated?: unknown } };
  return {
    ...(typeof stage === 'string' ? { stage } : {}),
    ...(approval?.escalated === true ? { escalated: true } : {}),
  };
}

/** Splits the SDK's failure (`message\n\n$OutOfProcData$:{state}`) into the state and the message. */
function parseOrchestratorFailure(error: unknown): { state: OrchestratorState | undefined; failure: string } {
  const message = errorMessage(error);
  const label = '$OutOfProcData$:';
  const at = message.indexOf(label);
  if (at < 0) return { state: undefined, failure: message };
  let state: OrchestratorState | undefined;
  try {
    state = JSON.parse(message.slice(at + label.length)) as OrchestratorState;
  } catch {
    state = undefined;
  }
  return { state, failure: state?.error ?? message.slice(0, at).trim() };
}
