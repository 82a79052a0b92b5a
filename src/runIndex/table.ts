import { odata, RestError, type TableClient, type TableEntityResult } from '@azure/data-tables';
import { z } from 'zod';
import type { ModelUsage } from '../contracts/model';

/**
 * The run index: one Azure Table (RUN_INDEX_TABLE) that answers the two questions the task hub cannot
 * answer without reading every instance.
 *
 * - "Which runs are this owner's, newest first?" Partition `owner:<userId>`, one row per run, row key
 *   `<reverse time>_<runId>`: a page of the list is one range query in one partition. The row holds what
 *   the list shows (created time, a prompt preview) and, once the run is seen to have ended, its final
 *   status, stage and usage, so an ended run costs the list no read of the task hub.
 * - "Which runs have not been seen to end?" Partitions `open:<0-f>`, one row per such run, keyed by run
 *   id. The starter writes it before the run starts; the reconciler removes it once it has seen the run
 *   end and settled it if it had to. So a reconciler pass looks at these rows only: what is still going
 *   and what ended since the last pass, never at the runs it finished with before.
 *
 * Why a table and not owner-prefixed instance ids: durable-functions 3.x's client cannot send the
 * management API's `instanceIdPrefix` or `top` (it builds the query from createdTime and runtimeStatus
 * only, and follows every continuation token: Azure/azure-functions-durable-js,
 * src/durableClient/DurableClient.ts, getStatusInternal), run ids are in every URL a user holds, and a
 * status filter would still be a scan. The table costs a few writes per run (README, "The run index").
 */

/** A run's row in its owner's partition. */
export interface OwnerRow {
  runId: string;
  owner: string;
  /** The request time the starter recorded (ms precision), which orders the list. */
  createdTime: string;
  preview: string;
  /** `live` until the run is seen to have ended; then the fields below are its final view. */
  state: 'live' | 'ended';
  status?: string;
  stage?: string;
  usage?: ModelUsage;
  lastUpdatedTime?: string;
  /** Set when the reconciler or the product's cancellation settled the run's reservation. */
  settledAt?: string;
  /** `backfill` for runs started before the index existed (found by the reconciler's one-time backfill). */
  source: 'start' | 'backfill';
}

/** A run the reconciler has not seen end. */
export interface OpenRow {
  runId: string;
  owner: string;
  createdTime: string;
}

/** What the index holds once a run has ended: its view at the end. */
export interface EndedRun {
  status: string;
  stage: string;
  usage: ModelUsage;
  lastUpdatedTime: string;
}

/** The reconciler's own bookkeeping: how far the one-time backfill has come, and when it last passed. */
export interface ReconcilerState {
  /** Runs created before this were started without index rows; the backfill walks back from here. */
  cutover: string;
  /** The backfill has indexed every run created from here up to the cutover. */
  backfilledFrom: string;
  /** Width of the next backfill window, in days: doubled after an empty window, reset after a full one. */
  windowDays: number;
  backfillDone: boolean;
  lastPassAt?: string;
}

const ownerPrefix = 'owner:';
const openPrefix = 'open:';
/** `;` is the character after `:`, so [open:, open;) holds exactly the open partitions. */
const openRangeEnd = 'open;';
const reconcilerPartition = 'reconciler';
const reconcilerStateKey = 'state';

/** Largest time a row key can hold (year 2286); keys count down from it so that newer sorts first. */
const maxMs = 9_999_999_999_999;

export function ownerPartition(owner: string): string {
  return `${ownerPrefix}${owner}`;
}

/** Newest first in the table's ascending key order: the time counted down, then the run id. */
export function ownerRowKey(createdTime: string, runId: string): string {
  const ms = Date.parse(createdTime);
  return `${String(maxMs - ms).padStart(13, '0')}_${runId}`;
}

