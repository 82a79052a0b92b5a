import { call, pollUntil, principalHeaders, startProduct, type Product } from '../support/product';
import { approvalChannelOf, countByType, raiseAround, shownHistory } from '../support/history';

// Events a run ignores must not grow its history beyond their own EventRaised records: no timer, no
// proof check, no step per event. Two identical runs, one of them flooded before its real approval.

const alice = principalHeaders('alice-oid');
const boss = principalHeaders('boss-oid', [], 'The Boss', [
  { typ: 'preferred_username', val: 'boss@example.com' },
]);
const flood = 150;

let product: Product;

beforeAll(async () => {
  product = await startProduct();
});

afterAll(async () => {
  await product?.stop();
});

const view = (id: string) =>
  call<{ status: string; approval?: { draftId?: string } }>(`${product.baseUrl}/api/agent-runs/${id}`, {
    headers: alice,
  });

async function waitingRun(): Promise<string> {
  const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
    body: {
      prompt: 'Summarise why tests matter.',
      tools: [],
      research: false,
      approval: { required: true, approvers: ['boss@example.com'], timeoutMinutes: 60 },
    },
    headers: alice,
  });
  expect(started.status).toBe(202);
  await pollUntil(
    () => view(started.body.runId),
    (r) => r.body.status === 'awaiting-approval',
  );
  return started.body.runId;
}

async function approveAndFinish(runId: string): Promise<void> {
  const approved = await call(`${product.baseUrl}/api/agent-runs/${runId}/approval`, {
    body: { decision: 'approve', round: 0 },
    headers: boss,
  });
  expect(approved.status).toBe(200);
  await pollUntil(
    () => view(runId),
    (r) => r.body.status === 'completed',
  );
}

it(`adds only their own records for ${flood} ignored approval events, and still takes the real one`, async () => {
  const quiet = await waitingRun();
  await approveAndFinish(quiet);
  const quietHistory = await shownHistory(product.baseUrl, quiet);

  const flooded = await waitingRun();
  const channel = approvalChannelOf(await shownHistory(product.baseUrl, flooded));
  const bogusProof = 'A'.repeat(43);
  let raised = 0;
  for (let i = 0; i < flood; i++) {
    const [name, body] = [
      // The public name, as a raw raiseEvent with the system key (or the devhost's open API) sends it.
      ['approval', { decision: 'approve', by: 'boss-oid', round: 0, proof: bogusProof }],
      ['approval', { decision: 'approve', by: 'boss-oid', round: 7 }],
      // A guessed channel, and junk.
      [`approval-${i.toString(16).padStart(32, '0')}`, { decision: 'approve', by: 'boss-oid', round: 0 }],
      ['approval', 42],
    ][i % 4] as [string, unknown];
    expect(await raiseAround(product.baseUrl, flooded, name, body)).toBe(202);
    raised += 1;
  }
  // Someone who read the history knows the channel and the draft id: that event is looked at, and its
  // proof fails.
  expect(
    await raiseAround(product.baseUrl, flooded, channel, {
      decision: 'approve',
      by: 'boss-oid',
      round: 0,
      draftId: (await view(flooded)).body.approval?.draftId,
      proof: bogusProof,
    }),
  ).toBe(202);
  raised += 1;
  // Not an approver: refused at the endpoint, nothing is raised.
  const stranger = await call(`${product.baseUrl}/api/agent-runs/${flooded}/approval`, {
    body: { decision: 'approve', round: 0 },
    headers: principalHeaders('mallory-oid'),
  });
  expect(stranger.status).toBe(404);
  // Barrier: the real decision is raised after all of them.
  await approveAndFinish(flooded);
  const floodedHistory = await shownHistory(product.baseUrl, flooded);

  const quietCounts = countByType(quietHistory);
  const floodedCounts = countByType(floodedHistory);
  expect(floodedCounts.EventRaised).toBe((quietCounts.EventRaised ?? 0) + raised);
  // The one event on the channel cost one more wait (a timer) and one proof check; the flood cost nothing.
  expect(floodedCounts.TimerCreated).toBe((quietCounts.TimerCreated ?? 0) + 1);
  const checks = (h: typeof quietHistory) =>
    h.filter((e) => e.EventType === 'TaskCompleted' && e.FunctionName === 'verifyApproval').length;
  expect(checks(floodedHistory)).toBe(checks(quietHistory) + 1);
  expect(floodedHistory.length).toBeLessThanOrEqual(quietHistory.length + raised + 3);
  expect(product.logs()).toContain(`Run ${flooded}: ignored an approval event without a valid proof`);
});
