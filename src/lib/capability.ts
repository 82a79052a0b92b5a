import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Proofs made with one secret key (RUN_URL_SIGNING_KEY), for two jobs:
 *
 * - **Capabilities**: a URL the starter hands out carries `sig=`, an HMAC of the run id and the one action
 *   it allows (`status`, `event`, `terminate`, ...). Whoever holds the URL may do that action on that run
 *   and nothing else; changing the run id or the action in the URL breaks the signature.
 * - **Approval proofs**: the product signs every `approval` event it raises, over the run, round, draft id,
 *   decision id, decision, decider and comment. The orchestrator has the proof checked (in an activity,
 *   where the key is) and ignores an event without a valid one, so an event raised around the product
 *   decides nothing, and a proof made for one round, draft or decision is worth nothing for another.
 *
 * - **Approval channels**: the durable event name a run waits on for the decision of one round,
 *   `approval-<hex HMAC of run and round>`. Only the product (and whoever can read the run's history) knows
 *   it, so an event raised around the product under the public name `approval`, or for another round, is
 *   never delivered to the wait: it costs the run one history record and no step (no timer, no check).
 *
 * Each job signs with its own key derived from the secret, so a value made for one can never pass as the
 * other. HMAC-SHA256 from node:crypto, compared in constant time.
 */

export const runActions = ['status', 'event', 'terminate', 'purge', 'suspend', 'resume'] as const;
export type RunAction = (typeof runActions)[number];

export interface ApprovalClaim {
  runId: string;
  round: number;
  /** The draft decided (see saveDraft's draftId); absent only for runs whose drafts have no id. */
  draftId?: string | undefined;
  /** The endpoint's id for this decision, which the run records when it takes it. */
  decisionId?: string | undefined;
  decision: 'approve' | 'reject';
  by: string;
  comment?: string | undefined;
}

export interface Signer {
  /** The `sig` value for `action` on run `runId`. */
  capability(runId: string, action: RunAction): string;
  /** True when `sig` was made by `capability(runId, action)` with this key. */
  allows(runId: string, action: RunAction, sig: string | null | undefined): boolean;
  /** The proof the product attaches to an approval event it raises. */
  approvalProof(claim: ApprovalClaim): string;
  verifyApproval(claim: ApprovalClaim, proof: string | null | undefined): boolean;
  /** The durable event name on which run `runId` waits for the decision of `round`. */
  approvalEventName(runId: string, round: number): string;
}

/** Every approval channel's event name starts with this. */
export const approvalEventPrefix = 'approval-';

/** Shortest key accepted: 32 bytes' worth of characters, as much as the HMAC-SHA256 output. */
export const minSigningKeyChars = 32;

/**
 * The key used when AUTH_MODE=dev and no key is configured. It is public (it is in this file), so
 * anything signed with it proves nothing: configuration refuses to start in appservice mode without a key.
 */
export const devSigningKey = 'dev-only-run-url-signing-key-not-a-secret-0000';

export function createSigner(secret: string): Signer {
  const derive = (purpose: string) => createHmac('sha256', secret).update(purpose).digest();
  const capabilityKey = derive('agent-runs/capability/v1');
  // v2: the proof also covers the draft id and the decision id.
  const approvalKey = derive('agent-runs/approval-event/v2');
  const channelKey = derive('agent-runs/approval-channel/v1');
  const mac = (key: Buffer, parts: readonly (string | number)[]) =>
    createHmac('sha256', key).update(JSON.stringify(parts)).digest('base64url');
  const same = (expected: string, given: string | null | undefined) => {
    if (typeof given !== 'string') return false;
    const a = Buffer.from(expected);
    const b = Buffer.from(given);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  const approvalParts = (c: ApprovalClaim) => [
    c.runId,
    c.round,
    c.draftId ?? '',
    c.decisionId ?? '',
    c.decision,
    c.by,
    c.comment ?? '',
  ];
  return {
    capability: (runId, action) => mac(capabilityKey, [action, runId]),
    allows: (runId, action, sig) => same(mac(capabilityKey, [action, runId]), sig),
    approvalProof: (claim) => mac(approvalKey, approvalParts(claim)),
    verifyApproval: (claim, proof) => same(mac(approvalKey, approvalParts(claim)), proof),
    // Hex: event names may be compared without regard to case, and 128 bits stay 128 bits in lower case.
    approvalEventName: (runId, round) =>
      `${approvalEventPrefix}${createHmac('sha256', channelKey)
        .update(JSON.stringify([runId, round]))
        .digest('hex')
        .slice(0, 32)}`,
  };
}
