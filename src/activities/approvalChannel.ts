import { approvalChannelInputSchema, type ApprovalChannelOutput } from '../contracts/approvalProof';
import type { Signer } from '../lib/capability';
import { PermanentError } from '../lib/errors';

/**
 * Names the event a run waits on for one approval round. The name is derived from the signing key, which
 * an orchestrator may not read, so it comes from an activity, once per round; it replays from history.
 */
export function createApprovalChannel(signer: Signer): (input: unknown) => ApprovalChannelOutput {
  return (input) => {
    const parsed = approvalChannelInputSchema.safeParse(input);
    if (!parsed.success) throw new PermanentError('approvalChannel needs a runId and a round');
    return { eventName: signer.approvalEventName(parsed.data.runId, parsed.data.round) };
  };
}
