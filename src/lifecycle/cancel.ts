import * as df from 'durable-functions';
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import { z } from 'zod';
import { createStopResearch, type StopResearch } from '../activities/research';
import type { AppClients } from '../clients';
import type { AppConfig } from '../config';
import type { ModelUsage } from '../contracts/model';
import { fitting, subtaskResultSchema } from '../contracts/orchestrations';
import { entityNames, researchSpendKey, subtaskInstanceId } from '../names';
import { recordCancelled, type ExternalEnding } from '../telemetry/cancelled';
import { createClaimRunSpan, type ClaimRunSpan, type RunSpanClaim } from '../telemetry/runSpanClaim';

const live = new Set<string>([
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
  df.OrchestrationRuntimeStatus.Suspended,
  df.OrchestrationRuntimeStatus.ContinuedAsNew,
]);

/** How a run ends by its own code. */
const ranToItsEnd = new Set<string>([
  df.OrchestrationRuntimeStatus.Completed,
  df.OrchestrationRuntimeStatus.Failed,
]);

/** What cancellation needs from a run's status; read with zod, the status is outside data. */
const runFacts = z.object({
  input: z.object({ owner: z.string().min(1) }).loose(),
  customStatus: z
    .object({
      stage: z.string().optional(),
      progress: z.object({ done: z.number(), total: z.number() }).loose().optional(),
      subtasks: z.array(z.object({ id: z.string().min(1), kind: z.string().optional() }).loose()).optional(),
    })
    .loose()
    .nullish(),
});
type RunFacts = z.output<typeof runFacts>;

/** What cancellation needs besides the durable client; without it, research is not cleaned up. */
export interface CancelDeps {
  /** Stops and deletes what a research subtask started on the Agent Service, and says what it spent. */
  stopResearch?: StopResearch;
  /**
   * Claims a stopped run's span once (src/telemetry/runSpanClaim.ts). Without it, a run that this call
   * stopped still gets its span, and a run a raw terminate stopped gets none (nothing would keep a
   * second reconciler pass from sending it again).
   */
  claimRunSpan?: ClaimRunSpan;
  log?: (message: string) => void;
}

/** What the app's cancellations use: research cleaned up with the app's own clients. */
export function cancelDepsFor(config: AppConfig, clients: AppClients): Omit<CancelDeps, 'log'> {
  return {
    stopResearch: createStopResearch({ clients, config }),
    claimRunSpan: createClaimRunSpan(clients.blobService.getContainerClient(config.resultsContainer)),
  };
}

export interface CancelOutcome {
  /** False when no such run exists. */
  found: boolean;
  /**
   * True when the run was still going and has been stopped (or its terminate is still on its way);
   * false also when it completed by itself before it took the terminate.
   */
  stopped: boolean;
  runtimeStatus?: string;
}

/** How long cancellation waits for the run to take its terminate message before settling anyway. */
const settleWaitMs = 10_000;

/**
 * Stops a run the product's way: the run, then its subtasks (so none spends on), then the research runs
 * they left on the Agent Service (cancelled, their spend recorded, their threads deleted), and then the
 * owner's reservation is settled: what the run's calls spent stays counted (each call recorded its spend
 * as it returned), the rest goes back. Safe to repeat; settling an ended run again changes nothing.
 */
export async function cancelAgentRun(
  client: DurableClient,
  runId: string,
  reason: string,
  deps: CancelDeps = {},
): Promise<CancelOutcome> {
  const status = await client.getStatus(runId, { showInput: true });
  if (!status.instanceId) return { found: false, stopped: false };
  const facts = runFacts.safeParse(status);
  if (!facts.success) return { found: true, stopped: false, runtimeStatus: status.runtimeStatus };
  const owner = facts.data.input.owner;
  // The run first: stopped children would otherwise answer its fan-out as failed subtasks, and it would
  // end as `failed` (or go on to spend on a synthesis) before its terminate message is taken.
  const accepted = live.has(status.runtimeStatus) && (await terminateIfLive(client, runId, reason)).stopped;
  // Its span, claimed at once so that a reconciler pass that finds it terminated meanwhile does not
  // also record it; a run already terminated behind the product's back gets its span here too, once.
  const terminatedBefore = status.runtimeStatus === df.OrchestrationRuntimeStatus.Terminated;
  const claim = accepted || terminatedBefore ? await deps.claimRunSpan?.(runId) : undefined;
  await waitUntilEnded(client, [runId]);
  // Then its children, also when the run itself had ended already (a raw terminate leaves them running),
  // from its last status too, which names children it started after the first read.
  const lastStatus = await client.getStatus(runId, { showInput: true });
  // A terminate is only a message: a run in its last episode completes (or fails) by itself and drops
  // it, and then it was not stopped here; it settled and recorded its own span.
  const stopped = accepted && !ranToItsEnd.has(lastStatus.runtimeStatus);
  const runEnding = spanEnding(stopped, !accepted && terminatedBefore, claim);
  const last = runFacts.safeParse(lastStatus);
  const subtaskIds = [
    ...new Set(
      [facts.data, ...(last.success ? [last.data] : [])].flatMap((f) =>
        (f.customStatus?.subtasks ?? []).map((s) => s.id),
      ),
    ),
  ];
  const children = subtaskIds.map((id) => subtaskInstanceId(runId, id));
  const childStops = await Promise.all(children.map((id) => terminateIfLive(client, id, reason)));
  await waitUntilEnded(client, children);
  // Before the settle: a spend for a settled run is not counted.
  const research = last.success ? last.data : facts.data;
  await countUncollectedResearch(client, runId, owner, research, deps);
  // What was stopped here cannot record its own span any more; telemetry never fails the cancellation.
  await recordCancelled(
    runId,
    last.success ? lastStatus : status,
    runEnding,
    childStops.map((c, i) => ({ subtaskId: subtaskIds[i]!, ...c })),
    new Date(),
  ).catch(() => undefined);
  await client.signalEntity(new df.EntityId(entityNames.tokenQuota, owner), 'settle', {
    runId,
    now: new Date().toISOString(),
  });
  const after = await client.getStatus(runId);
  return { found: true, stopped, runtimeStatus: after.runtimeStatus };
}