/** The time and run id a row key was made from; undefined for anything else. */
export function parseOwnerRowKey(rowKey: string): { createdTime: string; runId: string } | undefined {
  const match = /^(\d{13})_(.+)$/.exec(rowKey);
  if (!match?.[1] || !match[2]) return undefined;
  const ms = maxMs - Number(match[1]);
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  return { createdTime: new Date(ms).toISOString(), runId: match[2] };
}

/** Sixteen open partitions by the run id's first hex digit: starts spread over them. */
export function openPartition(runId: string): string {
  const first = runId.charAt(0).toLowerCase();
  return `${openPrefix}${/^[0-9a-f]$/.test(first) ? first : '0'}`;
}

const usageSchema = z.object({
  promptTokens: z.number(),
  completionTokens: z.number(),
  totalTokens: z.number(),
});

/** A row as the table gives it back: read with zod, like any data from outside. */
const ownerEntitySchema = z
  .object({
    partitionKey: z.string(),
    rowKey: z.string(),
    runId: z.string(),
    createdTime: z.string(),
    preview: z.string().default(''),
    state: z.enum(['live', 'ended']),
    status: z.string().optional(),
    stage: z.string().optional(),
    promptTokens: z.number().optional(),
    completionTokens: z.number().optional(),
    totalTokens: z.number().optional(),
    lastUpdatedTime: z.string().optional(),
    settledAt: z.string().optional(),
    source: z.enum(['start', 'backfill']).default('start'),
  })
  .loose();

const openEntitySchema = z.object({ rowKey: z.string(), owner: z.string(), createdTime: z.string() }).loose();

const stateEntitySchema = z
  .object({
    cutover: z.string(),
    backfilledFrom: z.string(),
    windowDays: z.number(),
    backfillDone: z.boolean(),
    lastPassAt: z.string().optional(),
  })
  .loose();

function toOwnerRow(entity: unknown): (OwnerRow & { rowKey: string }) | undefined {
  const parsed = ownerEntitySchema.safeParse(entity);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  const usage = usageSchema.safeParse({
    promptTokens: e.promptTokens,
    completionTokens: e.completionTokens,
    totalTokens: e.totalTokens,
  });
  return {
    rowKey: e.rowKey,
    runId: e.runId,
    owner: e.partitionKey.slice(ownerPrefix.length),
    createdTime: e.createdTime,
    preview: e.preview,
    state: e.state,
    ...(e.status !== undefined ? { status: e.status } : {}),
    ...(e.stage !== undefined ? { stage: e.stage } : {}),
    ...(usage.success ? { usage: usage.data } : {}),
    ...(e.lastUpdatedTime !== undefined ? { lastUpdatedTime: e.lastUpdatedTime } : {}),
    ...(e.settledAt !== undefined ? { settledAt: e.settledAt } : {}),
    source: e.source,
  };
}

/** One page of an owner's rows, as one request to the table gave it. */
export interface OwnerPage {
  rows: (OwnerRow & { rowKey: string })[];
  /** Where the table would go on; absent when the partition has no more rows for this query. */
  next?: { continuationToken: string; nextRowKey?: string };
}

export interface OwnerQuery {
  owner: string;
  /** Rows strictly after this key (the keyset cursor of the list). */
  afterRowKey?: string;
  /** Rows from this key on (a cursor the table itself handed back mid-scan). */
  fromRowKey?: string;
  /** Ended rows with one of these statuses, and every live row (its status is read from the run). */
  endedStatuses?: readonly string[];
  pageSize: number;
  continuationToken?: string;
}

const isStatus = (status: number) => (error: unknown) =>
  error instanceof RestError && error.statusCode === status;
const isNotFound = isStatus(404);
/** Azure names it in `code`; Azurite only in the body, which the SDK puts in the message. */
const isTableNotFound = (error: unknown) =>
  isNotFound(error) &&
  ((error as RestError).code === 'TableNotFound' || (error as RestError).message.includes('TableNotFound'));
const isConflict = isStatus(409);

export class RunIndex {
  constructor(private readonly table: TableClient) {}

