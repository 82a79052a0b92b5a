/**
 * The durable store: everything the engine knows about orchestration instances and entities lives here, so
 * that a later store (Azure Storage) can replace the in-memory one without touching the engine.
 *
 * Rules the engine follows, and a store may rely on:
 * - every change of an instance (status, history, consumed messages) is written through `commitEpisode`,
 *   `createInstance` or `updateInstance` before the engine acknowledges the work that caused it;
 * - work for an instance arrives as a message (`sendMessage`) and stays pending until an episode that
 *   consumed it is committed, so a crash between the two replays the message instead of losing it;
 * - durable timers are messages with `visibleAt` in the future.
 */
import { type HistoryEvent } from './history';

export type RuntimeStatus =
  'Pending' | 'Running' | 'Completed' | 'ContinuedAsNew' | 'Failed' | 'Canceled' | 'Terminated' | 'Suspended';

export const terminalStatuses: ReadonlySet<RuntimeStatus> = new Set([
  'Completed',
  'Failed',
  'Canceled',
  'Terminated',
]);

/** Host-side retry bookkeeping for one `callActivityWithRetry` / `callSubOrchestratorWithRetry` task. */
export interface RetryState {
  /** The action as the orchestrator sent it (name, input, retry options). */
  kind: 'activity' | 'subOrchestration';
  name: string;
  input: string | null;
  subInstanceId?: string;
  options: RetryPolicy;
  /** Attempts made so far (1 after the first call). */
  attempt: number;
  firstAttemptAt: string;
  /** The id the SDK waits on now: a TaskScheduled id while an attempt runs, a TimerCreated id between attempts. */
  waitingOn: number;
  phase: 'attempt' | 'timer';
  lastReason?: string;
  lastDetails?: string;
}

export interface RetryPolicy {
  firstRetryIntervalMs: number;
  maxNumberOfAttempts: number;
  backoffCoefficient: number;
  maxRetryIntervalMs: number;
  retryTimeoutMs: number;
}

export interface OrchestrationRecord {
  instanceId: string;
  name: string;
  executionId: string;
  runtimeStatus: RuntimeStatus;
  /** JSON text, or null when the instance had no input. */
  input: string | null;
  /** JSON text of the result (for Failed: the failure message as a JSON string; Terminated: the reason). */
  output: string | null;
  customStatus: string | null;
  createdTime: string;
  lastUpdatedTime: string;
  parent?: { instanceId: string; taskScheduledId: number; executionId: string };
  /** Engine bookkeeping for the current execution: next task id, actions already scheduled, retries. */
  nextEventId: number;
  actionCursor: number;
  retries: Record<string, RetryState>;
  /** Durable timers still pending, by their position in the flattened action list: position -> TimerId. */
  openTimers: Record<string, number>;
}

export interface EntityOperationMessage {
  /** Request id; the answer to a call goes back to `parentInstanceId` as an event with this name. */
  id: string;
  operation: string;
  /** JSON text of the input, or undefined for none. */
  input?: string;
  isSignal: boolean;
  parentInstanceId?: string;
}

export type InstanceMessage = {
  /** Unique per message; used to mark it consumed. */
  id: string;
  /** Target: an orchestration instance id, or an entity id `@name@key`. */
  instanceId: string;
  enqueuedAt: string;
  /** Not delivered before this time (durable timers). */
  visibleAt?: string;
  /** For answers to tasks: the execution that scheduled them; answers to an older execution are dropped. */
  executionId?: string;
} & (
  | { kind: 'event'; event: HistoryEvent }
  | { kind: 'terminate' | 'suspend' | 'resume'; reason: string }
  | { kind: 'operation'; operation: EntityOperationMessage }
);

/** The same message without the fields the store fills in. */
export type NewInstanceMessage = InstanceMessage extends infer M
  ? M extends InstanceMessage
    ? Omit<M, 'id' | 'enqueuedAt'>
    : never
  : never;

export interface EntityRecord {
  /** `@name@key` with the name lower-cased, as the SDK writes it. */
  entityId: string;
  name: string;
  key: string;
  exists: boolean;
  /** JSON text of the state when it exists. */
  state: string | null;
  lastOperationTime: string;
}

export interface InstanceQuery {
  createdTimeFrom?: Date;
  createdTimeTo?: Date;
  runtimeStatus?: RuntimeStatus[];
  instanceIdPrefix?: string;
  pageSize?: number;
  continuationToken?: string;
}

