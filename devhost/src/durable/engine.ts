/**
 * The Durable Task side of the host: the orchestration replay loop, activities, host-side retries, timers,
 * external events, sub-orchestrations and entities. All state goes through the DurableStore; the engine
 * keeps only what is needed to schedule work (which instance is running an episode, armed timers).
 *
 * Work is dispatched as soon as it is scheduled and an instance runs its next episode as soon as a message
 * arrives; messages that arrive while an episode runs are handled together by the next one. Episodes of
 * one instance never overlap; operations of one entity run one batch at a time, in arrival order.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type FunctionsRuntime, type InvocationResponse, type TypedData } from '../functions/runtime';
import { type HostLog, describeError, errorMessage } from '../log';
import {
  ActionType,
  type OrchestratorAction,
  type OrchestratorState,
  actionInputJson,
  flattenActions,
} from './actions';
import { EventType, type HistoryEvent, historyEvent } from './history';
import {
  type DurableStore,
  type EntityOperationMessage,
  type EntityRecord,
  type InstanceMessage,
  type NewInstanceMessage,
  type OrchestrationRecord,
  type RetryPolicy,
  type RetryState,
  type WorkItem,
  terminalStatuses,
} from './store';

/** Longest delay setTimeout accepts; longer timers are re-armed when this one fires. */
const maxTimeoutMs = 2_147_483_647;
const entityBatchLimit = 100;
/** The extension's limit on a custom status, in whole KB of UTF-16 JSON text. */
const customStatusLimitKb = 16;
/** What the Durable Task Framework records when `versionFailureStrategy` is Fail (failure type VersionMismatch). */
const versionFailureMessage = 'Orchestration version did not comply with Worker Versioning';

export class DurableArgumentError extends Error {}

/** The extension's limits and versioning settings (host.json `extensions.durableTask`). */
export interface EngineOptions {
  maxConcurrentActivityFunctions?: number;
  maxConcurrentOrchestratorFunctions?: number;
  defaultVersion?: string;
  versionMatchStrategy?: 'None' | 'Strict' | 'CurrentOrOlder';
  versionFailureStrategy?: 'Reject' | 'Fail';
}

/** A counting semaphore: at most `limit` holders at once, the rest wait in arrival order. */
class Limiter {
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#active++;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active--;
    }
  }
}

interface EpisodeWork {
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

export interface EntityState {
  exists: boolean;
  /** JSON text of the state. */
  state: string | null;
}

/** Orchestrations and entities for one app. */
export class DurableEngine {
  readonly #orchestrators = new Map<string, string>();
  readonly #activities = new Map<string, string>();
  readonly #entities = new Map<string, string>();
  readonly #runners = new Map<string, { running: boolean; again: boolean }>();
  readonly #wakeTimers = new Map<string, { at: number; handle: NodeJS.Timeout }>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #rejectedVersions = new Set<string>();
  readonly #activityLimit: Limiter;
  readonly #orchestratorLimit: Limiter;
  #stopped = false;

  constructor(
    readonly store: DurableStore,
    private readonly runtime: FunctionsRuntime,
    private readonly log: HostLog,
    readonly options: EngineOptions = {},
  ) {
    // The extension's defaults: ten per processor for both.
    const perCore = 10 * availableParallelism();
    this.#activityLimit = new Limiter(options.maxConcurrentActivityFunctions ?? perCore);
    this.#orchestratorLimit = new Limiter(options.maxConcurrentOrchestratorFunctions ?? perCore);
    for (const fn of runtime.functions.values()) {
      const key = fn.name.toLowerCase();
      if (fn.triggerType === 'orchestrationTrigger') this.#orchestrators.set(key, fn.name);
      else if (fn.triggerType === 'activityTrigger') this.#activities.set(key, fn.name);
      else if (fn.triggerType === 'entityTrigger') this.#entities.set(key, fn.name);
    }
  }

  /**
   * Picks up whatever the store still holds (nothing, for a fresh in-memory store): instances and entities
   * with messages run their next episode (due timers fire, the rest are armed), and work scheduled by a
   * committed episode but never answered runs again with its task id.
   */
  async recover(): Promise<number> {
    const work = await this.store.pendingWork();
    for (const item of work) this.#track(this.#runWork(item));
    const ids = await this.store.instancesWithMessages();
    for (const id of ids) this.#wake(id);
    return work.length + ids.length;
  }

