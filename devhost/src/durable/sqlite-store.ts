/**
 * The durable store: one SQLite file (Node's built-in `node:sqlite`) in WAL mode. Every engine step that
 * changes state (an episode, an entity batch, a work item's answer) is atomic, so a process killed at any
 * point restarts from the last committed step. Steps that are ready in the same turn of the event loop
 * share one transaction (group commit, a savepoint each): a busy host commits tens of steps at once.
 * WAL with `synchronous=NORMAL` loses nothing a killed process had committed (the data is in the operating system's cache); only a power cut can lose the last
 * transactions, which a development host accepts.
 *
 * Nothing is cached in memory: finished instances cost disk, not heap. Histories are stored one row per
 * event, already serialised, so an episode writes only its new events and a replay reads text it sends on
 * as it is.
 *
 * Checkpoints (copying the WAL into the database file, with an fsync) are taken off the commit path:
 * SQLite's automatic checkpoint every 1,000 pages made a commit cost four times what it does without.
 * The store checkpoints at most once a second when something was written, and at close. That changes
 * nothing about what survives a crash: committed transactions are in the WAL either way.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type * as sqlite from 'node:sqlite';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { type HistoryEvent } from './history';
import {
  type DurableStore,
  type EntityQuery,
  type EntityRecord,
  type EpisodeCommit,
  type HistoryText,
  InstanceExistsError,
  type InstanceMessage,
  type InstanceQuery,
  type NewInstanceMessage,
  type OrchestrationRecord,
  type Page,
  type WorkItem,
  paginate,
  serializePlayed,
  terminalStatuses,
} from './store';

const schema = `
CREATE TABLE IF NOT EXISTS instances (
  instance_id TEXT PRIMARY KEY,
  created_time TEXT NOT NULL,
  runtime_status TEXT NOT NULL,
  record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_created ON instances (created_time, instance_id);
CREATE TABLE IF NOT EXISTS history (
  instance_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event TEXT NOT NULL,
  PRIMARY KEY (instance_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_instance ON messages (instance_id, id);
CREATE TABLE IF NOT EXISTS entities (
  entity_id TEXT PRIMARY KEY,
  record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS work (
  id TEXT PRIMARY KEY,
  body TEXT NOT NULL
);
`;

/**
 * node:sqlite, loaded without Node 22's one-time "SQLite is an experimental feature" warning: the devhost
 * says once at start where its store is, and an extra warning line on every start would only be noise.
 */
function loadSqlite(): typeof sqlite {
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  const original = Object.getOwnPropertyDescriptor(process, 'emitWarning');
  process.emitWarning = (warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning.message;
    if (text.includes('SQLite is an experimental feature')) return;
    emitWarning(warning, ...rest);
  };
  try {
    return process.getBuiltinModule('node:sqlite');
  } finally {
    if (original) Object.defineProperty(process, 'emitWarning', original);
  }
}

/** The file name under the data folder. */
export const sqliteFileName = 'durable.sqlite';

const checkpointIntervalMs = 1000;

/**
 * How much history text the store keeps in memory for instances still running, in UTF-16 code units
 * (about 64 MB): beyond it the least recently used histories are read from the file again.
 */
const historyCacheLimit = 32 * 1024 * 1024;