export interface EntityQuery {
  entityName?: string;
  lastOperationFrom?: Date;
  lastOperationTo?: Date;
  pageSize?: number;
  continuationToken?: string;
}

export interface Page<T> {
  items: T[];
  /** Present when there are more results: pass it back to get the next page. */
  continuationToken?: string;
}

export interface EpisodeCommit {
  instance: OrchestrationRecord;
  /** Events to append to the current history. */
  append: HistoryEvent[];
  /** When set, the history is replaced by `append` (continue-as-new starts a fresh execution). */
  resetHistory?: boolean;
  /** Ids of the messages this episode consumed. */
  consumed: string[];
  /** Messages for other instances, written in the same step (answers to parents, entity operations, timers). */
  send: NewInstanceMessage[];
}

export class InstanceExistsError extends Error {
  constructor(readonly instanceId: string) {
    super(`An instance with ID '${instanceId}' already exists and is not in a terminal state.`);
  }
}

/** Storage for orchestration instances, their histories and pending messages, and entity state. */
export interface DurableStore {
  /** Stores a new instance with an empty history; fails with InstanceExistsError if a non-terminal one exists. */
  createInstance(instance: OrchestrationRecord): Promise<void>;
  getInstance(instanceId: string): Promise<OrchestrationRecord | undefined>;
  /** Overwrites the instance record (status changes that do not touch history). */
  updateInstance(instance: OrchestrationRecord): Promise<void>;
  getHistory(instanceId: string): Promise<HistoryEvent[]>;
  /** Writes the outcome of one orchestrator episode in one step. */
  commitEpisode(instanceId: string, commit: EpisodeCommit): Promise<void>;
  queryInstances(query: InstanceQuery): Promise<Page<OrchestrationRecord>>;
  /** Deletes an instance, its history and its pending messages. Returns false when there was none. */
  purgeInstance(instanceId: string): Promise<boolean>;

  /** Queues a message for an instance or entity and returns it with its id. */
  sendMessage(message: NewInstanceMessage): Promise<InstanceMessage>;
  /** Every pending message of one instance or entity, in arrival order (including not-yet-visible timers). */
  pendingMessages(instanceId: string): Promise<InstanceMessage[]>;
  /** Removes messages (consumed outside an episode, or cancelled timers). */
  deleteMessages(instanceId: string, messageIds: string[]): Promise<void>;
  /** Ids that have pending messages: what a restarted engine must look at. */
  instancesWithMessages(): Promise<string[]>;

  getEntity(entityId: string): Promise<EntityRecord | undefined>;
  /** Writes an entity's state after a batch and removes the operations it consumed. */
  commitEntityBatch(entity: EntityRecord, consumed: string[], send: NewInstanceMessage[]): Promise<void>;
  listEntities(query: EntityQuery): Promise<Page<EntityRecord>>;
}

/** The in-memory store: fast, and gone when the process ends. */
export class MemoryStore implements DurableStore {
  readonly #instances = new Map<string, OrchestrationRecord>();
  readonly #histories = new Map<string, HistoryEvent[]>();
  readonly #messages = new Map<string, InstanceMessage[]>();
  readonly #entities = new Map<string, EntityRecord>();
  #messageCounter = 0;

  createInstance(instance: OrchestrationRecord): Promise<void> {
    const existing = this.#instances.get(instance.instanceId);
    if (existing && !terminalStatuses.has(existing.runtimeStatus)) {
      return Promise.reject(new InstanceExistsError(instance.instanceId));
    }
    this.#instances.set(instance.instanceId, clone(instance));
    this.#histories.set(instance.instanceId, []);
    // A re-created instance starts clean: leftovers of the old one must not leak into it.
    this.#messages.delete(instance.instanceId);
    return Promise.resolve();
  }

  getInstance(instanceId: string): Promise<OrchestrationRecord | undefined> {
    const found = this.#instances.get(instanceId);
    return Promise.resolve(found && clone(found));
  }

  updateInstance(instance: OrchestrationRecord): Promise<void> {
    this.#instances.set(instance.instanceId, clone(instance));
    return Promise.resolve();
  }

