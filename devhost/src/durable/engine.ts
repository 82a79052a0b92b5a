/**
 * The Durable Task side of the host: client operations (start, raise, terminate, signal) and the scheduler
 * that runs episodes. All state goes through the DurableStore; the engine keeps only what is needed to
 * schedule work (which instance is running an episode, armed timers). Its parts each have a file:
 * - `episode.ts`: one orchestration episode (replay through the SDK, versions, custom status limit);
 * - `scheduling.ts`: what actions become, host-side retries, how an execution ends;
 * - `runners.ts`: activities, the built-in HTTP activity and sub-orchestration starts;
 * - `entities.ts`: entity operation batches.
 *
 * Work is dispatched as soon as it is scheduled and an instance runs its next episode as soon as a message
 * arrives; messages that arrive while an episode runs are handled together by the next one. Episodes of
 * one instance never overlap; operations of one entity run one batch at a time, in arrival order. Between
 * two episodes of one instance the engine yields to the event loop, so a long chain starves nothing.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type FunctionsRuntime } from '../functions/runtime';
import { type HostLog, describeError } from '../log';
import { type EngineContext, type EngineOptions, Limiter } from './context';
import { entityEpisode } from './entities';
import { orchestrationEpisode } from './episode';
import { EventType, historyEvent } from './history';
import { runWork } from './runners';
import { executionStarted, newExecutionId } from './scheduling';
import {
  type DurableStore,
  type EntityOperationMessage,
  type InstanceMessage,
  type OrchestrationRecord,
  type WorkItem,
} from './store';

export type { EngineOptions } from './context';
export { parseEntityId } from './entities';
export { customStatusRefusal } from './episode';
export { typedDataValue } from './values';
export { compareVersions } from './versions';

/** Longest delay setTimeout accepts; longer timers are re-armed when this one fires. */
const maxTimeoutMs = 2_147_483_647;

export class DurableArgumentError extends Error {}

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
  readonly #orchestratorLimit: Limiter;
  readonly #context: EngineContext;
  #stopped = false;

  constructor(
    readonly store: DurableStore,
    runtime: FunctionsRuntime,
    log: HostLog,
    readonly options: EngineOptions = {},
  ) {
    // The extension's defaults: ten per processor for both.
    const perCore = 10 * availableParallelism();
    this.#orchestratorLimit = new Limiter(options.maxConcurrentOrchestratorFunctions ?? perCore);
    for (const fn of runtime.functions.values()) {
      const key = fn.name.toLowerCase();
      if (fn.triggerType === 'orchestrationTrigger') this.#orchestrators.set(key, fn.name);
      else if (fn.triggerType === 'activityTrigger') this.#activities.set(key, fn.name);
      else if (fn.triggerType === 'entityTrigger') this.#entities.set(key, fn.name);
    }
    this.#context = {
      store,
      runtime,
      log,
      options,
      activities: this.#activities,
      entities: this.#entities,
      rejectedVersions: new Set(),
      activityLimit: new Limiter(options.maxConcurrentActivityFunctions ?? perCore),
      stopped: () => this.#stopped,
      wake: (id) => this.#wake(id),
      armWake: (id, messages) => this.#armWake(id, messages),
      afterCommit: (items, wake) => this.#afterCommit(items, wake),
      startOrchestration: (...args) => this.startOrchestration(...args),
    };
  }

  /**
   * Picks up whatever the store still holds (nothing, for a fresh in-memory store): instances and entities
   * with messages run their next episode (due timers fire, the rest are armed), and work scheduled by a
   * committed episode but never answered runs again with its task id.
   */
  async recover(): Promise<number> {
    const work = await this.store.pendingWork();
    for (const item of work) this.#track(runWork(this.#context, item));
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
      event: executionStarted(record),
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
            if (id.startsWith('@')) await entityEpisode(this.#context, id);
            else await this.#orchestratorLimit.run(() => orchestrationEpisode(this.#context, id));
            // Let requests and other instances in between episodes: a long chain must not starve them.
            await nextTurn();
          } while (current.again && !this.#stopped);
        } catch (error) {
          this.#context.log.error(`Durable engine failed while processing '${id}': ${describeError(error)}`);
        } finally {
          current.running = false;
          this.#runners.delete(id);
        }
      })(),
    );
  }

  /** Starts what an episode scheduled, now that it is stored. */
  #afterCommit(items: WorkItem[], wake: Iterable<string>): void {
    for (const item of items) this.#track(runWork(this.#context, item));
    for (const id of wake) this.#wake(id);
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
}