export class SqliteStore implements DurableStore {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  readonly #checkpoints: NodeJS.Timeout;
  readonly #queue: {
    body: () => unknown;
    resolve: (value: unknown) => void;
    reject: (error: Error) => void;
  }[] = [];
  /**
   * The committed history text of recently run instances that have not finished, so an episode reads its
   * history without a query that joins every row again (which made each episode of a long chain cost more
   * than the last). Entries are set only after their COMMIT, dropped when the instance finishes or is
   * purged, and the least recently used go when the total passes `historyCacheLimit`.
   */
  readonly #histories = new Map<string, HistoryText>();
  #historyChars = 0;
  /** Something was committed since the last checkpoint. */
  #written = false;
  #closed = false;

  readonly #historyCacheLimit: number;

  /**
   * Opens (or creates) `<dataDir>/durable.sqlite`. `historyCacheChars` bounds the history text kept in
   * memory for running instances (default about 64 MB).
   */
  constructor(
    readonly dataDir: string,
    options: { historyCacheChars?: number } = {},
  ) {
    this.#historyCacheLimit = options.historyCacheChars ?? historyCacheLimit;
    mkdirSync(dataDir, { recursive: true });
    this.#db = new (loadSqlite().DatabaseSync)(path.join(dataDir, sqliteFileName));
    this.#db.exec(
      'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; ' +
        'PRAGMA wal_autocheckpoint = 0;',
    );
    this.#db.exec(schema);
    this.#checkpoints = setInterval(() => this.#checkpoint('PASSIVE'), checkpointIntervalMs);
    this.#checkpoints.unref();
  }

  #checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): void {
    if (!this.#written || this.#closed) return;
    this.#written = false;
    this.#db.exec(`PRAGMA wal_checkpoint(${mode})`);
  }

  #sql(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (!statement) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  /**
   * Queues a write; every write queued in the same turn of the event loop is committed in one transaction
   * (group commit), each inside its own savepoint, so one that fails changes nothing and fails alone.
   * A write's promise resolves only after the COMMIT: nothing is acknowledged before it is stored.
   */
  #write<T>(body: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('The durable store is closed.'));
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({
        body,
        resolve: (value) => resolve(value as T),
        reject,
      });
      if (this.#queue.length === 1) setImmediate(() => this.#flush());
    });
  }

  #flush(): void {
    const batch = this.#queue.splice(0);
    if (batch.length === 0) return;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: Error })[] = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      for (const { body } of batch) {
        this.#db.exec('SAVEPOINT step');
        try {
          outcomes.push({ ok: true, value: body() });
          this.#db.exec('RELEASE step');
        } catch (error) {
          this.#db.exec('ROLLBACK TO step');
          this.#db.exec('RELEASE step');
          outcomes.push({ ok: false, error: error instanceof Error ? error : new Error(String(error)) });
        }
      }
      this.#db.exec('COMMIT');
      this.#written = true;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      const failure = error instanceof Error ? error : new Error(String(error));
      for (const { reject } of batch) reject(failure);
      return;
    }
    batch.forEach(({ resolve, reject }, index) => {
      const outcome = outcomes[index];
      if (outcome?.ok) resolve(outcome.value);
      else reject(outcome?.error ?? new Error('The write was not run.'));
    });
  }

  #readInstance(instanceId: string): OrchestrationRecord | undefined {
    const row = this.#sql('SELECT record FROM instances WHERE instance_id = ?').get(instanceId) as
      { record: string } | undefined;
    return row ? (JSON.parse(row.record) as OrchestrationRecord) : undefined;
  }

  #writeInstance(instance: OrchestrationRecord): void {
    this.#sql(
      `INSERT INTO instances (instance_id, created_time, runtime_status, record) VALUES (?, ?, ?, ?)
       ON CONFLICT (instance_id) DO UPDATE SET created_time = excluded.created_time,
         runtime_status = excluded.runtime_status, record = excluded.record`,
    ).run(instance.instanceId, instance.createdTime, instance.runtimeStatus, JSON.stringify(instance));
  }

  #insertMessage(message: NewInstanceMessage): InstanceMessage {
    const enqueuedAt = new Date().toISOString();
    const body = JSON.stringify({ ...message, enqueuedAt });
    const { lastInsertRowid } = this.#sql('INSERT INTO messages (instance_id, body) VALUES (?, ?)').run(
      message.instanceId,
      body,
    );
    return { ...message, id: String(lastInsertRowid), enqueuedAt };
  }

  #deleteMessages(messageIds: readonly string[]): void {
    const statement = this.#sql('DELETE FROM messages WHERE id = ?');
    for (const id of messageIds) statement.run(Number(id));
  }

  #cacheHistory(instanceId: string, history: HistoryText | undefined): void {
    const old = this.#histories.get(instanceId);
    if (old) {
      this.#historyChars -= old.text.length;
      this.#histories.delete(instanceId);
    }
    if (!history) return;
    // Re-inserted last: the Map's order is the order of use, oldest first.
    this.#histories.set(instanceId, history);
    this.#historyChars += history.text.length;
    for (const [id, cached] of this.#histories) {
      if (this.#historyChars <= this.#historyCacheLimit) break;
      this.#histories.delete(id);
      this.#historyChars -= cached.text.length;
    }
  }

  createInstance(instance: OrchestrationRecord, start?: NewInstanceMessage): Promise<void> {
    return this.#write(() => {
      const existing = this.#sql('SELECT runtime_status FROM instances WHERE instance_id = ?').get(
        instance.instanceId,
      ) as { runtime_status: string } | undefined;
      if (existing && !terminalStatuses.has(existing.runtime_status as OrchestrationRecord['runtimeStatus']))
        throw new InstanceExistsError(instance.instanceId);
      // A re-created instance starts clean: leftovers of the old one must not leak into it.
      this.#sql('DELETE FROM history WHERE instance_id = ?').run(instance.instanceId);
      this.#sql('DELETE FROM messages WHERE instance_id = ?').run(instance.instanceId);
      this.#writeInstance(instance);
      if (start) this.#insertMessage(start);
    }).then(() => this.#cacheHistory(instance.instanceId, { count: 0, text: '' }));
  }

  getInstance(instanceId: string): Promise<OrchestrationRecord | undefined> {
    return Promise.resolve(this.#readInstance(instanceId));
  }

  updateInstance(instance: OrchestrationRecord): Promise<void> {
    return this.#write(() => this.#writeInstance(instance));
  }

  /** For the status API and the dashboard: read from the file, and not kept. */
  getHistory(instanceId: string): Promise<HistoryEvent[]> {
    const { text } = this.#histories.get(instanceId) ?? this.#readHistory(instanceId);
    return Promise.resolve(JSON.parse(`[${text}]`) as HistoryEvent[]);
  }

  /** For an episode: kept after this read, so the instance's next episodes need no query. */
  getHistoryText(instanceId: string): Promise<HistoryText> {
    const cached = this.#histories.get(instanceId);
    if (cached) return Promise.resolve(cached);
    const history = this.#readHistory(instanceId);
    this.#cacheHistory(instanceId, history);
    return Promise.resolve(history);
  }

  #readHistory(instanceId: string): HistoryText {
    // SQLite joins the rows itself: one string crosses into JavaScript instead of one per event.
    const row = this.#sql(
      `SELECT count(*) AS count, group_concat(event, ',' ORDER BY seq) AS text FROM history
       WHERE instance_id = ?`,
    ).get(instanceId) as { count: number; text: string | null };
    return { count: row.count, text: row.text ?? '' };
  }

  commitEpisode(instanceId: string, commit: EpisodeCommit): Promise<void> {
    return this.#write((): HistoryText | undefined => {
      // Rows are numbered from 0 without gaps, so a known history's count is its next number.
      const known = commit.resetHistory ? { count: 0, text: '' } : this.#histories.get(instanceId);
      let next = known?.count ?? 0;
      if (commit.resetHistory) {
        this.#sql('DELETE FROM history WHERE instance_id = ?').run(instanceId);
      } else if (!known) {
        const row = this.#sql('SELECT MAX(seq) AS last FROM history WHERE instance_id = ?').get(
          instanceId,
        ) as {
          last: number | null;
        };
        next = (row.last ?? -1) + 1;
      }
      let text = known?.text ?? '';
      const insert = this.#sql('INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)');
      for (const event of commit.append) {
        const serialized = serializePlayed(event);
        insert.run(instanceId, next++, serialized);
        if (known) text += (text === '' ? '' : ',') + serialized;
      }
      this.#writeInstance(commit.instance);
      this.#deleteMessages(commit.consumed);
      for (const message of commit.send) this.#insertMessage(message);
      const work = this.#sql('INSERT OR REPLACE INTO work (id, body) VALUES (?, ?)');
      for (const item of commit.work ?? []) work.run(item.id, JSON.stringify(item));
      return known ? { count: next, text } : undefined;
    }).then((history) =>
      // Committed: a running instance's next episode reads this; a finished one's history is read rarely.
      this.#cacheHistory(
        instanceId,
        terminalStatuses.has(commit.instance.runtimeStatus) ? undefined : history,
      ),
    );
  }

  queryInstances(query: InstanceQuery): Promise<Page<OrchestrationRecord>> {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.createdTimeFrom) {
      where.push('created_time >= ?');
      params.push(query.createdTimeFrom.toISOString());
    }
    if (query.createdTimeTo) {
      where.push('created_time <= ?');
      params.push(query.createdTimeTo.toISOString());
    }
    if (query.runtimeStatus && query.runtimeStatus.length > 0) {
      where.push(`runtime_status IN (${query.runtimeStatus.map(() => '?').join(', ')})`);
      params.push(...query.runtimeStatus);
    }
    if (query.instanceIdPrefix) {
      where.push('substr(instance_id, 1, ?) = ?');
      params.push(query.instanceIdPrefix.length, query.instanceIdPrefix);
    }
    if (query.name !== undefined) {
      where.push("json_extract(record, '$.name') = ?");
      params.push(query.name);
    }
    const order = query.newestFirst ? 'created_time DESC, instance_id DESC' : 'created_time, instance_id';
    // Keyset paging: the token is the last row's (created_time, instance_id), so a page reads its own
    // rows through the index, and a client that follows every token pays per page, not per page squared.
    const after = query.pageSize ? keysetAfter(query.continuationToken) : undefined;
    if (after) {
      where.push(
        query.newestFirst ? '(created_time, instance_id) < (?, ?)' : '(created_time, instance_id) > (?, ?)',
      );
      params.push(after.createdTime, after.instanceId);
    }
    const limit = query.pageSize ? ` LIMIT ${query.pageSize + 1}` : '';
    const rows = this.#db
      .prepare(
        `SELECT instance_id, created_time, record FROM instances ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY ${order}${limit}`,
      )
      .all(...params) as { instance_id: string; created_time: string; record: string }[];
    if (!query.pageSize) {
      return Promise.resolve({ items: rows.map((r) => JSON.parse(r.record) as OrchestrationRecord) });
    }
    const pageRows = rows.slice(0, query.pageSize);
    const page: Page<OrchestrationRecord> = {
      items: pageRows.map((r) => JSON.parse(r.record) as OrchestrationRecord),
    };
    const last = pageRows.at(-1);
    if (rows.length > query.pageSize && last) {
      page.continuationToken = Buffer.from(
        JSON.stringify({ t: last.created_time, id: last.instance_id }),
        'utf8',
      ).toString('base64url');
    }
    return Promise.resolve(page);
  }

  purgeInstance(instanceId: string): Promise<boolean> {
    return this.#write(() => {
      const { changes } = this.#sql('DELETE FROM instances WHERE instance_id = ?').run(instanceId);
      this.#sql('DELETE FROM history WHERE instance_id = ?').run(instanceId);
      this.#sql('DELETE FROM messages WHERE instance_id = ?').run(instanceId);
      return Number(changes) > 0;
    }).then((existed) => {
      this.#cacheHistory(instanceId, undefined);
      return existed;
    });
  }

  sendMessage(message: NewInstanceMessage): Promise<InstanceMessage> {
    return this.#write(() => this.#insertMessage(message));
  }

  pendingMessages(instanceId: string): Promise<InstanceMessage[]> {
    const rows = this.#sql('SELECT id, body FROM messages WHERE instance_id = ? ORDER BY id').all(
      instanceId,
    ) as { id: number; body: string }[];
    return Promise.resolve(
      rows.map((r) => ({ ...(JSON.parse(r.body) as InstanceMessage), id: String(r.id) })),
    );
  }

  deleteMessages(_instanceId: string, messageIds: string[]): Promise<void> {
    if (messageIds.length === 0) return Promise.resolve();
    return this.#write(() => this.#deleteMessages(messageIds));
  }

  instancesWithMessages(): Promise<string[]> {
    const rows = this.#sql('SELECT DISTINCT instance_id FROM messages').all() as { instance_id: string }[];
    return Promise.resolve(rows.map((r) => r.instance_id));
  }

  getEntity(entityId: string): Promise<EntityRecord | undefined> {
    const row = this.#sql('SELECT record FROM entities WHERE entity_id = ?').get(entityId) as
      { record: string } | undefined;
    return Promise.resolve(row ? (JSON.parse(row.record) as EntityRecord) : undefined);
  }

  commitEntityBatch(entity: EntityRecord, consumed: string[], send: NewInstanceMessage[]): Promise<void> {
    return this.#write(() => {
      this.#sql('INSERT OR REPLACE INTO entities (entity_id, record) VALUES (?, ?)').run(
        entity.entityId,
        JSON.stringify(entity),
      );
      this.#deleteMessages(consumed);
      for (const message of send) this.#insertMessage(message);
    });
  }

  listEntities(query: EntityQuery): Promise<Page<EntityRecord>> {
    const name = query.entityName?.toLowerCase();
    const rows = this.#sql('SELECT record FROM entities ORDER BY entity_id').all() as { record: string }[];
    const matching = rows
      .map((r) => JSON.parse(r.record) as EntityRecord)
      .filter(
        (e) =>
          e.exists &&
          (!name || e.name === name) &&
          (!query.lastOperationFrom || new Date(e.lastOperationTime) >= query.lastOperationFrom) &&
          (!query.lastOperationTo || new Date(e.lastOperationTime) <= query.lastOperationTo),
      );
    return Promise.resolve(paginate(matching, query.pageSize, query.continuationToken));
  }

  completeWork(workId: string, answer: NewInstanceMessage | undefined): Promise<void> {
    return this.#write(() => {
      this.#sql('DELETE FROM work WHERE id = ?').run(workId);
      if (answer) this.#insertMessage(answer);
    });
  }

  pendingWork(): Promise<WorkItem[]> {
    const rows = this.#sql('SELECT body FROM work ORDER BY rowid').all() as { body: string }[];
    return Promise.resolve(rows.map((r) => JSON.parse(r.body) as WorkItem));
  }

  close(): Promise<void> {
    if (!this.#closed) {
      // Writes queued before the close are committed, not dropped.
      this.#flush();
      clearInterval(this.#checkpoints);
      this.#checkpoint('TRUNCATE');
      this.#closed = true;
      this.#statements.clear();
      this.#db.close();
    }
    return Promise.resolve();
  }
}

/** The position a keyset token names; undefined for none (or a token this store did not make). */
function keysetAfter(token: string | undefined): { createdTime: string; instanceId: string } | undefined {
  if (!token) return undefined;
  try {
    const value = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      t?: unknown;
      id?: unknown;
    };
    return typeof value.t === 'string' && typeof value.id === 'string'
      ? { createdTime: value.t, instanceId: value.id }
      : undefined;
  } catch {
    return undefined;
  }
}
