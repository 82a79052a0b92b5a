import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import type { AgentRunInput, AgentRunStatus } from '../contracts/agentRun';
import { tokenQuotaEntityId } from '../entities/tokenQuota';
import { subtaskInstanceId } from '../orchestrators/agentRun';

/**
 * Cancels a run the product's way: its children are stopped, then the run, then the tokens it has
 * counted so far are committed, which hands the rest of its reservation back to the owner.
 *
 * Minimal version: the usage committed is what the run's custom status shows, so tokens a child spent
 * before it was stopped and not yet reported to the parent are not counted here.
 */
export async function cancelAgentRun(client: DurableClient, runId: string, reason: string): Promise<void> {
  const status = await client.getStatus(runId, { showInput: true });
  if (!isRunning(status)) return;
  const custom = (status.customStatus ?? undefined) as AgentRunStatus | undefined;
  const input = (status.input ?? undefined) as AgentRunInput | undefined;
  const children = (custom?.subtasks ?? []).map((s) => subtaskInstanceId(runId, s.id));
  await Promise.all(
    children.map(async (childId) => {
      const child = await client.getStatus(childId, { showInput: false }).catch(() => undefined);
      if (child && isRunning(child)) await client.terminate(childId, reason);
    }),
  );
  await client.terminate(runId, reason);
  if (input?.owner) {
    await client.signalEntity(tokenQuotaEntityId(input.owner), 'commit', {
      runId,
      tokensUsed: custom?.usage.totalTokens ?? 0,
      now: new Date().toISOString(),
    });
  }
}

function isRunning(status: DurableOrchestrationStatus | undefined): status is DurableOrchestrationStatus {
  return ['Running', 'Pending', 'Suspended'].includes(String(status?.runtimeStatus));
}
