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
  /** Sub-orchestrations: the version each attempt's child gets. */
  version?: string;
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
  /** The orchestration version recorded on ExecutionStarted ('' for none). */
  version?: string;
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
  /** The orchestration's function name, exactly (the dashboard's filter; the management API has none). */
  name?: string;
  /** Newest first (the dashboard); oldest first unless set, as the management API pages. */
  newestFirst?: boolean;
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
  /** Work the episode scheduled (activities, HTTP calls, child starts): it runs only once this is stored. */
  work?: WorkItem[];
}

/**
 * A unit of work an episode scheduled. It stays stored until its answer is written (`completeWork`), so work
 * that was running when the process died runs again after a restart, with the same task id (at least once).
 */
export type WorkItem = {
  /** `<executionId>:<taskId>`: unique, and the same when the work runs again. */
  id: string;
  instanceId: string;
  executionId: string;
  taskId: number;
} & (
  | { kind: 'activity'; name: string; input: string | null }
  | { kind: 'http'; request: Record<string, unknown> }
  | { kind: 'child'; name: string; childInstanceId: string; input: string | null; version?: string }
);

export class InstanceExistsError extends Error {
  constructor(readonly instanceId: string) {
    super(`An instance with ID '${instanceId}' already exists and is not in a terminal state.`);
  }
}

/** A stored history: how many events, and their JSON texts joined by commas (no brackets). */
export interface HistoryText {
  count: number;
  text: string;
}

/** Storage for orchestration instances, their histories and pending messages, and entity state. */
export interface DurableStore {
  /**
   * Stores a new instance with an empty history, and its start message in the same step; fails with
   * InstanceExistsError if a non-terminal one exists.
   */
  createInstance(instance: OrchestrationRecord, start?: NewInstanceMessage): Promise<void>;
  getInstance(instanceId: string): Promise<OrchestrationRecord | undefined>;
  /** Overwrites the instance record (status changes that do not touch history). */
  updateInstance(instance: OrchestrationRecord): Promise<void>;
  getHistory(instanceId: string): Promise<HistoryEvent[]>;
  /** The history as stored: the events' JSON, each marked played, comma-separated (what a replay sends). */
  getHistoryText(instanceId: string): Promise<HistoryText>;
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

  /** Stores the answer of a work item (if any) and removes the item, in one step. */
  completeWork(workId: string, answer: NewInstanceMessage | undefined): Promise<void>;
  /** Work scheduled by committed episodes and not answered yet: what a restarted engine must run again. */
  pendingWork(): Promise<WorkItem[]>;
  /** Releases the store (closes files). */
  close(): Promise<void>;
}

/**
 * Orders text as SQLite's BINARY collation does (by code point, which for the ids and ISO times stored here
 * is by code unit), so both stores page in the same order; localeCompare would also cost far more.
 */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** An event as stored in a history: JSON, marked played, since every later replay has seen it. */
export function serializePlayed(event: HistoryEvent): string {
  return JSON.stringify(event).replace('"IsPlayed":false', '"IsPlayed":true');
}

/** The in-memory store: fast, and gone when the process ends. */
export class MemoryStore implements DurableStore {
  readonly #instances = new Map<string, OrchestrationRecord>();
  readonly #histories = new Map<string, HistoryText>();
  readonly #work = new Map<string, WorkItem>();
  readonly #messages = new Map<string, InstanceMessage[]>();
  readonly #entities = new Map<string, EntityRecord>();
  #messageCounter = 0;

  async createInstance(instance: OrchestrationRecord, start?: NewInstanceMessage): Promise<void> {
    const existing = this.#instances.get(instance.instanceId);
    if (existing && !terminalStatuses.has(existing.runtimeStatus)) {
      throw new InstanceExistsError(instance.instanceId);
    }
    this.#instances.set(instance.instanceId, copyRecord(instance));
    this.#histories.set(instance.instanceId, { count: 0, text: '' });
    // A re-created instance starts clean: leftovers of the old one must not leak into it.
    this.#messages.delete(instance.instanceId);
    if (start) await this.sendMessage(start);
  }

  getInstance(instanceId: string): Promise<OrchestrationRecord | undefined> {
    const found = this.#instances.get(instanceId);
    return Promise.resolve(found && copyRecord(found));
  }

  updateInstance(instance: OrchestrationRecord): Promise<void> {
    this.#instances.set(instance.instanceId, copyRecord(instance));
    return Promise.resolve();
  }

  getHistory(instanceId: string): Promise<HistoryEvent[]> {
    const { text } = this.#histories.get(instanceId) ?? { text: '' };
    return Promise.resolve(JSON.parse(`[${text}]`) as HistoryEvent[]);
  }

