import * as df from 'durable-functions';
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import { z } from 'zod';
import { entityNames } from '../names';
import { subtaskInstanceId } from '../orchestrators/agentRun';
import { recordCancelled } from '../telemetry/cancelled';

const live = new Set<string>([
  df.OrchestrationRuntimeStatus.Running,
  df.OrchestrationRuntimeStatus.Pending,
  df.OrchestrationRuntimeStatus.Suspended,
  df.OrchestrationRuntimeStatus.ContinuedAsNew,
]);

/** What cancellation needs from a run's status; read with zod, the status is outside data. */
const runFacts = z.object({
  input: z.object({ owner: z.string().min(1) }).loose(),
  customStatus: z
    .object({ subtasks: z.array(z.object({ id: z.string().min(1) }).loose()).optional() })
    .loose()
    .nullish(),
});

export interface CancelOutcome {
  /** False when no such run exists. */
  found: boolean;
  /** True when the run was still going and has been stopped. */
  stopped: boolean;
  runtimeStatus?: string;
}

/** How long cancellation waits for the run to take its terminate message before settling anyway. */
const settleWaitMs = 10_000;

/**
 * Stops a run the product's way: the run, then its subtasks (so none spends on), and then the
 * owner's reservation is settled: what the run's calls spent stays counted (each call recorded its spend
 * as it returned), the rest goes back. Safe to repeat; settling an ended run again changes nothing.
 */
export async function cancelAgentRun(
  client: DurableClient,
  runId: string,
  reason: string,
): Promise<CancelOutcome> {
  const status = await client.getStatus(runId, { showInput: true });
  if (!status.instanceId) return { found: false, stopped: false };
  const facts = runFacts.safeParse(status);
  if (!facts.success) return { found: true, stopped: false, runtimeStatus: status.runtimeStatus };
  const owner = facts.data.input.owner;
  // The run first: stopped children would otherwise answer its fan-out as failed subtasks, and it would
  // end as `failed` (or go on to spend on a synthesis) before its terminate message is taken.
  const stopped = live.has(status.runtimeStatus) && (await terminateIfLive(client, runId, reason)).stopped;
  await waitUntilEnded(client, [runId]);
  // Then its children, also when the run itself had ended already (a raw terminate leaves them running),
  // from its last status too, which names children it started after the first read.
  const lastStatus = await client.getStatus(runId, { showInput: true });
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
  // What was stopped here cannot record its own span any more; telemetry never fails the cancellation.
  await recordCancelled(
    runId,
    last.success ? lastStatus : status,
    stopped,
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