  /** Stops scheduling work and waits (briefly) for what is running. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const { handle } of this.#wakeTimers.values()) clearTimeout(handle);
    this.#wakeTimers.clear();
    const pending = Promise.allSettled([...this.#inFlight]);
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 2000);
    });
    await Promise.race([pending, limit]);
    clearTimeout(timer);
  }

  // ---------------------------------------------------------------- client operations

  /** Stores a new instance (Pending) and queues its start; resolves once both are stored. */
  async startOrchestration(
    name: string,
    instanceId: string | undefined,
    inputJson: string | null,
    parent?: OrchestrationRecord['parent'],
    version?: string,
  ): Promise<string> {
    const functionName = this.#orchestrators.get(name.toLowerCase());
    if (!functionName) {
      throw new DurableArgumentError(
        `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function. ` +
          `Orchestrators in this app: ${[...this.#orchestrators.values()].join(', ') || 'none'}.`,
      );
    }
    const id = instanceId && instanceId !== '' ? instanceId : randomUUID().replace(/-/g, '');
    if (id.startsWith('@'))
      throw new DurableArgumentError(`Orchestration instance ids must not start with @ (got '${id}').`);
    const now = new Date().toISOString();
    const record: OrchestrationRecord = {
      instanceId: id,
      name: functionName,
      executionId: newExecutionId(),
      runtimeStatus: 'Pending',
      input: inputJson,
      output: null,
      customStatus: null,
      createdTime: now,
      lastUpdatedTime: now,
      ...(parent ? { parent } : {}),
      version: version ?? this.options.defaultVersion ?? '',
      nextEventId: 0,
      actionCursor: 0,
      retries: {},
      openTimers: {},
    };
    await this.store.createInstance(record, {
      instanceId: id,
      kind: 'event',
      executionId: record.executionId,
      event: this.#executionStarted(record),
    });
    this.#wake(id);
    return id;
  }

  /** Queues an external event. The caller checks that the instance exists and is not finished. */
  async raiseEvent(instanceId: string, eventName: string, dataJson: string | null): Promise<void> {
    await this.store.sendMessage({
      instanceId,
      kind: 'event',
      event: historyEvent(EventType.EventRaised, { Name: eventName, Input: dataJson }),
    });
    this.#wake(instanceId);
  }

  async control(instanceId: string, kind: 'terminate' | 'suspend' | 'resume', reason: string): Promise<void> {
    await this.store.sendMessage({ instanceId, kind, reason });
    this.#wake(instanceId);
  }

  /** Sends a signal to an entity from outside an orchestration. */
  async signalEntity(
    name: string,
    key: string,
    operation: string,
    inputJson: string | undefined,
  ): Promise<void> {
    const lower = name.toLowerCase();
    if (!this.#entities.has(lower)) {
      throw new DurableArgumentError(
        `The function '${name}' doesn't exist, is disabled, or is not an entity function. ` +
          `Entities in this app: ${[...this.#entities.values()].join(', ') || 'none'}.`,
      );
    }
    const entityId = `@${lower}@${key}`;
    const operationMessage: EntityOperationMessage = { id: randomUUID(), operation, isSignal: true };
    if (inputJson !== undefined) operationMessage.input = inputJson;
    await this.store.sendMessage({ instanceId: entityId, kind: 'operation', operation: operationMessage });
    this.#wake(entityId);
  }

  async readEntity(name: string, key: string): Promise<EntityState | undefined> {
    const record = await this.store.getEntity(`@${name.toLowerCase()}@${key}`);
    if (!record?.exists) return undefined;
    return { exists: true, state: record.state };
  }

  hasEntity(name: string): boolean {
    return this.#entities.has(name.toLowerCase());
  }

  // ---------------------------------------------------------------- scheduling

  #wake(id: string): void {
    if (this.#stopped) return;
    let runner = this.#runners.get(id);
    if (!runner) {
      runner = { running: false, again: false };
      this.#runners.set(id, runner);
    }
    if (runner.running) {
      runner.again = true;
      return;
    }
    runner.running = true;
    const current = runner;
    this.#track(
      (async () => {
        try {
          do {
            current.again = false;
            if (id.startsWith('@')) await this.#entityEpisode(id);
            else await this.#orchestratorLimit.run(() => this.#orchestrationEpisode(id));
            // Let requests and other instances in between episodes: a long chain must not starve them.
            await nextTurn();
          } while (current.again && !this.#stopped);
        } catch (error) {
          this.log.error(`Durable engine failed while processing '${id}': ${describeError(error)}`);
        } finally {
          current.running = false;
          this.#runners.delete(id);
        }
      })(),
    );
  }

