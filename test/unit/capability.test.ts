import { createSigner, runActions } from '../../src/lib/capability';
import { messageOnly, safeMessage } from '../../src/lib/safeErrors';

const signer = createSigner('unit-test-signing-key-0123456789abcdef0123');
const other = createSigner('another-signing-key-0123456789abcdef01234567');
const runId = '6f1c2b7e-4a0e-4c1e-9d7a-111111111111';

describe('capabilities', () => {
  it('allow exactly the run and action they were made for', () => {
    const sig = signer.capability(runId, 'status');
    expect(signer.allows(runId, 'status', sig)).toBe(true);
    expect(signer.allows(runId.replace(/1$/, '2'), 'status', sig)).toBe(false);
    for (const action of runActions.filter((a) => a !== 'status')) {
      expect(signer.allows(runId, action, sig)).toBe(false);
    }
    expect(other.allows(runId, 'status', sig)).toBe(false);
    expect(signer.allows(runId, 'status', `${sig}x`)).toBe(false);
    expect(signer.allows(runId, 'status', null)).toBe(false);
  });
});

describe('approval proofs', () => {
  const claim = {
    runId,
    round: 1,
    draftId: '0123456789abcdef',
    decisionId: '5b0e3f0c-5a52-4a53-9e55-2f1a0c7d9e10',
    decision: 'approve' as const,
    by: 'boss',
  };
  it('verify only the claim they were made for, with the same key', () => {
    const proof = signer.approvalProof(claim);
    expect(signer.verifyApproval(claim, proof)).toBe(true);
    expect(signer.verifyApproval({ ...claim, by: 'mallory' }, proof)).toBe(false);
    expect(signer.verifyApproval({ ...claim, round: 2 }, proof)).toBe(false);
    expect(signer.verifyApproval({ ...claim, runId: runId.replace(/1$/, '2') }, proof)).toBe(false);
    expect(signer.verifyApproval({ ...claim, decision: 'reject' }, proof)).toBe(false);
    expect(signer.verifyApproval({ ...claim, comment: 'x' }, proof)).toBe(false);
    expect(other.verifyApproval(claim, proof)).toBe(false);
    expect(signer.verifyApproval(claim, undefined)).toBe(false);
  });

  it('are bound to the draft decided and to the one decision: neither can be swapped or dropped', () => {
    const proof = signer.approvalProof(claim);
    expect(signer.verifyApproval({ ...claim, draftId: 'fedcba9876543210' }, proof)).toBe(false);
    expect(signer.verifyApproval({ ...claim, draftId: undefined }, proof)).toBe(false);
    expect(signer.verifyApproval({ ...claim, decisionId: 'another-decision' }, proof)).toBe(false);
    expect(signer.verifyApproval({ ...claim, decisionId: undefined }, proof)).toBe(false);
    // A proof made without a draft id is no proof for a claim that names one.
    const bare = signer.approvalProof({ ...claim, draftId: undefined, decisionId: undefined });
    expect(signer.verifyApproval(claim, bare)).toBe(false);
  });

  it('are never valid as a capability, nor a capability as a proof', () => {
    expect(signer.allows(runId, 'event', signer.approvalProof(claim))).toBe(false);
    expect(signer.verifyApproval(claim, signer.capability(runId, 'event'))).toBe(false);
  });
});

describe('safe failure messages', () => {
  it('keep the first line of the message and drop stacks and file paths, but not URLs', () => {
    const error = new Error(
      "ENOENT: no such file or directory, open '/home/site/wwwroot/dist/src/x.js' at https://example.org/a/b\n    at Object.<anonymous> (/home/site/wwwroot/dist/src/index.js:1:1)",
    );
    expect(safeMessage(error)).toBe(
      "ENOENT: no such file or directory, open '<path>' at https://example.org/a/b",
    );
    expect(safeMessage(new Error('C:\\Users\\me\\app\\index.js failed'))).toBe('<path> failed');
    const safe = messageOnly(new TypeError('boom'));
    expect(safe.stack).toBe('TypeError: boom');
    expect(safe.message).toBe('boom');
  });
});