  getHistoryText(instanceId: string): Promise<HistoryText> {
    // Strings are immutable: the stored text is handed out as it is, and an episode appends to it.
    return Promise.resolve(this.#histories.get(instanceId) ?? { count: 0, text: '' });
  }

  async commitEpisode(instanceId: string, commit: EpisodeCommit): Promise<void> {
    const history = commit.resetHistory
      ? { count: 0, text: '' }
      : (this.#histories.get(instanceId) ?? { count: 0, text: '' });
    let { count, text } = history;
    for (const event of commit.append) {
      text += (count === 0 ? '' : ',') + serializePlayed(event);
      count++;
    }
    this.#histories.set(instanceId, { count, text });
    this.#instances.set(instanceId, copyRecord(commit.instance));
    await this.deleteMessages(instanceId, commit.consumed);
    for (const message of commit.send) await this.sendMessage(message);
    for (const item of commit.work ?? []) this.#work.set(item.id, item);
  }

  async completeWork(workId: string, answer: NewInstanceMessage | undefined): Promise<void> {
    this.#work.delete(workId);
    if (answer) await this.sendMessage(answer);
  }

  pendingWork(): Promise<WorkItem[]> {
    return Promise.resolve([...this.#work.values()]);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  queryInstances(query: InstanceQuery): Promise<Page<OrchestrationRecord>> {
    const matching = [...this.#instances.values()]
      .filter((i) => matchesInstanceQuery(i, query))
      .sort((a, b) => compareText(a.createdTime, b.createdTime) || compareText(a.instanceId, b.instanceId));
    if (query.newestFirst) matching.reverse();
    return Promise.resolve(paginate(matching, query.pageSize, query.continuationToken, copyRecord));
  }

  purgeInstance(instanceId: string): Promise<boolean> {
    const existed = this.#instances.delete(instanceId);
    this.#histories.delete(instanceId);
    this.#messages.delete(instanceId);
    return Promise.resolve(existed);
  }

  sendMessage(message: NewInstanceMessage): Promise<InstanceMessage> {
    const stored = {
      // Messages are built by the engine for this call only: storing them as they are needs no copy.
      ...message,
      id: `m${++this.#messageCounter}`,
      enqueuedAt: new Date().toISOString(),
    };
    const queue = this.#messages.get(message.instanceId) ?? [];
    queue.push(stored);
    this.#messages.set(message.instanceId, queue);
    return Promise.resolve({ ...stored });
  }

  pendingMessages(instanceId: string): Promise<InstanceMessage[]> {
    return Promise.resolve((this.#messages.get(instanceId) ?? []).slice());
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
    return Promise.resolve(found && { ...found });
  }

  async commitEntityBatch(
    entity: EntityRecord,
    consumed: string[],
    send: NewInstanceMessage[],
  ): Promise<void> {
    this.#entities.set(entity.entityId, { ...entity });
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
      .sort((a, b) => compareText(a.entityId, b.entityId));
    return Promise.resolve(paginate(matching, query.pageSize, query.continuationToken, (e) => ({ ...e })));
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
  if (query.name !== undefined && instance.name !== query.name) return false;
  return true;
}

/** Offset paging; the token is opaque to callers. */
export function paginate<T, U = T>(
  items: T[],
  pageSize: number | undefined,
  token: string | undefined,
  /** Applied to the page's items only: a copy or a parse need not be paid for the whole result. */
  map: (item: T) => U = (item) => item as unknown as U,
): Page<U> {
  const start = token ? Number.parseInt(Buffer.from(token, 'base64url').toString('utf8'), 10) || 0 : 0;
  if (!pageSize || pageSize <= 0) return { items: items.slice(start).map(map) };
  const end = start + pageSize;
  const page: Page<U> = { items: items.slice(start, end).map(map) };
  if (end < items.length) page.continuationToken = Buffer.from(String(end), 'utf8').toString('base64url');
  return page;
}

/**
 * A copy of an instance record that shares nothing the engine changes: what structuredClone did, at a
 * fraction of its cost on the per-episode path (the record's strings are immutable and need no copy).
 */
function copyRecord(record: OrchestrationRecord): OrchestrationRecord {
  const retries: Record<string, RetryState> = {};
  for (const [key, retry] of Object.entries(record.retries))
    retries[key] = { ...retry, options: { ...retry.options } };
  return {
    ...record,
    ...(record.parent ? { parent: { ...record.parent } } : {}),
    retries,
    openTimers: { ...record.openTimers },
  };
}