/**
 * A run stopped in its fan-out has not counted its research subtasks: each reports its usage when it
 * ends, and the run records it when the fan-out returns. Their spend is recorded here instead: a
 * finished subtask's by its result (what the run view shows), an unfinished one's by its Agent Service
 * run, which is cancelled, kept and deleted. The spend key is the one the run itself records a
 * subtask's usage with (`<runId>:child-<subtaskId>`, see TokenBudget.record in agentRun's fan-out), so
 * the entity counts it once whichever comes first. A failure here is logged and never stops the
 * cancellation; the reconciler tries again for runs that ended without settling.
 */
async function countUncollectedResearch(
  client: DurableClient,
  runId: string,
  owner: string,
  facts: RunFacts,
  deps: CancelDeps,
): Promise<void> {
  const custom = facts.customStatus;
  const progress = custom?.progress;
  if (!custom || custom.stage !== 'working' || !progress || progress.done >= progress.total) return;
  const log = deps.log ?? (() => undefined);
  // Side by side: each may wait for its Agent Service run to leave `cancelling`.
  const research = (custom.subtasks ?? []).filter((s) => s.kind === 'research');
  await Promise.all(
    research.map(async (subtask) => {
      try {
        const child = await client.getStatus(subtaskInstanceId(runId, subtask.id));
        let usage: ModelUsage | undefined;
        if (child.runtimeStatus === df.OrchestrationRuntimeStatus.Completed) {
          usage = fitting(subtaskResultSchema, child.output)?.usage;
        } else if (deps.stopResearch) {
          usage = await deps.stopResearch(runId, subtask.id, log);
        }
        if (!usage || usage.totalTokens <= 0) return;
        await client.signalEntity(new df.EntityId(entityNames.tokenQuota, owner), 'spend', {
          runId,
          key: researchSpendKey(runId, subtask.id),
          tokens: usage.totalTokens,
          now: new Date().toISOString(),
        });
      } catch (error) {
        log(
          `Could not count the research of ${runId}/${subtask.id}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }),
  );
}

/**
 * Whether this call records the run's span, and as what: `cancelled` when it stopped the run (unless
 * the claim says another caller already recorded one), `terminated` when the run had been terminated
 * before (a raw terminate) and this call is the one that claimed its span. A run that ended any other
 * way recorded its own span.
 */
function spanEnding(
  stopped: boolean,
  terminatedBefore: boolean,
  claim: RunSpanClaim | undefined,
): ExternalEnding | undefined {
  if (stopped) return claim === 'taken' ? undefined : 'cancelled';
  return terminatedBefore && claim === 'claimed' ? 'terminated' : undefined;
}

async function terminateIfLive(
  client: DurableClient,
  instanceId: string,
  reason: string,
): Promise<{ status: DurableOrchestrationStatus; stopped: boolean }> {
  const status = await client.getStatus(instanceId);
  if (!status.instanceId || !live.has(status.runtimeStatus)) return { status, stopped: false };
  try {
    await client.terminate(instanceId, reason);
    return { status, stopped: true };
  } catch {
    // It ended between the check and the terminate: nothing to stop.
    return { status, stopped: false };
  }
}

/** A terminate is a message; the settle must come after the instance has stopped spending. */
async function waitUntilEnded(client: DurableClient, ids: string[]): Promise<void> {
  const giveUpAt = Date.now() + settleWaitMs;
  for (const id of ids) {
    while (Date.now() < giveUpAt) {
      const status = await client.getStatus(id);
      if (!status.instanceId || !live.has(status.runtimeStatus)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
