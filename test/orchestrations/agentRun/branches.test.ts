import { createSigner } from '../../../src/lib/capability';
import { call, pollUntil, startProduct, type Product } from '../../support/product';
import { agentRunTools, newUser, type RunView } from './support';
import { offlineDeployments } from '../../../scripts/offlineBackends';

/**
 * The agent-run orchestrator's branches off the happy path, run for real: the built app under the
 * devhost, the emulators answering (and failing) as the Azure services would. Each test ends with the
 * user's quota: nothing reserved, and `used` exactly what the run says it spent.
 */

const signingKey = 'test-only-run-url-signing-key-0123456789abcdef';
const maxRevisions = 2;
const researchTimeoutSeconds = 3;

let product: Product;
let tools: ReturnType<typeof agentRunTools>;

beforeAll(async () => {
  product = await startProduct({
    env: {
      RUN_URL_SIGNING_KEY: signingKey,
      APPROVAL_MAX_REVISIONS: String(maxRevisions),
      RESEARCH_TIMEOUT_SECONDS: String(researchTimeoutSeconds),
    },
    // The Agent Service's runs never finish while a test waits: research can only time out.
    agentRunDurationMs: 10 * 60_000,
  });
  tools = agentRunTools(product);
});

afterAll(async () => {
  await product?.stop();
});

afterEach(async () => {
  await tools.resetEmulators();
});

const approval = (id: string, headers: Record<string, string>, body: Record<string, unknown>) =>
  call(`${product.baseUrl}/api/agent-runs/${id}/approval`, { body, headers });

/** The quota after the run: nothing held, and used is the run's own total. */
async function expectSettled(userId: string, view: RunView): Promise<void> {
  const quota = await tools.settledQuota(userId);
  expect(quota).toMatchObject({ reserved: 0, used: view.usage.totalTokens });
}

