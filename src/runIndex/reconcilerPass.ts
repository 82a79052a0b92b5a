import * as df from 'durable-functions';
import type { DurableClient, DurableOrchestrationStatus, OrchestrationFilter } from 'durable-functions';
import { agentRunInputSchema, agentRunStatusSchema, fitting } from '../contracts/orchestrations';
import { orchestratorNames } from '../names';
import { hasEnded, runSummary, startGraceMs } from './summary';
import { promptPreview, type OpenRow, type ReconcilerState, type RunIndex } from './table';

/**
 * Which runs a reconciler pass looks at, and the record of what it is done with (src/functions/
 * reconcile.ts does the settling, through the product's cancellation).
 *
 * A pass reads the index's open rows: the runs the reconciler has not seen end. Durable cannot answer
 * "what ended since the last pass" itself: its instance query selects by created time and runtime status
 * (no last-updated time), and on the Azure Storage provider either is a scan of the Instances table
 * (Azure/durabletask, src/DurableTask.AzureStorage/Tracking/OrchestrationInstanceStatusQueryCondition.cs).
 * So each open run's status is read (one read each, 16 at a time), and
 * - a run still going stays open: a raw terminate can still end it behind the product's back;
 * - a run that completed has its end written to its owner's row, and is closed;
 * - a run that failed, was terminated or canceled is handed to the reconciler, which settles it; then
 *   `settled` writes that down and closes it, so no later pass looks at it again;
 * - a row whose run does not exist, older than the start grace, is a start that never happened (or a run
 *   purged behind the product's back): both of its rows go.
 * The cost of a pass is the runs still going plus those that ended since the last one; the runs it is
 * done with cost nothing, however many there are.
 *
 * The state row keeps the pass's watermark (`lastPassAt`) and the one-time backfill of runs started
 * before the index existed (`backfill` below).
 */

export interface ReconcilerPass {
  /** Agent runs that ended without the reconciler having settled them: Failed, Terminated, Canceled. */
  ended: DurableOrchestrationStatus[];
  /** Writes down that the run is settled; no later pass looks at it again. */
  settled(status: DurableOrchestrationStatus): Promise<void>;
  /** Records the pass's end (the watermark). */
  finish(): Promise<void>;
  cost: PassCost;
}

export interface PassCost {
  openRows: number;
  statusReads: number;
  /** Completed runs whose end the pass wrote down and closed. */
  closed: number;
  /** Rows of runs that never started (or were purged behind the product's back), removed. */
  dropped: number;
  backfilled: number;
}

const concurrency = 16;
/** No Durable Functions task hub holds an instance older than the extension's first preview (2017). */
const backfillFloor = Date.parse('2017-01-01T00:00:00.000Z');
const dayMs = 24 * 60 * 60 * 1000;
const maxWindowDays = 256;
/** A pass spends at most this long on the backfill; the next pass goes on from where it stopped. */
const backfillBudgetMs = 60_000;
/**
 * Runs started before the index that ended this close to the cutover may have ended behind the
 * product's back after the previous reconciler's last pass: they get an open row, so they are settled
 * once more (settling is idempotent). Older ones were settled by that reconciler, pass after pass.
 */
const backfillOverlapMs = 60 * 60 * 1000;

export async function beginReconcilerPass(
  client: DurableClient,
  index: RunIndex,
  now: Date,
  log: (message: string) => void,
): Promise<ReconcilerPass> {
  const cost: PassCost = { openRows: 0, statusReads: 0, closed: 0, dropped: 0, backfilled: 0 };
  const state: ReconcilerState = (await index.reconcilerState()) ?? {
    cutover: now.toISOString(),
    backfilledFrom: now.toISOString(),
    windowDays: 1,
    backfillDone: false,
  };
  if (!state.backfillDone) cost.backfilled = await backfill(client, index, state, log);

  const ended: { status: DurableOrchestrationStatus; row: OpenRow }[] = [];
  for await (const rows of index.openRows()) {
    cost.openRows += rows.length;
    await forEachLimited(rows, concurrency, async (row) => {
      const status = await statusOrNull(client, row.runId);
      cost.statusReads += 1;
      if (!status || status.name !== orchestratorNames.agentRun) {
        if (now.getTime() - Date.parse(row.createdTime) > startGraceMs) {
          await index.forget(row);
          cost.dropped += 1;
        }
        return;
      }
      if (!hasEnded(status)) return;
      if (status.runtimeStatus === df.OrchestrationRuntimeStatus.Completed) {
        // It ended by its own code, which settled its reservation: nothing to do but write it down.
        await index.recordEnd(row, runSummary(status));
        await index.closeOpen(row.runId);
        cost.closed += 1;
        return;
      }
      ended.push({ status, row });
    });
  }
  const rowsById = new Map(ended.map((e) => [e.status.instanceId, e.row]));
  if (cost.dropped > 0) log(`Reconciler: removed the index rows of ${cost.dropped} runs that never started.`);

  return {
    ended: ended.map((e) => e.status),
    cost,
    async settled(status) {
      const row = rowsById.get(status.instanceId);
      if (!row) return;
      await index.recordEnd(row, runSummary(status), new Date().toISOString());
      await index.closeOpen(row.runId);
    },
    async finish() {
      await index.saveReconcilerState({ ...state, lastPassAt: now.toISOString() });
    },
  };
}

