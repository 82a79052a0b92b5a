import * as df from 'durable-functions';
import type { DurableClient, DurableOrchestrationStatus } from 'durable-functions';
import type { BlobServiceClient } from '@azure/storage-blob';
import { addUsage, type AgentRunStatus } from '../contracts/agentRun';
import type { ModelUsage } from '../contracts/model';
import { fitting, subtaskResultSchema, subtaskStatusSchema } from '../contracts/orchestrations';
import { draftBlobSchema, type DraftBlob } from '../contracts/result';
import type { KeptResearchUsage } from '../lib/keptResearch';
import { subtaskInstanceId } from '../names';
import { customStatusOf, isFinished, type RunView } from './view';

/**
 * What the run view reads beyond the run's own status: its children's statuses while they run, the
 * whole draft on offer from its blob, and what a stopped research subtask kept.
 */

export async function getStatusOrNull(
  client: DurableClient,
  id: string,
  showInput = true,
): Promise<DurableOrchestrationStatus | null> {
  try {
    return await client.getStatus(id, { showInput });
  } catch (error) {
    if (error instanceof Error && error.message.includes('404')) return null;
    throw error;
  }
}

/**
 * While subtasks run, the parent waits on one Task.all and cannot update its custom status, so the
 * live progress comes from the children (`<runId>-<subtaskId>`), read here. So does their spend: until
 * the parent has collected them, what they spent is in their statuses only, also when the run was
 * stopped in the middle of its fan-out (the quota counted each of their calls as it returned). A
 * research subtask stopped with its run reports nothing itself: what its Agent Service run spent was
 * kept by the cancellation (and counted in the quota), and `researchUsage` reads it.
 */
export async function withLiveProgress(
  client: DurableClient,
  status: DurableOrchestrationStatus,
  researchUsage?: KeptResearchUsage,
): Promise<DurableOrchestrationStatus> {
  const custom = customStatusOf(status);
  if (custom?.stage !== 'working' || !custom.subtasks) return status;
  // The parent counts the children as done (and their usage as its own) once the fan-out returns.
  const collected = custom.progress.done >= custom.progress.total;
  if (collected || (isFinished(status) && status.runtimeStatus !== df.OrchestrationRuntimeStatus.Terminated))
    return status;
  const children = await Promise.all(
    custom.subtasks.map((s) => getStatusOrNull(client, subtaskInstanceId(status.instanceId, s.id), false)),
  );
  const stopped = status.runtimeStatus === df.OrchestrationRuntimeStatus.Terminated;
  const kept = await Promise.all(
    custom.subtasks.map((s, i) =>
      stopped &&
      researchUsage &&
      s.kind === 'research' &&
      children[i]?.runtimeStatus !== df.OrchestrationRuntimeStatus.Completed
        ? researchUsage(status.instanceId, s.id).catch(() => undefined)
        : Promise.resolve(undefined),
    ),
  );
  let usage = custom.usage;
  const subtasks = custom.subtasks.map((s, i) => {
    const child = children[i];
    const spent = kept[i] ?? childUsage(child ?? null);
    if (spent) usage = addUsage(usage, spent);
    if (!child || !isFinished(child)) return s;
    const ok = fitting(subtaskResultSchema, child.output)?.ok === true;
    return { ...s, state: ok ? ('succeeded' as const) : ('failed' as const) };
  });
  const done = subtasks.filter((s) => s.state !== 'pending').length;
  const live: AgentRunStatus = {
    ...custom,
    subtasks,
    usage,
    progress: { done, total: custom.progress.total },
  };
  return { ...status, customStatus: live };
}

/** What a child spent by its own account: its result once it has one, else its custom status. */
function childUsage(child: DurableOrchestrationStatus | null): ModelUsage | undefined {
  if (!child) return undefined;
  const fromOutput = fitting(subtaskResultSchema, child.output)?.usage;
  if (child.runtimeStatus === df.OrchestrationRuntimeStatus.Completed && fromOutput) return fromOutput;
  return fitting(subtaskStatusSchema, child.customStatus)?.usage;
}

/**
 * The custom status carries only a preview of the draft on offer; the run view shows the whole draft
 * and its citations, read from the draft's blob. Should the blob be unreadable, the view keeps the
 * preview and says so rather than failing.
 */
export async function withFullDraft(blobs: BlobServiceClient, view: RunView): Promise<RunView> {
  if (!view.approval) return view;
  const draft = await readDraft(blobs, view.approval.draftBlob);
  return {
    ...view,
    approval: draft.ok
      ? { ...view.approval, draft: draft.text, citations: draft.citations }
      : { ...view.approval, draftUnavailable: draft.message },
  };
}

/** Reads a draft blob named `<container>/<path>`, as the custom status refers to it. */
export async function readDraft(
  blobs: BlobServiceClient,
  blobName: string,
): Promise<({ ok: true } & DraftBlob) | { ok: false; message: string }> {
  const [container, ...rest] = blobName.split('/');
  try {
    const body = await blobs
      .getContainerClient(container ?? '')
      .getBlockBlobClient(rest.join('/'))
      .downloadToBuffer();
    return { ok: true, ...draftBlobSchema.parse(JSON.parse(body.toString('utf8'))) };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { ok: false, message: `Could not read the draft: ${reason}` };
  }
}
