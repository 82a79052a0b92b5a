import type { ContainerClient } from '@azure/storage-blob';
import { runSpanClaimBlobName } from '../names';

/**
 * Who records the span of a run that was stopped from outside: `claimed` (this caller, and nobody else
 * ever), `taken` (someone did before), or `unknown` (the claim could not be read or written).
 */
export type RunSpanClaim = 'claimed' | 'taken' | 'unknown';

/** Claims the right to emit a stopped run's span, once per run. */
export type ClaimRunSpan = (runId: string) => Promise<RunSpanClaim>;

/**
 * The claim is an empty blob created only if none exists (If-None-Match: *): of any number of callers,
 * cancellations and reconciler passes alike, exactly one gets `claimed`. The caller claims before it
 * emits, so a crash in between loses the span rather than sending it twice (the same choice the
 * `recordSpans` activity makes by not retrying).
 */
export function createClaimRunSpan(container: ContainerClient): ClaimRunSpan {
  return async (runId) => {
    try {
      await container
        .getBlockBlobClient(runSpanClaimBlobName(runId))
        .upload('', 0, { conditions: { ifNoneMatch: '*' } });
      return 'claimed';
    } catch (error) {
      const status = (error as { statusCode?: unknown } | null)?.statusCode;
      return status === 409 || status === 412 ? 'taken' : 'unknown';
    }
  };
}