describe('approval rounds', () => {
  it('ignores a decision for round 0 that arrives after a revision started round 1', async () => {
    const user = newUser('stale');
    const id = await tools.startRun(user.headers, {
      prompt: 'What is 10 * 10?',
      tools: [],
      approval: { required: true },
    });
    await tools.runUntil(id, user.headers, (v) => v.status === 'awaiting-approval');
    expect(
      (await approval(id, user.headers, { decision: 'reject', round: 0, comment: 'Add a summary line.' }))
        .status,
    ).toBe(200);
    const second = await tools.runUntil(
      id,
      user.headers,
      (v) => v.status === 'awaiting-approval' && v.approval?.round === 1,
    );

    // An approval of the first draft, signed as the product signs it (so only its round is wrong), that
    // was held up until now, like a second approver's click that raced the rejection.
    const stale = { runId: id, round: 0, decision: 'approve' as const, by: user.id };
    const event = { ...stale, proof: createSigner(signingKey).approvalProof(stale) };
    const { runId: _runId, ...body } = event;
    const signer = createSigner(signingKey);
    // On its own round's channel, which round 1 no longer listens to: recorded, never delivered.
    const onItsChannel = await call(
      `${tools.durable}/instances/${id}/raiseEvent/${signer.approvalEventName(id, 0)}`,
      { body },
    );
    expect(onItsChannel.status).toBe(202);
    // On round 1's channel, where the round in the event gives it away.
    const onTheCurrentChannel = await call(
      `${tools.durable}/instances/${id}/raiseEvent/${signer.approvalEventName(id, 1)}`,
      { body },
    );
    expect(onTheCurrentChannel.status).toBe(202);
    await pollUntil(
      () => Promise.resolve(product.logs()),
      (logs) => logs.includes(`Run ${id}: ignored an approval event it cannot read.`),
    );

    // Still waiting on round 1, which the real decision then settles.
    const still = await tools.getRun(id, user.headers);
    expect(still.body).toMatchObject({ status: 'awaiting-approval', approval: { round: 1 } });
    expect((await approval(id, user.headers, { decision: 'approve', round: 1 })).status).toBe(200);
    const view = await tools.finished(id, user.headers);
    expect(view.status).toBe('completed');
    expect(view.approvalDecision).toMatchObject({ decision: 'approve', rounds: 1, by: user.id });
    expect(view.answer).toBe(second.approval?.draft);
    await expectSettled(user.id, view);
  });

  it('ignores a decision signed for another draft of the same round, and takes the one for the draft shown', async () => {
    const user = newUser('draftbound');
    const id = await tools.startRun(user.headers, {
      prompt: 'What is 6 * 6?',
      tools: [],
      approval: { required: true },
    });
    const waiting = await tools.runUntil(id, user.headers, (v) => v.status === 'awaiting-approval');
    const draftId = waiting.approval?.draftId;
    expect(draftId).toMatch(/^[0-9a-f]{16}$/);
    // Signed with the product's key for round 0, on round 0's channel, but for a draft the run does not
    // offer: the proof would verify; the draft id gives it away.
    const signer = createSigner(signingKey);
    const claim = {
      runId: id,
      round: 0,
      draftId: 'f'.repeat(16),
      decisionId: 'forged-decision',
      decision: 'approve' as const,
      by: user.id,
    };
    const { runId: _runId, ...event } = { ...claim, proof: signer.approvalProof(claim) };
    const raised = await call(
      `${tools.durable}/instances/${id}/raiseEvent/${signer.approvalEventName(id, 0)}`,
      {
        body: event,
      },
    );
    expect(raised.status).toBe(202);
    await pollUntil(
      () => Promise.resolve(product.logs()),
      (logs) => logs.includes(`Run ${id}: ignored an approval event for another draft.`),
    );
    const still = await tools.getRun(id, user.headers);
    expect(still.body).toMatchObject({ status: 'awaiting-approval', approval: { round: 0 } });
    expect((await approval(id, user.headers, { decision: 'reject', round: 0, draftId })).status).toBe(200);
    const view = await tools.finished(id, user.headers);
    expect(view.status).toBe('rejected');
    await expectSettled(user.id, view);
  });

  it(`ends as rejected when the approvers reject beyond ${maxRevisions} revisions`, async () => {
    const user = newUser('limit');
    const id = await tools.startRun(user.headers, {
      prompt: 'What is 3 * 3?',
      tools: [],
      approval: { required: true },
    });
    const usageByRound: number[] = [];
    for (let round = 0; round <= maxRevisions; round++) {
      const waiting = await tools.runUntil(
        id,
        user.headers,
        (v) => v.status === 'awaiting-approval' && v.approval?.round === round,
      );
      usageByRound.push(waiting.usage.totalTokens);
      const rejected = await approval(id, user.headers, {
        decision: 'reject',
        round,
        comment: `Please shorten it (round ${round}).`,
      });
      expect(rejected.status).toBe(200);
    }
    const view = await tools.finished(id, user.headers);
    expect(view.status).toBe('rejected');
    expect(view.message).toBe(`Rejected by ${user.id} after ${maxRevisions} revisions.`);
    expect(view.approvalDecision).toMatchObject({ decision: 'reject', rounds: maxRevisions });
    // Each revision spent tokens, and every one of them is in the run's total.
    for (let i = 1; i < usageByRound.length; i++)
      expect(usageByRound[i]).toBeGreaterThan(usageByRound[i - 1] ?? 0);
    expect(view.usage.totalTokens).toBe(usageByRound[maxRevisions]);
    await expectSettled(user.id, view);
  });

  it('ends as rejected, spending nothing more, when the quota has no room for a revision', async () => {
    const user = newUser('norevise');
    const id = await tools.startRun(user.headers, {
      prompt: 'What is 4 * 4?',
      tools: [],
      maxTokens: 5000,
      approval: { required: true },
    });
    const waiting = await tools.runUntil(id, user.headers, (v) => v.status === 'awaiting-approval');
    const spent = (await tools.settledQuota(user.id)).used;
    expect(spent).toBe(waiting.usage.totalTokens);
    // An admin lowers the limit below what a revision reserves (4,000 tokens here).
    await tools.setLimit(user.id, spent + 100);

    expect(
      (await approval(id, user.headers, { decision: 'reject', round: 0, comment: 'Add detail.' })).status,
    ).toBe(200);
    const view = await tools.finished(id, user.headers);
    expect(view.status).toBe('rejected');
    expect(view.message).toBe('The quota has no room for a revision (100 tokens left).');
    expect(view.approvalDecision).toMatchObject({ decision: 'reject', rounds: 1 });
    expect(view.usage.totalTokens).toBe(spent);
    expect(await tools.settledQuota(user.id)).toMatchObject({ used: spent, reserved: 0, remaining: 100 });
  });
});

