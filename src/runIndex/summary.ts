import { HttpRequest } from '@azure/functions';
import type { DurableOrchestrationStatus } from 'durable-functions';
import { inputOf, runView } from '../runView/view';
import type { EndedRun } from './table';

/** The run view needs a request only for its links, which the index does not keep. */
const noRequest = new HttpRequest({ url: 'http://localhost/', method: 'GET' });

/** What the list shows of a run and the index keeps once it ended: from the run view, so both agree. */
export function runSummary(status: DurableOrchestrationStatus): EndedRun {
  const view = runView(noRequest, status);
  return {
    status: view.status,
    stage: view.stage,
    usage: view.usage,
    lastUpdatedTime: new Date(status.lastUpdatedTime).toISOString(),
  };
}

const ended = new Set(['Completed', 'Failed', 'Terminated', 'Canceled']);

export function hasEnded(status: DurableOrchestrationStatus): boolean {
  return ended.has(String(status.runtimeStatus));
}

/**
 * How long a row may point at a run that does not exist before it is taken for a start that never
 * happened (the starter writes the rows, then starts the run): far longer than a start takes, and than
 * the clocks of two instances of the app can differ.
 */
export const startGraceMs = 2 * 60_000;

/** A run's keys in the index, from its input (the starter recorded the owner and the request time). */
export function indexKeysOf(
  status: DurableOrchestrationStatus,
): { runId: string; owner: string; createdTime: string } | undefined {
  const input = inputOf(status);
  const requested = input?.requestedAt;
  if (!input || requested === undefined || Number.isNaN(Date.parse(requested))) return undefined;
  return { runId: status.instanceId, owner: input.owner, createdTime: new Date(requested).toISOString() };
}