  /**
   * Runs `op`, creating the table first if it does not exist yet (Bicep creates it in Azure; Azurite
   * starts without it): a request more once, instead of one on every start of the app.
   */
  async #withTable<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (!isTableNotFound(error)) throw error;
      await this.table.createTable();
      return op();
    }
  }

  /**
   * Called by the starter before it starts the run: first the open row, then the owner's row, so that
   * every owner row has an open row until the reconciler has seen its run end. Should the run then never
   * start (a crash before startNew), both rows point at nothing: the list skips such a row after a grace
   * period, and the reconciler deletes both.
   */
  async recordStart(run: {
    runId: string;
    owner: string;
    createdTime: string;
    preview: string;
  }): Promise<void> {
    await this.#withTable(() =>
      this.table.upsertEntity(
        {
          partitionKey: openPartition(run.runId),
          rowKey: run.runId,
          owner: run.owner,
          createdTime: run.createdTime,
        },
        'Replace',
      ),
    );
    await this.table.upsertEntity(
      {
        partitionKey: ownerPartition(run.owner),
        rowKey: ownerRowKey(run.createdTime, run.runId),
        runId: run.runId,
        createdTime: run.createdTime,
        preview: run.preview,
        state: 'live',
        source: 'start',
      },
      'Replace',
    );
  }

  /** One request: up to `pageSize` of the owner's rows, newest first, from the cursor on. */
  async ownerPage(query: OwnerQuery): Promise<OwnerPage> {
    const partition = ownerPartition(query.owner);
    let filter = odata`PartitionKey eq ${partition}`;
    if (query.fromRowKey !== undefined) filter += odata` and RowKey ge ${query.fromRowKey}`;
    else if (query.afterRowKey !== undefined) filter += odata` and RowKey gt ${query.afterRowKey}`;
    if (query.endedStatuses) {
      const either = [odata`state eq ${'live'}`, ...query.endedStatuses.map((s) => odata`status eq ${s}`)];
      filter += ` and (${either.join(' or ')})`;
    }
    // A listing whose first request failed is finished: the retry (after creating the table) lists anew.
    const first = await this.#withTable(() =>
      this.table
        .listEntities({ queryOptions: { filter } })
        .byPage({
          maxPageSize: query.pageSize,
          ...(query.continuationToken ? { continuationToken: query.continuationToken } : {}),
        })
        .next(),
    );
    if (first.done) return { rows: [] };
    const page = first.value;
    const rows = page.flatMap((entity) => toOwnerRow(entity) ?? []);
    if (!page.continuationToken) return { rows };
    const nextRowKey = nextRowKeyOf(page.continuationToken);
    return {
      rows,
      next: { continuationToken: page.continuationToken, ...(nextRowKey ? { nextRowKey } : {}) },
    };
  }

  /**
   * Records the run's end on its owner row. A merge into a row that must exist: a row the product's purge
   * removed stays removed. Idempotent: every writer derives the same fields from the same final status.
   */
  async recordEnd(
    run: { runId: string; owner: string; createdTime: string },
    ended: EndedRun,
    settledAt?: string,
  ): Promise<void> {
    try {
      await this.#withTable(() =>
        this.table.updateEntity(
          {
            partitionKey: ownerPartition(run.owner),
            rowKey: ownerRowKey(run.createdTime, run.runId),
            state: 'ended',
            status: ended.status,
            stage: ended.stage,
            promptTokens: ended.usage.promptTokens,
            completionTokens: ended.usage.completionTokens,
            totalTokens: ended.usage.totalTokens,
            lastUpdatedTime: ended.lastUpdatedTime,
            ...(settledAt ? { settledAt } : {}),
          },
          'Merge',
        ),
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** The reconciler is done with this run: it ended and, if it had to be, was settled. */
  async closeOpen(runId: string): Promise<void> {
    await this.#withTable(() => this.table.deleteEntity(openPartition(runId), runId)).catch(
      (error: unknown) => {
        if (!isNotFound(error)) throw error;
      },
    );
  }

  /** Removes both of a run's rows: it was purged, or it never started. */
  async forget(run: { runId: string; owner: string; createdTime: string }): Promise<void> {
    await this.#withTable(() =>
      this.table.deleteEntity(ownerPartition(run.owner), ownerRowKey(run.createdTime, run.runId)),
    ).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    await this.closeOpen(run.runId);
  }

  /** Every open row, page by page (one request each). */
  async *openRows(): AsyncGenerator<OpenRow[]> {
    const filter = odata`PartitionKey ge ${openPrefix} and PartitionKey lt ${openRangeEnd}`;
    const listing = () => this.table.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: 1000 });
    let pages = listing();
    // A listing whose first request failed is finished: the retry (after creating the table) lists anew.
    const first = () => {
      pages = listing();
      return pages.next();
    };
    for (let page = await this.#withTable(first); page.done !== true; page = await pages.next()) {
      yield page.value.flatMap((entity: TableEntityResult<Record<string, unknown>>) => {
        const parsed = openEntitySchema.safeParse(entity);
        return parsed.success
          ? [{ runId: parsed.data.rowKey, owner: parsed.data.owner, createdTime: parsed.data.createdTime }]
          : [];
      });
    }
  }

  /**
   * Writes the owner row of a run found by the backfill, unless the run has one (the starter's, or an
   * earlier backfill's). Answers whether it wrote it.
   */
  async addFound(
    row: Omit<OwnerRow, 'owner' | 'source'> & { owner: string },
    open: boolean,
  ): Promise<boolean> {
    // The open row first, as the starter does; writing it again for a run that has one changes nothing.
    if (open) {
      await this.table.upsertEntity(
        {
          partitionKey: openPartition(row.runId),
          rowKey: row.runId,
          owner: row.owner,
          createdTime: row.createdTime,
        },
        'Replace',
      );
    }
    try {
      await this.#withTable(() =>
        this.table.createEntity({
          partitionKey: ownerPartition(row.owner),
          rowKey: ownerRowKey(row.createdTime, row.runId),
          runId: row.runId,
          createdTime: row.createdTime,
          preview: row.preview,
          state: row.state,
          ...(row.status !== undefined ? { status: row.status } : {}),
          ...(row.stage !== undefined ? { stage: row.stage } : {}),
          ...(row.usage ? row.usage : {}),
          ...(row.lastUpdatedTime !== undefined ? { lastUpdatedTime: row.lastUpdatedTime } : {}),
          ...(row.settledAt !== undefined ? { settledAt: row.settledAt } : {}),
          source: 'backfill',
        }),
      );
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }

  async reconcilerState(): Promise<ReconcilerState | undefined> {
    try {
      const entity = await this.#withTable(() =>
        this.table.getEntity(reconcilerPartition, reconcilerStateKey),
      );
      const parsed = stateEntitySchema.safeParse(entity);
      return parsed.success ? parsed.data : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async saveReconcilerState(state: ReconcilerState): Promise<void> {
    await this.#withTable(() =>
      this.table.upsertEntity(
        { partitionKey: reconcilerPartition, rowKey: reconcilerStateKey, ...state },
        'Replace',
      ),
    );
  }
}

/**
 * The row key the table would go on from. @azure/data-tables encodes its continuation as base64 JSON of
 * `{nextPartitionKey, nextRowKey}` (src/utils/continuationToken.ts); read defensively, since the list
 * only uses it to make a cursor when a scan stops with no row to point at.
 */
function nextRowKeyOf(token: string): string | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    const key = (value as { nextRowKey?: unknown } | null)?.nextRowKey;
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

const previewChars = 120;

/** The list's preview of a prompt: whitespace folded, at most 120 characters (code points). */
export function promptPreview(prompt: string): string {
  const flat = prompt.replace(/\s+/g, ' ').trim();
  const chars = [...flat];
  return chars.length <= previewChars ? flat : `${chars.slice(0, previewChars - 1).join('')}…`;
}