  #track(task: Promise<unknown>): void {
    this.#inFlight.add(task);
    void task.finally(() => this.#inFlight.delete(task));
  }

  /** Arms one wake-up per instance for its earliest future message (durable timers). */
  #armWake(id: string, messages: InstanceMessage[]): void {
    if (this.#stopped) return;
    const now = Date.now();
    let at: number | undefined;
    for (const message of messages) {
      if (!message.visibleAt) continue;
      const visibleAt = Date.parse(message.visibleAt);
      if (visibleAt > now && (at === undefined || visibleAt < at)) at = visibleAt;
    }
    const current = this.#wakeTimers.get(id);
    if (current && current.at === at) return;
    if (current) clearTimeout(current.handle);
    this.#wakeTimers.delete(id);
    if (at === undefined) return;
    const handle = setTimeout(
      () => {
        this.#wakeTimers.delete(id);
        this.#wake(id);
      },
      Math.min(at - now, maxTimeoutMs),
    );
    this.#wakeTimers.set(id, { at, handle });
  }

  // ---------------------------------------------------------------- orchestrations

  async #orchestrationEpisode(id: string): Promise<void> {
    const instance = await this.store.getInstance(id);
    const messages = await this.store.pendingMessages(id);
    if (!instance) {
      if (messages.length > 0)
        await this.store.deleteMessages(
          id,
          messages.map((m) => m.id),
        );
      return;
    }
    this.#armWake(id, messages);
    const now = new Date();
    const visible = messages.filter((m) => !m.visibleAt || Date.parse(m.visibleAt) <= now.getTime());
    if (visible.length === 0) return;
    if (terminalStatuses.has(instance.runtimeStatus)) {
      // Work for a finished instance (late timers, activity results) has nowhere to go.
      await this.store.deleteMessages(
        id,
        visible.map((m) => m.id),
      );
      return;
    }
    const terminate = visible.find((m) => m.kind === 'terminate');
    if (terminate && terminate.kind === 'terminate') {
      await this.#terminate(instance, terminate.reason, messages);
      return;
    }

    // Stored histories always begin with ExecutionStarted: an empty one is an execution yet to start.
    const history = await this.store.getHistoryText(id);
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
      const key = this.#retryKey(instance, event);
      // The SDK numbers the retry's next task when it replays this event: it must be the episode's last one.
      if (key !== undefined) retryKey = key;
    }

    // Events held back by a suspend that a later message in this batch lifted go in the next episode.
    if (heldWhileSuspended && status !== 'Suspended') leftover = true;
    if (batch.length === 0) {
      if (consumed.length > 0 || statusEvents.length > 0) {
        instance.runtimeStatus = status;
        instance.lastUpdatedTime = now.toISOString();
        await this.store.commitEpisode(id, { instance, append: statusEvents, consumed, send: [] });
      }
      if (leftover) this.#wake(id);
      return;
    }

