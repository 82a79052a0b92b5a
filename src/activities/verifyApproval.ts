import type { InvocationContext } from '@azure/functions';
import { verifyApprovalInputSchema, type VerifyApprovalOutput } from '../contracts/approvalProof';
import type { Signer } from '../lib/capability';

/**
 * Checks the proof on an approval event. The key lives in configuration, which an orchestrator may not
 * read, so the check is an activity; its answer is recorded in history and replays the same.
 */
export function createVerifyApproval(
  signer: Signer,
): (input: unknown, context: InvocationContext) => VerifyApprovalOutput {
  return (input, context) => {
    const parsed = verifyApprovalInputSchema.safeParse(input);
    if (!parsed.success) {
      context.warn('verifyApproval got an input it cannot read; the event counts as unproven.');
      return { valid: false };
    }
    const { runId, event } = parsed.data;
    const valid = signer.verifyApproval(
      {
        runId,
        round: event.round,
        draftId: event.draftId,
        decisionId: event.decisionId,
        decision: event.decision,
        by: event.by,
        comment: event.comment,
      },
      event.proof,
    );
    return { valid };
  };
}