/**
 * Indexes the runs started before the index existed, so that their owners still find them and the
 * reconciler still looks after the ones not yet ended. Walks back from the cutover in windows of
 * created time, one Durable query each (with inputs: the owner and the prompt are there), doubling the
 * window after an empty one, down to the floor; saves its place after every window, so a pass that stops
 * (its time budget, a crash) is taken up by the next. One-time: on the Azure Storage provider each
 * window is a scan of the Instances table.
 */
async function backfill(
  client: DurableClient,
  index: RunIndex,
  state: ReconcilerState,
  log: (message: string) => void,
): Promise<number> {
  const stopAt = Date.now() + backfillBudgetMs;
  const recentSince = Date.parse(state.cutover) - backfillOverlapMs;
  let written = 0;
  while (!state.backfillDone && Date.now() < stopAt) {
    const to = Date.parse(state.backfilledFrom);
    if (to <= backfillFloor) {
      state.backfillDone = true;
      break;
    }
    const from = Math.max(backfillFloor, to - state.windowDays * dayMs);
    // showInput is honoured by the client's query though its filter type does not name it.
    const filter: OrchestrationFilter & { showInput: boolean } = {
      createdTimeFrom: new Date(from),
      createdTimeTo: new Date(to),
      showInput: true,
    };
    const found = (await client.getStatusBy(filter)).filter((s) => s.name === orchestratorNames.agentRun);
    await forEachLimited(found, concurrency, async (status) => {
      const input = fitting(agentRunInputSchema, status.input);
      const owner = input?.owner ?? fitting(agentRunStatusSchema, status.customStatus)?.owner;
      if (!owner) return;
      const requested = input?.requestedAt;
      const createdTime =
        requested && !Number.isNaN(Date.parse(requested))
          ? new Date(requested).toISOString()
          : new Date(status.createdTime).toISOString();
      const ended = hasEnded(status);
      const open =
        !ended ||
        (status.runtimeStatus !== df.OrchestrationRuntimeStatus.Completed &&
          new Date(status.lastUpdatedTime).getTime() >= recentSince);
      const summary = ended ? runSummary(status) : undefined;
      const added = await index.addFound(
        {
          runId: status.instanceId,
          owner,
          createdTime,
          preview: promptPreview(input?.prompt ?? ''),
          state: summary ? 'ended' : 'live',
          ...(summary ?? {}),
        },
        open,
      );
      if (added) written += 1;
    });
    state.backfilledFrom = new Date(from).toISOString();
    state.windowDays = found.length === 0 ? Math.min(state.windowDays * 2, maxWindowDays) : 1;
    if (from <= backfillFloor) state.backfillDone = true;
    await index.saveReconcilerState(state);
  }
  if (written > 0) log(`Reconciler: indexed ${written} runs started before the run index existed.`);
  if (state.backfillDone && written > 0) log('Reconciler: the run index backfill is complete.');
  return written;
}

async function statusOrNull(client: DurableClient, id: string): Promise<DurableOrchestrationStatus | null> {
  try {
    const status = await client.getStatus(id, { showInput: false });
    // The JS client answers an unknown instance with an empty status on some hosts; 404 on others.
    return status.instanceId ? status : null;
  } catch (error) {
    if (error instanceof Error && error.message.includes('404')) return null;
    throw error;
  }
}

async function forEachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
