import type { DurableOrchestrationStatus } from 'durable-functions';
import type { ModelUsage } from '../contracts/model';
import { hasEnded, runSummary, startGraceMs } from './summary';
import { ownerRowKey, parseOwnerRowKey, type OwnerRow, type RunIndex } from './table';

/**
 * One page of an owner's runs from the run index, at a cost bounded by the page size, whatever the task
 * hub holds:
 *
 * - the index: one range query in the owner's partition for `limit + 1` rows, and at most
 *   `maxTableRequests` in all (a status filter may skip rows; the table may also hand back a short page);
 * - the task hub: one status read for each live row on the page (its stage and usage change as it runs),
 *   at most `maxStatusReads`; an ended row carries its final view and costs no read.
 *
 * A filter on a status is applied by the table to ended rows; live rows always come back, because a run
 * the index still calls live may have ended since (nobody has looked yet), and its status decides. When a
 * bound stops the page before it is full, it ends early with a cursor where it stopped, as Durable's own
 * queries may answer fewer items than asked for.
 */

export const liveViewStatuses: readonly string[] = ['running', 'awaiting-approval'];

/** The keyset cursor: strictly after the run created at `t` with id `id`, or from there with `from`. */
export interface Cursor {
  t: string;
  id: string;
  /** The table stopped a scan here without a row to point at: the next page starts at this key. */
  from?: true;
}

export interface ListedRun {
  id: string;
  status: string;
  stage: string;
  createdTime: string;
  lastUpdatedTime: string;
  usage: ModelUsage;
  preview: string;
}

export interface ListPageQuery {
  owner: string;
  /** View statuses to keep; all when absent. */
  wanted?: readonly string[];
  limit: number;
  cursor?: Cursor;
}

export interface ListPageDeps {
  index: RunIndex;
  /** The run's status without its input, or null when there is no such agent run. */
  readStatus: (runId: string) => Promise<DurableOrchestrationStatus | null>;
  now: () => number;
  log: (message: string) => void;
}

export interface ListPage {
  items: ListedRun[];
  next?: Cursor;
  /** What the page cost, for the logs and the bench. */
  cost: { tableRequests: number; rows: number; statusReads: number };
}

const maxTableRequests = 4;
const noUsage: ModelUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };

export async function listPage(deps: ListPageDeps, query: ListPageQuery): Promise<ListPage> {
  const { index } = deps;
  const { owner, wanted, limit, cursor } = query;
  const maxStatusReads = 2 * (limit + 1);
  const endedStatuses = wanted?.filter((s) => !liveViewStatuses.includes(s));
  const start = cursor ? ownerRowKey(cursor.t, cursor.id) : undefined;
  const cost = { tableRequests: 0, rows: 0, statusReads: 0 };

  const items: ListedRun[] = [];
  const repairs: Promise<void>[] = [];
  let buffer: (OwnerRow & { rowKey: string })[] = [];
  let continuationToken: string | undefined;
  let nextRowKey: string | undefined;
  let tableDone = false;
  let lastExamined: string | undefined;

  while (items.length < limit) {
    if (buffer.length === 0) {
      if (tableDone || cost.tableRequests >= maxTableRequests) break;
      const page = await index.ownerPage({
        owner,
        ...(start !== undefined ? (cursor?.from ? { fromRowKey: start } : { afterRowKey: start }) : {}),
        ...(endedStatuses ? { endedStatuses } : {}),
        pageSize: limit + 1,
        ...(continuationToken ? { continuationToken } : {}),
      });
      cost.tableRequests += 1;
      cost.rows += page.rows.length;
      buffer = page.rows;
      continuationToken = page.next?.continuationToken;
      nextRowKey = page.next?.nextRowKey;
      tableDone = !page.next;
      continue;
    }
    const chunk = buffer.slice(0, limit - items.length);
    const live = chunk.filter((row) => row.state === 'live');
    if (live.length > 0 && cost.statusReads + live.length > maxStatusReads) break;
    buffer = buffer.slice(chunk.length);
    const statuses = new Map<string, DurableOrchestrationStatus | null>(
      await Promise.all(live.map(async (row) => [row.runId, await deps.readStatus(row.runId)] as const)),
    );
    cost.statusReads += live.length;
    for (const row of chunk) {
      lastExamined = row.rowKey;
      const item = row.state === 'ended' ? endedItem(row) : liveItem(row, statuses.get(row.runId) ?? null);
      if (item && (!wanted || wanted.includes(item.status))) items.push(item);
      const status = statuses.get(row.runId);
      // Read-repair: the run ended and nobody has written it down yet; the next page will not read it.
      if (status && hasEnded(status)) repairs.push(index.recordEnd(row, runSummary(status)));
    }
  }

  const failed = (await Promise.allSettled(repairs)).filter((r) => r.status === 'rejected');
  if (failed.length > 0) {
    deps.log(
      `Run list: could not record the end of ${failed.length} runs in the run index; the next read will.`,
    );
  }

  const more = buffer.length > 0 || !tableDone;
  if (!more) return { items, cost };
  const next = cursorAt(lastExamined, buffer.length === 0 ? nextRowKey : undefined);
  return next ? { items, next, cost } : { items, cost };

  function liveItem(row: OwnerRow, status: DurableOrchestrationStatus | null): ListedRun | undefined {
    if (!status) {
      // The starter writes the rows before it starts the run: a moment ago, the run may not exist yet.
      // Later, it never will (the start failed); the reconciler removes such rows.
      if (deps.now() - Date.parse(row.createdTime) > startGraceMs) return undefined;
      return {
        id: row.runId,
        status: 'running',
        stage: 'starting',
        createdTime: row.createdTime,
        lastUpdatedTime: row.createdTime,
        usage: noUsage,
        preview: row.preview,
      };
    }
    const summary = runSummary(status);
    return {
      id: row.runId,
      status: summary.status,
      stage: summary.stage,
      createdTime: row.createdTime,
      lastUpdatedTime: summary.lastUpdatedTime,
      usage: summary.usage,
      preview: row.preview,
    };
  }
}

function endedItem(row: OwnerRow): ListedRun {
  return {
    id: row.runId,
    status: row.status ?? 'failed',
    stage: row.stage ?? 'done',
    createdTime: row.createdTime,
    lastUpdatedTime: row.lastUpdatedTime ?? row.createdTime,
    usage: row.usage ?? noUsage,
    preview: row.preview,
  };
}

/** After the last row looked at; else from where the table said it would go on. */
function cursorAt(lastExamined: string | undefined, nextRowKey: string | undefined): Cursor | undefined {
  const after = lastExamined !== undefined ? parseOwnerRowKey(lastExamined) : undefined;
  if (after) return { t: after.createdTime, id: after.runId };
  const from = nextRowKey !== undefined ? parseOwnerRowKey(nextRowKey) : undefined;
  return from ? { t: from.createdTime, id: from.runId, from: true } : undefined;
}