    const started = historyEvent(EventType.OrchestratorStarted, {}, now);
    const newEvents = [...statusEvents, started, ...batch];
    // The stored events are already serialised and marked played: only this episode's events are new text.
    const rest = JSON.stringify({
      input: instance.input === null ? null : parseJson(instance.input),
      instanceId: id,
      isReplaying: history.count > 0,
      parentInstanceId: instance.parent?.instanceId ?? null,
      upperSchemaVersion: 1,
      upperSchemaVersionNew: 2,
      longRunningTimerIntervalDuration: '3.00:00:00',
      maximumShortTimerDuration: '6.00:00:00',
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    });
    let events = history.text;
    for (const event of newEvents) events += (events === '' ? '' : ',') + JSON.stringify(event);
    const payloadText = `{"history":[${events}],${rest.slice(1)}`;
    const functionName = instance.name;
    const registered = this.runtime.functions.get(functionName);
    let state: OrchestratorState | undefined;
    let failure: string | undefined;
    let versionFailed = false;
    const versionProblem = this.#versionMismatch(instance);
    if (versionProblem !== undefined && this.options.versionFailureStrategy !== 'Fail') {
      // Reject: the work stays queued, untouched, for a host whose version matches (a later start of this one).
      if (!this.#rejectedVersions.has(id)) {
        this.#rejectedVersions.add(id);
        this.log.warn(
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
      const outcome = await this.runtime.invoke(
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

    const work: EpisodeWork = {
      append: [...newEvents],
      send: [],
      activities: [],
      children: [],
      httpCalls: [],
      wake: new Set(),
      timersScheduled: false,
    };
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
      if (action) this.#schedule(instance, action, position, work, now);
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
      this.#advanceRetry(instance, retryKey, batch[batch.length - 1], work, now);
    if (work.unsupported !== undefined && failure === undefined) failure = work.unsupported;

    instance.runtimeStatus = status;
    instance.lastUpdatedTime = new Date().toISOString();
    let resetHistory = false;
    let finished = false;
    if (failure !== undefined) {
      finished = true;
      this.#fail(instance, failure, work, versionFailed);
    } else if (state?.isDone && work.continueAsNew) {
      resetHistory = true;
      this.#continueAsNew(instance, work.continueAsNew.input, work);
    } else if (state?.isDone) {
      finished = true;
      const output = state.output === undefined ? null : JSON.stringify(state.output);
      instance.runtimeStatus = 'Completed';
      instance.output = output;
      work.append.push(
        historyEvent(EventType.ExecutionCompleted, { OrchestrationStatus: 'Completed', Result: output }),
      );
      this.#notifyParent(instance, work, {
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

    const items = this.#workItems(instance, work);
    await this.store.commitEpisode(id, {
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
      this.log.warn(
        `Orchestration '${id}' used entity locks (context.df.lock): the devhost speaks the out-of-process schema V3 ` +
          'of the Durable Task extension, which has no entity locks. Locks are not supported here.',
      );
    }
    this.#logMilestones(instance, previousStatus, finished);
    this.#afterCommit(items, work);
    if (finished || resetHistory || work.timersScheduled || cancelled.length > 0) {
      this.#armWake(id, await this.store.pendingMessages(id));
    }
    if (leftover || resetHistory) this.#wake(id);
  }

  /**
   * One line when an orchestration reports a new `stage` in its custom status (a run waiting for approval),
   * is escalated (`approval.escalated` turns true), or ends - with the `status` its output names, if any
   * (a run that expired).
   */
  #logMilestones(instance: OrchestrationRecord, previousStatus: string | null, finished: boolean): void {
    const who = `Orchestration '${instance.name}' (${instance.instanceId})`;
    if (instance.customStatus !== previousStatus) {
      const before = milestoneFields(previousStatus);
      const now = milestoneFields(instance.customStatus);
      if (now.stage !== undefined && now.stage !== before.stage) this.log.event(`${who}: ${now.stage}`);
      if (now.escalated && !before.escalated) this.log.event(`${who}: approval escalated`);
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
    this.log.event(`${who} ${instance.runtimeStatus.toLowerCase()}${named}${reason}`);
  }

  /**
   * Why this host must not run the instance's version, per host.json `versionMatchStrategy` against
   * `defaultVersion` (the host's current version); undefined when it may.
   */
  #versionMismatch(instance: OrchestrationRecord): string | undefined {
    const strategy = this.options.versionMatchStrategy ?? 'CurrentOrOlder';
    const current = this.options.defaultVersion;
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

  #executionStarted(record: OrchestrationRecord): HistoryEvent {
    return historyEvent(EventType.ExecutionStarted, {
      Name: record.name,
      Input: record.input,
      Version: record.version ?? '',
      ParentInstance: record.parent
        ? { InstanceId: record.parent.instanceId, TaskScheduledId: record.parent.taskScheduledId }
        : null,
    });
  }

  #schedule(
    instance: OrchestrationRecord,
    action: OrchestratorAction,
    position: number,
    work: EpisodeWork,
    now: Date,
  ): void {
    const input = actionInputJson(action);
    switch (action.actionType) {
      case ActionType.CallActivity:
      case ActionType.CallActivityWithRetry: {
        const taskId = instance.nextEventId++;
        const name = action.functionName ?? '';
        work.append.push(
          historyEvent(EventType.TaskScheduled, { EventId: taskId, Name: name, Input: input }),
        );
        work.activities.push({ taskId, name, input });
        if (action.actionType === ActionType.CallActivityWithRetry) {
          instance.retries[String(taskId)] = this.#newRetry('activity', name, input, action, taskId, now);
        }
        return;
      }
      case ActionType.CallSubOrchestrator:
      case ActionType.CallSubOrchestratorWithRetry: {
        const taskId = instance.nextEventId++;
        const name = action.functionName ?? '';
        const childId =
          action.instanceId && action.instanceId !== ''
            ? action.instanceId
            : childInstanceId(instance, taskId);
        work.append.push(
          historyEvent(EventType.SubOrchestrationInstanceCreated, {
            EventId: taskId,
            Name: name,
            InstanceId: childId,
            Input: input,
          }),
        );
        work.children.push({
          taskId,
          name,
          instanceId: childId,
          input,
          version: action.version ?? instance.version ?? '',
        });
        if (action.actionType === ActionType.CallSubOrchestratorWithRetry) {
          const retry = this.#newRetry('subOrchestration', name, input, action, taskId, now);
          if (action.instanceId) retry.subInstanceId = action.instanceId;
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
          this.#sendTimer(instance, timerId, fireAt, work);
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

  #sendTimer(instance: OrchestrationRecord, timerId: number, fireAt: string, work: EpisodeWork): void {
    work.send.push({
      instanceId: instance.instanceId,
      kind: 'event',
      executionId: instance.executionId,
      visibleAt: fireAt,
      event: historyEvent(EventType.TimerFired, { TimerId: timerId, FireAt: fireAt }),
    });
    work.timersScheduled = true;
  }

  #newRetry(
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
  #retryKey(instance: OrchestrationRecord, event: HistoryEvent): string | undefined {
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
  #advanceRetry(
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
      this.#sendTimer(instance, timerId, fireAt, work);
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
          this.#answer(instance, EventType.TaskFailed, taskId, {
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
        this.#answer(instance, EventType.SubOrchestrationInstanceFailed, taskId, {
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
        version: instance.version ?? '',
      });
    }
  }

  #answer(
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
  #fail(instance: OrchestrationRecord, message: string, work: EpisodeWork, asIs = false): void {
    const reason = asIs ? message : `Orchestrator function '${instance.name}' failed: ${message}`;
    instance.runtimeStatus = 'Failed';
    instance.output = JSON.stringify(reason);
    work.append.push(
      historyEvent(EventType.ExecutionCompleted, { OrchestrationStatus: 'Failed', Result: instance.output }),
    );
    this.#notifyParent(instance, work, {
      EventType: EventType.SubOrchestrationInstanceFailed,
      Reason: reason,
      Details: message,
    });
  }

  #continueAsNew(instance: OrchestrationRecord, input: string | null, work: EpisodeWork): void {
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
      event: this.#executionStarted(instance),
    });
  }

  #notifyParent(
    instance: OrchestrationRecord,
    work: EpisodeWork,
    fields: Partial<HistoryEvent> & { EventType: EventType },
  ): void {
    const parent = instance.parent;
    if (!parent) return;
    work.send.push({
      ...this.#answer(
        { instanceId: parent.instanceId, executionId: parent.executionId },
        fields.EventType,
        parent.taskScheduledId,
        fields,
      ),
    });
    work.wake.add(parent.instanceId);
  }

  async #terminate(
    instance: OrchestrationRecord,
    reason: string,
    messages: InstanceMessage[],
  ): Promise<void> {
    const work: EpisodeWork = {
      append: [historyEvent(EventType.ExecutionTerminated, { Input: reason })],
      send: [],
      activities: [],
      children: [],
      httpCalls: [],
      wake: new Set(),
      timersScheduled: false,
    };
    instance.runtimeStatus = 'Terminated';
    instance.output = JSON.stringify(reason);
    instance.lastUpdatedTime = new Date().toISOString();
    this.#notifyParent(instance, work, {
      EventType: EventType.SubOrchestrationInstanceFailed,
      Reason: `Orchestrator function '${instance.name}' was terminated: ${reason}`,
      Details: reason,
    });
    await this.store.commitEpisode(instance.instanceId, {
      instance,
      append: work.append,
      consumed: messages.map((m) => m.id),
      send: work.send,
    });
    this.#armWake(instance.instanceId, []);
    this.log.event(`Orchestration '${instance.name}' (${instance.instanceId}) terminated: ${reason}`);
    this.#afterCommit([], work);
  }

  /**
   * The work an episode scheduled, as stored items. Ids are `<execution>:<task id>`, so the same work run
   * again after a restart answers the same task. Made before the instance record changes execution
   * (continue-as-new schedules nothing).
   */
  #workItems(instance: OrchestrationRecord, work: EpisodeWork): WorkItem[] {
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

  /** Starts what an episode scheduled, now that it is stored. */
  #afterCommit(items: WorkItem[], work: EpisodeWork): void {
    for (const item of items) this.#track(this.#runWork(item));
    for (const id of work.wake) this.#wake(id);
  }

  async #runWork(item: WorkItem): Promise<void> {
    let answer: NewInstanceMessage | undefined;
    try {
      if (item.kind === 'activity') answer = await this.#runActivity(item);
      else if (item.kind === 'http') answer = await this.#runHttpCall(item, item.request);
      else answer = await this.#startChild(item);
    } catch (error) {
      this.log.error(`Running ${item.kind} work for '${item.instanceId}' failed: ${describeError(error)}`);
      return;
    }
    // Stopping: the answer is not stored, so the work item stays and runs again at the next start.
    if (this.#stopped) return;
    await this.store.completeWork(item.id, answer);
    if (answer) this.#wake(item.instanceId);
  }

  /** Starts a sub-orchestration; after a restart, one that was already created is not created again. */
  async #startChild(item: WorkItem & { kind: 'child' }): Promise<NewInstanceMessage | undefined> {
    const existing = await this.store.getInstance(item.childInstanceId);
    const parent = existing?.parent;
    if (
      parent &&
      parent.instanceId === item.instanceId &&
      parent.executionId === item.executionId &&
      parent.taskScheduledId === item.taskId
    ) {
      return undefined;
    }
    try {
      await this.startOrchestration(
        item.name,
        item.childInstanceId,
        item.input,
        { instanceId: item.instanceId, taskScheduledId: item.taskId, executionId: item.executionId },
        item.version,
      );
      return undefined;
    } catch (error) {
      return this.#answer(item, EventType.SubOrchestrationInstanceFailed, item.taskId, {
        Reason: errorMessage(error),
        Details: '',
      });
    }
  }

  async #runActivity(item: WorkItem & { kind: 'activity' }): Promise<NewInstanceMessage> {
    const { name, input, taskId } = item;
    const functionName = this.#activities.get(name.toLowerCase());
    const registered = functionName ? this.runtime.functions.get(functionName) : undefined;
    if (!functionName || !registered) {
      return this.#answer(item, EventType.TaskFailed, taskId, {
        Reason: `The function '${name}' doesn't exist, is disabled, or is not an activity function.`,
        Details: `Activities in this app: ${[...this.#activities.values()].join(', ') || 'none'}.`,
      });
    }
    const outcome = await this.#activityLimit.run(() =>
      this.runtime.invoke(
        functionName,
        [{ name: registered.triggerKey, data: { string: input ?? 'null' } }],
        { reason: '(null)', triggerMetadata: { instanceId: { json: JSON.stringify(item.instanceId) } } },
      ),
    );
    return outcome.ok
      ? this.#answer(item, EventType.TaskCompleted, taskId, { Result: resultJson(outcome.response) })
      : this.#answer(item, EventType.TaskFailed, taskId, {
          Reason: `Activity function '${functionName}' failed: ${errorMessage(outcome.error)}`,
          Details: describeError(outcome.error),
        });
  }

  /** The built-in HTTP activity, following 202 + Location polling itself as the extension does. */
  async #runHttpCall(
    instance: WorkItem,
    request: NonNullable<OrchestratorAction['httpRequest']>,
  ): Promise<NewInstanceMessage> {
    const taskId = instance.taskId;
    let answer: NewInstanceMessage;
    try {
      let url = request.uri ?? '';
      let method = request.method ?? 'GET';
      let body: string | undefined = request.content;
      const headers: Record<string, string> = { ...request.headers };
      const resource = request.tokenSource?.resource;
      if (resource) headers.Authorization = `Bearer ${await accessToken(resource)}`;
      for (;;) {
        const response = await fetch(url, {
          method,
          headers,
          ...(body !== undefined ? { body } : {}),
        });
        const location = response.headers.get('location');
        if (
          response.status === 202 &&
          location &&
          request.asynchronousPatternEnabled !== false &&
          !this.#stopped
        ) {
          const retryAfter = Number(response.headers.get('retry-after') ?? '');
          await new Promise((resolve) =>
            setTimeout(resolve, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1000),
          );
          url = new URL(location, url).href;
          method = 'GET';
          body = undefined;
          continue;
        }
        const responseHeaders: Record<string, string> = {};
        response.headers.forEach((value, name) => {
          responseHeaders[name] = value;
        });
        const content = await response.text();
        answer = this.#answer(instance, EventType.TaskCompleted, taskId, {
          Result: JSON.stringify({ statusCode: response.status, headers: responseHeaders, content }),
        });
        break;
      }
    } catch (error) {
      answer = this.#answer(instance, EventType.TaskFailed, taskId, {
        Reason: `Http request to ${request.uri ?? '(no uri)'} failed: ${errorMessage(error)}`,
        Details: describeError(error),
      });
    }
    return answer;
  }

  // ---------------------------------------------------------------- entities

  async #entityEpisode(entityId: string): Promise<void> {
    const messages = await this.store.pendingMessages(entityId);
    const operations = messages.filter(
      (m): m is InstanceMessage & { kind: 'operation' } => m.kind === 'operation',
    );
    const stray = messages.filter((m) => m.kind !== 'operation').map((m) => m.id);
    if (stray.length > 0) await this.store.deleteMessages(entityId, stray);
    if (operations.length === 0) return;
    const batch = operations.slice(0, entityBatchLimit);
    const { name, key } = parseEntityId(entityId);
    const now = new Date().toISOString();
    const functionName = this.#entities.get(name);
    const registered = functionName ? this.runtime.functions.get(functionName) : undefined;
    const send: NewInstanceMessage[] = [];
    const wake = new Set<string>();
    const respond = (operation: EntityOperationMessage, result: string | undefined, isError: boolean) => {
      if (operation.isSignal || !operation.parentInstanceId) return;
      const response: { result?: string; exceptionType?: string } = {};
      if (result !== undefined) response.result = result;
      if (isError) response.exceptionType = 'Error';
      send.push({
        instanceId: operation.parentInstanceId,
        kind: 'event',
        event: historyEvent(EventType.EventRaised, { Name: operation.id, Input: JSON.stringify(response) }),
      });
      wake.add(operation.parentInstanceId);
    };

    const record: EntityRecord = (await this.store.getEntity(entityId)) ?? {
      entityId,
      name,
      key,
      exists: false,
      state: null,
      lastOperationTime: now,
    };
    if (!functionName || !registered) {
      for (const message of batch) {
        respond(
          message.operation,
          JSON.stringify(`The function '${name}' doesn't exist, is disabled, or is not an entity function.`),
          true,
        );
      }
      await this.store.deleteMessages(
        entityId,
        batch.map((m) => m.id),
      );
      for (const message of send) await this.store.sendMessage(message);
    } else {
      const payload = {
        self: { name, key },
        exists: record.exists,
        state: record.exists ? record.state : null,
        batch: batch.map((m) => ({
          id: m.operation.id,
          name: m.operation.operation,
          isSignal: m.operation.isSignal,
          ...(m.operation.input !== undefined ? { input: m.operation.input } : {}),
        })),
      };
      const outcome = await this.runtime.invoke(
        functionName,
        [{ name: registered.triggerKey, data: { string: JSON.stringify(payload) } }],
        { reason: '(null)' },
      );
      const result = outcome.ok
        ? (typedDataValue(outcome.response.returnValue) as EntityBatchResult | undefined)
        : undefined;
      if (!result || !Array.isArray(result.results)) {
        const message = outcome.ok
          ? 'The entity function returned no batch result.'
          : errorMessage(outcome.error);
        this.log.error(`Entity '${entityId}' failed a batch of ${batch.length}: ${message}`);
        batch.forEach((m) => respond(m.operation, JSON.stringify(message), true));
      } else {
        record.exists = Boolean(result.entityExists);
        record.state = record.exists ? (result.entityState ?? null) : null;
        batch.forEach((m, index) => {
          const operationResult = result.results[index];
          respond(m.operation, operationResult?.result, operationResult?.isError ?? false);
        });
        for (const signal of result.signals ?? []) {
          const targetId = `@${signal.target.name.toLowerCase()}@${signal.target.key}`;
          const operation: EntityOperationMessage = {
            id: randomUUID(),
            operation: signal.name,
            isSignal: true,
          };
          if (signal.input !== undefined && signal.input !== '') operation.input = signal.input;
          send.push({ instanceId: targetId, kind: 'operation', operation });
          wake.add(targetId);
        }
      }
      record.lastOperationTime = now;
      await this.store.commitEntityBatch(
        record,
        batch.map((m) => m.id),
        send,
      );
    }
    for (const id of wake) this.#wake(id);
    if (operations.length > batch.length) this.#wake(entityId);
  }
}