  getHistory(instanceId: string): Promise<HistoryEvent[]> {
    return Promise.resolve(clone(this.#histories.get(instanceId) ?? []));
  }

  async commitEpisode(instanceId: string, commit: EpisodeCommit): Promise<void> {
    const history = commit.resetHistory ? [] : (this.#histories.get(instanceId) ?? []);
    history.push(...clone(commit.append));
    this.#histories.set(instanceId, history);
    this.#instances.set(instanceId, clone(commit.instance));
    await this.deleteMessages(instanceId, commit.consumed);
    for (const message of commit.send) await this.sendMessage(message);
  }

  queryInstances(query: InstanceQuery): Promise<Page<OrchestrationRecord>> {
    const matching = [...this.#instances.values()]
      .filter((i) => matchesInstanceQuery(i, query))
      .sort((a, b) => a.createdTime.localeCompare(b.createdTime) || a.instanceId.localeCompare(b.instanceId));
    return Promise.resolve(paginate(matching.map(clone), query.pageSize, query.continuationToken));
  }

  purgeInstance(instanceId: string): Promise<boolean> {
    const existed = this.#instances.delete(instanceId);
    this.#histories.delete(instanceId);
    this.#messages.delete(instanceId);
    return Promise.resolve(existed);
  }

  sendMessage(message: NewInstanceMessage): Promise<InstanceMessage> {
    const stored = {
      ...clone(message),
      id: `m${++this.#messageCounter}`,
      enqueuedAt: new Date().toISOString(),
    };
    const queue = this.#messages.get(message.instanceId) ?? [];
    queue.push(stored);
    this.#messages.set(message.instanceId, queue);
    return Promise.resolve(clone(stored));
  }

  pendingMessages(instanceId: string): Promise<InstanceMessage[]> {
    return Promise.resolve(clone(this.#messages.get(instanceId) ?? []));
  }

  deleteMessages(instanceId: string, messageIds: string[]): Promise<void> {
    if (messageIds.length === 0) return Promise.resolve();
    const drop = new Set(messageIds);
    const left = (this.#messages.get(instanceId) ?? []).filter((m) => !drop.has(m.id));
    if (left.length === 0) this.#messages.delete(instanceId);
    else this.#messages.set(instanceId, left);
    return Promise.resolve();
  }

  instancesWithMessages(): Promise<string[]> {
    return Promise.resolve([...this.#messages.keys()]);
  }

  getEntity(entityId: string): Promise<EntityRecord | undefined> {
    const found = this.#entities.get(entityId);
    return Promise.resolve(found && clone(found));
  }

  async commitEntityBatch(
    entity: EntityRecord,
    consumed: string[],
    send: NewInstanceMessage[],
  ): Promise<void> {
    this.#entities.set(entity.entityId, clone(entity));
    await this.deleteMessages(entity.entityId, consumed);
    for (const message of send) await this.sendMessage(message);
  }

  listEntities(query: EntityQuery): Promise<Page<EntityRecord>> {
    const name = query.entityName?.toLowerCase();
    const matching = [...this.#entities.values()]
      .filter(
        (e) =>
          e.exists &&
          (!name || e.name === name) &&
          (!query.lastOperationFrom || new Date(e.lastOperationTime) >= query.lastOperationFrom) &&
          (!query.lastOperationTo || new Date(e.lastOperationTime) <= query.lastOperationTo),
      )
      .sort((a, b) => a.entityId.localeCompare(b.entityId));
    return Promise.resolve(paginate(matching.map(clone), query.pageSize, query.continuationToken));
  }
}

export function matchesInstanceQuery(instance: OrchestrationRecord, query: InstanceQuery): boolean {
  const created = new Date(instance.createdTime);
  if (query.createdTimeFrom && created < query.createdTimeFrom) return false;
  if (query.createdTimeTo && created > query.createdTimeTo) return false;
  if (
    query.runtimeStatus &&
    query.runtimeStatus.length > 0 &&
    !query.runtimeStatus.includes(instance.runtimeStatus)
  ) {
    return false;
  }
  if (query.instanceIdPrefix && !instance.instanceId.startsWith(query.instanceIdPrefix)) return false;
  return true;
}

/** Offset paging; the token is opaque to callers. */
export function paginate<T>(items: T[], pageSize: number | undefined, token: string | undefined): Page<T> {
  const start = token ? Number.parseInt(Buffer.from(token, 'base64url').toString('utf8'), 10) || 0 : 0;
  if (!pageSize || pageSize <= 0) return { items: items.slice(start) };
  const end = start + pageSize;
  const page: Page<T> = { items: items.slice(start, end) };
  if (end < items.length) page.continuationToken = Buffer.from(String(end), 'utf8').toString('base64url');
  return page;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}