describe('failures', () => {
  it('ends as failed when every subtask fails, and still counts what they spent', async () => {
    const user = newUser('allfail');
    // The plan is the fast model's; with model "strong" every subtask asks the strong deployment, which answers nothing.
    await tools.fault({ content: '', count: 50, deployment: offlineDeployments.strong });
    const id = await tools.startRun(user.headers, {
      prompt: 'Explain why the sky is blue. Also explain why grass is green.',
      model: 'strong',
      tools: [],
      research: false,
    });
    const view = await tools.finished(id, user.headers);
    expect(view.status).toBe('failed');
    const subtasks = view.subtasks ?? [];
    expect(subtasks.length).toBeGreaterThanOrEqual(1);
    expect(view.message).toBe(
      `Every subtask failed: ${subtasks.map((s) => `${s.id}: the model returned an empty answer`).join('; ')}`,
    );
    expect(view.answer).toBeNull();
    // The empty answers were paid for: their usage travels with the failures into the run's total.
    for (const subtask of subtasks) {
      expect(subtask.ok).toBe(false);
      expect(subtask.usage?.totalTokens).toBeGreaterThan(0);
    }
    const subtaskTokens = subtasks.reduce((sum, s) => sum + (s.usage?.totalTokens ?? 0), 0);
    expect(view.usage.totalTokens).toBeGreaterThan(subtaskTokens); // the plan too
    await expectSettled(user.id, view);
  });

  it('ends as failed with the subtask results when the synthesis fails', async () => {
    const user = newUser('synth');
    // Subtasks of a short question go to the fast model; the synthesis is the strong model's.
    await tools.fault({ content: '   ', count: 1, deployment: offlineDeployments.strong });
    const id = await tools.startRun(user.headers, { prompt: 'What is 2 + 2?', tools: [], research: false });
    const view = await tools.finished(id, user.headers);
    expect(view.status).toBe('failed');
    expect(view.message).toBe('Could not write the final answer: the model returned an empty answer');
    expect(view.answer).toBeNull();
    expect(view.subtasks?.length).toBeGreaterThan(0);
    expect(view.subtasks?.every((s) => s.ok)).toBe(true);
    const strong = await tools.emulatorRequests(`?deployment=${offlineDeployments.strong}`);
    expect(strong.map((r) => r.status)).toEqual([200]);
    await expectSettled(user.id, view);
  });

  it('gives a subtask up when its rate-limit waits run out, and the run fails saying so', async () => {
    const user = newUser('ratelimit');
    // Short retry-afters: callModel waits them out inline three times, then the orchestrator waits on
    // durable timers five times; every one of those calls gets another 429.
    await tools.fault({ status: 429, count: 1000, retryAfterMs: 1, deployment: offlineDeployments.strong });
    const id = await tools.startRun(user.headers, {
      prompt: 'Explain why the sky is blue.',
      model: 'strong',
      tools: [],
      research: false,
    });
    const view = await tools.finished(id, user.headers);
    expect(view.status).toBe('failed');
    expect(view.message).toMatch(/^Every subtask failed: s1: still rate-limited after 5 waits: /);
    const strong = await tools.emulatorRequests(`?deployment=${offlineDeployments.strong}`);
    expect(strong.length).toBeGreaterThanOrEqual(6);
    expect(strong.every((r) => r.status === 429)).toBe(true);
    // Only the plan was answered, and only the plan is paid for.
    expect(view.usage.totalTokens).toBeGreaterThan(0);
    expect(view.subtasks?.map((s) => s.usage?.totalTokens)).toEqual([0]);
    await expectSettled(user.id, view);
  });

  it('gives a research subtask up when the agent does not finish in time, and cleans up its thread', async () => {
    const user = newUser('slowresearch');
    const id = await tools.startRun(user.headers, {
      prompt: 'Research the latest news about Azure Durable Functions.',
      tools: [],
      research: true,
    });
    const view = await tools.finished(id, user.headers);
    const research = view.subtasks?.filter((s) => s.kind === 'research') ?? [];
    expect(research.length).toBeGreaterThan(0);
    for (const subtask of research) {
      expect(subtask.ok).toBe(false);
      expect(subtask.error).toBe(`the research agent did not finish within ${researchTimeoutSeconds} s`);
    }
    if (view.subtasks?.every((s) => !s.ok)) {
      expect(view.status).toBe('failed');
      expect(view.message).toMatch(/^Every subtask failed: s\d: the research agent did not finish/);
    } else {
      expect(view.status).toBe('completed');
    }
    // Given up, its thread is deleted, not left on the Agent Service.
    const deleted = await tools.emulatorRequests('?service=agents&operation=deleteThread');
    expect(deleted.filter((r) => r.status === 200)).toHaveLength(research.length);
    await expectSettled(user.id, view);
  });
});