interface EntityBatchResult {
  entityExists?: boolean;
  entityState?: string;
  results: { isError?: boolean; result?: string }[];
  signals?: { target: { name: string; key: string }; name: string; input?: string }[];
}

/**
 * A token for `callHttp` with a ManagedIdentityTokenSource, got as the extension gets it: from
 * DefaultAzureCredential (locally: environment, Azure CLI, azd... logins). The two well-known resources get
 * `/.default` appended, others are used as the scope as given. Without credentials the call fails and
 * nothing is sent, as on the real host.
 */
async function accessToken(resource: string): Promise<string> {
  const wellKnown = ['https://management.core.windows.net', 'https://graph.microsoft.com'];
  const bare = resource.replace(/\/$/, '');
  const scope = wellKnown.includes(bare) ? `${bare}/.default` : resource;
  const { DefaultAzureCredential } = await import('@azure/identity');
  const token = await new DefaultAzureCredential().getToken(scope);
  return token.token;
}

/**
 * Orders versions as the Durable Task SDKs do: empty is oldest; dotted numbers compare as numbers; anything
 * else compares as text, ignoring case.
 */
export function compareVersions(a: string, b: string): number {
  if (a.trim() === '' && b.trim() === '') return 0;
  if (a.trim() === '') return -1;
  if (b.trim() === '') return 1;
  if (a === b) return 0;
  // System.Version's form: two to four dotted numbers ('1' alone is compared as text).
  const numeric = /^\d+(\.\d+){1,3}$/;
  if (numeric.test(a) && numeric.test(b)) {
    const left = a.split('.').map(Number);
    const right = b.split('.').map(Number);
    for (let i = 0; i < Math.max(left.length, right.length); i++) {
      const difference = (left[i] ?? -1) - (right[i] ?? -1);
      if (difference !== 0) return Math.sign(difference);
    }
    return 0;
  }
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
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

/** Execution ids are GUIDs without dashes, as the Durable Task Framework writes them. */
function newExecutionId(): string {
  return randomUUID().replace(/-/g, '');
}

/**
 * The id of a sub-orchestration started without one: the Durable Task Framework names it
 * `<parent execution id>:<task id>`, so each attempt of a retried call gets its own child.
 */
function childInstanceId(parent: Pick<OrchestrationRecord, 'executionId'>, taskId: number): string {
  return `${parent.executionId}:${String(taskId)}`;
}

export function parseEntityId(entityId: string): { name: string; key: string } {
  const at = entityId.indexOf('@', 1);
  return { name: entityId.slice(1, at), key: entityId.slice(at + 1) };
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

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The value a function returned, from the worker's typed data. */
export function typedDataValue(data: TypedData | null | undefined): unknown {
  if (!data) return undefined;
  if (data.json !== undefined && data.json !== null) return JSON.parse(data.json);
  if (data.string !== undefined && data.string !== null) return data.string;
  if (data.int !== undefined && data.int !== null) return Number(data.int);
  if (data.double !== undefined && data.double !== null) return data.double;
  if (data.bytes) return Buffer.from(data.bytes).toString('base64');
  return undefined;
}

/** An activity's result as the JSON text the extension records in TaskCompleted. */
function resultJson(response: InvocationResponse): string {
  const value = typedDataValue(response.returnValue);
  return value === undefined ? 'null' : JSON.stringify(value);
}
