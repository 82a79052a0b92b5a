import { BlobServiceClient } from '@azure/storage-blob';
import type { StartAnswer } from '../../src/functions/agentRuns';
import { call, pollUntil, principalHeaders, startProduct, type Product } from '../support/product';
import { offlineDeployments } from '../../scripts/offlineBackends';

interface RunView {
  id: string;
  status: string;
  stage: string;
  progress: { done: number; total: number };
  usage: { totalTokens: number };
  answer?: string | null;
  citations?: { url: string; title: string }[];
  subtasks?: { id: string; kind: string; ok?: boolean; state?: string; error?: string }[];
  resultBlob?: string;
  message?: string;
  approval?: {
    round: number;
    draftId?: string;
    draft: string;
    draftBlob?: string;
    draftPreview?: string;
    approvers: string[];
    escalated: boolean;
    deadline: string;
    howToApprove: { method: string; url: string; body: Record<string, unknown> };
  };
  lastDecision?: { id?: string; round: number; decision: string; by: string };
  approvalDecision?: {
    decision?: string;
    rounds: number;
    escalated: boolean;
    by?: string;
    decisionId?: string;
  };
  links: { run: string; approval: string };
}

interface EmulatorRequest {
  path: string;
  deployment?: string;
  status: number;
  timeMs?: number;
  time?: string;
}

let product: Product;

/** Typed wrapper: jest's asymmetric matchers are typed any. */
const containing = (text: string): unknown => expect.stringContaining(text);

beforeAll(async () => {
  product = await startProduct();
});

afterAll(async () => {
  await product?.stop();
});

const terminal = ['completed', 'rejected', 'expired', 'failed', 'terminated', 'quota-exceeded'];

async function startRun(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const started = await call<StartAnswer>(`${product.baseUrl}/api/agent-runs`, { body, headers });
  if (started.status !== 202)
    throw new Error(`start answered ${started.status}: ${JSON.stringify(started.body)}`);
  return started;
}

function getRun(id: string, headers: Record<string, string> = {}) {
  return call<RunView>(`${product.baseUrl}/api/agent-runs/${id}`, { headers });
}

async function runUntil(id: string, done: (view: RunView) => boolean, headers: Record<string, string> = {}) {
  const response = await pollUntil(
    () => getRun(id, headers),
    (r) => r.status === 200 && done(r.body),
  );
  return response.body;
}

const finished = (view: RunView) => terminal.includes(view.status);

async function emulatorRequests(): Promise<EmulatorRequest[]> {
  const response = await call<EmulatorRequest[] | { requests: EmulatorRequest[] }>(
    `${product.emulatorUrl}/_emulator/requests`,
  );
  return Array.isArray(response.body) ? response.body : response.body.requests;
}

/** The operator's view of an instance: the devhost's management API, which users are never handed. */
function managementUrl(instanceId: string): string {
  return `${product.baseUrl}/runtime/webhooks/durabletask/instances/${instanceId}`;
}

async function history(instanceId: string) {
  const url = new URL(managementUrl(instanceId));
  url.searchParams.set('showHistory', 'true');
  url.searchParams.set('showHistoryOutput', 'true');
  const status = await call<{
    historyEvents?: { EventType: string; Name?: string; FunctionName?: string }[];
  }>(url.href);
  return status.body.historyEvents ?? [];
}

describe('an agent run over HTTP', () => {
  it('starts with 202 and its own per-run status URLs, works the prompt out with a tool, and saves the result', async () => {
    const started = await startRun({
      prompt: 'What is 12 * 7 + 5? Use the calculator.',
      tools: ['calculator'],
    });
    expect(started.headers.get('location')).toBe(started.body.statusQueryGetUri);
    expect(Number(started.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(started.body).toMatchObject({
      id: started.body.runId,
      statusQueryGetUri: containing(`${product.baseUrl}/api/agent-runs/${started.body.runId}/status?sig=`),
      sendEventPostUri: containing(`/api/agent-runs/${started.body.runId}/events/{eventName}?sig=`),
      links: {
        run: `${product.baseUrl}/api/agent-runs/${started.body.runId}`,
        approval: `${product.baseUrl}/api/agent-runs/${started.body.runId}/approval`,
      },
    });

    const view = await runUntil(started.body.runId, finished);
    expect(view.status).toBe('completed');
    expect(view.answer).toContain('89');
    expect(view.progress.total).toBeGreaterThanOrEqual(1);
    expect(view.progress.done).toBe(view.progress.total);
    expect(view.usage.totalTokens).toBeGreaterThan(0);
    expect(view.resultBlob).toBe(`results/${started.body.runId}.json`);

    // The status URL answers as the extension's does, with the same result as output.
    const builtIn = await call<{ runtimeStatus: string; output: { outcome: string; blobName: string } }>(
      started.body.statusQueryGetUri,
    );
    expect(builtIn.status).toBe(200);
    expect(builtIn.body.runtimeStatus).toBe('Completed');
    expect(builtIn.body.output.outcome).toBe('completed');

    const blob = BlobServiceClient.fromConnectionString(product.blobConnectionString)
      .getContainerClient('results')
      .getBlobClient(`${started.body.runId}.json`);
    const saved = JSON.parse((await blob.downloadToBuffer()).toString('utf8')) as Record<string, unknown>;
    const { blobName, ...output } = builtIn.body.output;
    expect(blobName).toBe(view.resultBlob);
    expect(saved).toEqual(output);
  });

  it('runs research subtasks on the Agent Service and keeps their citations numbered', async () => {
    const started = await startRun({
      prompt: 'Research the latest news about Azure Durable Functions.',
      research: true,
    });
    const view = await runUntil(started.body.runId, finished);
    expect(view.status).toBe('completed');
    expect(view.subtasks?.some((s) => s.kind === 'research' && s.ok)).toBe(true);
    expect(view.citations?.length).toBeGreaterThan(0);
    for (const citation of view.citations ?? []) expect(citation.url).toMatch(/^https:\/\//);
    expect(view.answer).toMatch(/\[1\]/);
  });

  it('reports a failed subtask and still completes with the others', async () => {
    await call(`${product.emulatorUrl}/_emulator/faults`, {
      body: { status: 500, count: 1000, service: 'agents' },
    });
    try {
      const started = await startRun({
        prompt: 'Research the latest Azure news and compute 6 * 7.',
        research: true,
      });
      // The tool child is done long before the research child gives up: the run view shows that live.
      const midway = await runUntil(
        started.body.runId,
        (v) => v.stage === 'working' && v.progress.done === 1,
      );
      expect(midway.progress.total).toBe(2);
      expect(midway.subtasks?.find((t) => t.kind === 'tool')?.state).toBe('succeeded');
      const view = await runUntil(started.body.runId, finished);
      expect(view.status).toBe('completed');
      const research = view.subtasks?.filter((s) => s.kind === 'research') ?? [];
      expect(research.length).toBeGreaterThan(0);
      expect(research.every((s) => s.ok === false && typeof s.error === 'string')).toBe(true);
      expect(view.subtasks?.some((s) => s.ok)).toBe(true);
    } finally {
      await call(`${product.emulatorUrl}/_emulator/reset`, { body: {} });
    }
  });

  it('falls back to a single answer subtask when the plan is not valid', async () => {
    await call(`${product.emulatorUrl}/_emulator/faults`, {
      body: { content: '{"subtasks": "not a list"}', count: 1, deployment: offlineDeployments.fast },
    });
    try {
      const started = await startRun({
        prompt: 'What is 7 * 6? Also research the latest news.',
        model: 'strong',
      });
      const view = await runUntil(started.body.runId, finished);
      expect(view.status).toBe('completed');
      expect(view.subtasks).toEqual([expect.objectContaining({ id: 's1', kind: 'answer', ok: true })]);
    } finally {
      await call(`${product.emulatorUrl}/_emulator/reset`, { body: {} });
    }
  });

  it('never repeats a finished model call on replay', async () => {
    const before = (await emulatorRequests()).filter((r) => r.path.includes('/chat/completions')).length;
    const started = await startRun({ prompt: 'What time is it now in Tokyo?', tools: ['current_time'] });
    const view = await runUntil(started.body.runId, finished);
    expect(view.status).toBe('completed');
    const after = (await emulatorRequests()).filter((r) => r.path.includes('/chat/completions')).length;

    // Every model call is one callModel activity in this run's histories (parent and children), as the
    // extension shows them: TaskCompleted events that carry the FunctionName.
    const modelCalls = async (instanceId: string) =>
      (await history(instanceId)).filter(
        (e) =>
          (e.EventType === 'TaskCompleted' || e.EventType === 'TaskFailed') && e.FunctionName === 'callModel',
      ).length;
    let scheduled = await modelCalls(started.body.runId);
    for (const subtask of view.subtasks ?? []) {
      const childId = `${started.body.runId}-${subtask.id}`;
      scheduled += await modelCalls(childId);
    }
    // Plan, the answer's tool turn and final turn, the synthesis: each later call replayed the earlier ones.
    expect(scheduled).toBeGreaterThanOrEqual(4);
    expect(after - before).toBe(scheduled);
  });

  it('waits out a storm of long rate limits on durable timers, calling no sooner than each retry-after', async () => {
    const retryAfterMs = 6000; // above what callModel waits inside the activity (5 s)
    await call(`${product.emulatorUrl}/_emulator/reset`, { body: {} }); // only this run's requests in the log
    await call(`${product.emulatorUrl}/_emulator/faults`, {
      body: { status: 429, count: 2, retryAfterMs, deployment: offlineDeployments.fast },
    });
    try {
      const started = await startRun({ prompt: 'Say hello.', tools: [] });
      const view = await runUntil(started.body.runId, finished);
      expect(view.status).toBe('completed');

      const fast = (await emulatorRequests()).filter((r) => r.deployment === offlineDeployments.fast);
      const at = (r: EmulatorRequest) => r.timeMs ?? Date.parse(r.time ?? '');
      expect(fast.map((r) => r.status).slice(0, 3)).toEqual([429, 429, 200]);
      for (let i = 1; i < 3; i++) {
        expect(at(fast[i]!) - at(fast[i - 1]!)).toBeGreaterThanOrEqual(retryAfterMs);
      }

      // The waits were durable timers in the orchestration, not sleeps inside a function.
      const events = await history(started.body.runId);
      const timers = events.filter((e) => e.EventType === 'TimerFired' || e.EventType === 'TimerCreated');
      expect(timers.length).toBeGreaterThanOrEqual(2);
    } finally {
      await call(`${product.emulatorUrl}/_emulator/reset`, { body: {} });
    }
  });
});

describe('human approval', () => {
  interface Decided {
    state?: string;
    decision?: { id: string; round: number; draftId?: string; decision: string; by: string };
    run?: RunView;
    status?: number;
    title?: string;
    detail?: string;
    currentRound?: number;
    currentDraftId?: string;
    taken?: { id?: string; round: number; decision: string; by: string };
    errors?: { field: string; message: string }[];
  }
  const approval = (id: string, body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    call<Decided>(`${product.baseUrl}/api/agent-runs/${id}/approval`, { body, headers });

  it('shows the draft while waiting and completes when approved', async () => {
    const started = await startRun({
      prompt: 'What is 2 + 2?',
      approval: { required: true, timeoutMinutes: 10 },
    });
    const waiting = await runUntil(started.body.runId, (v) => v.status === 'awaiting-approval');
    expect(waiting.approval).toMatchObject({
      round: 0,
      draftId: expect.stringMatching(/^[0-9a-f]{16}$/) as unknown,
      escalated: false,
      howToApprove: {
        method: 'POST',
        url: started.body.links.approval,
        body: { round: 0, draftId: waiting.approval?.draftId },
      },
    });
    expect(waiting.approval?.draft).toContain('4');

    const approved = await approval(started.body.runId, {
      decision: 'approve',
      round: 0,
      draftId: waiting.approval?.draftId,
      comment: 'fine',
    });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({
      state: 'taken',
      decision: { decision: 'approve', round: 0, draftId: waiting.approval?.draftId, by: 'local-user' },
    });
    const view = await runUntil(started.body.runId, finished);
    expect(view.status).toBe('completed');
    expect(view.approvalDecision).toMatchObject({
      decision: 'approve',
      by: 'local-user',
      rounds: 0,
      decisionId: approved.body.decision?.id,
    });
    expect(view.answer).toBe(waiting.approval?.draft);

    const again = await approval(started.body.runId, { decision: 'approve', round: 0 });
    expect(again.status).toBe(410);
  });

  it('refuses a decision that names no round: it could apply to a draft its maker never saw', async () => {
    const started = await startRun({ prompt: 'What is 3 + 3?', approval: { required: true } });
    await runUntil(started.body.runId, (v) => v.status === 'awaiting-approval');
    const bare = await approval(started.body.runId, { decision: 'approve' });
    expect(bare.status).toBe(400);
    expect(bare.body.errors).toEqual([
      { field: 'round', message: expect.stringMatching(/^is required/) as unknown },
    ]);
    const wrongDraft = await approval(started.body.runId, {
      decision: 'approve',
      round: 0,
      draftId: '0000000000000000',
    });
    expect(wrongDraft.status).toBe(409);
    expect(wrongDraft.body).toMatchObject({ title: 'Not the draft on offer', currentRound: 0 });
    // Neither decided anything: the run still waits for round 0.
    expect((await getRun(started.body.runId)).body).toMatchObject({
      status: 'awaiting-approval',
      approval: { round: 0 },
    });
    expect((await getRun(started.body.runId)).body.lastDecision).toBeUndefined();
  });

  it("never applies an approver's decision for round 0 to the revised round 1 they have not seen", async () => {
    const reviewer = principalHeaders('reviewer-1');
    const started = await startRun({
      prompt: 'What is 7 * 8?',
      approval: { required: true, approvers: ['reviewer-1'] },
    });
    // The reviewer reads round 0 ...
    const seen = await runUntil(started.body.runId, (v) => v.status === 'awaiting-approval', reviewer);
    expect(seen.approval?.round).toBe(0);
    // ... the owner rejects it with a comment, and round 1 is offered ...
    const rejected = await approval(started.body.runId, {
      decision: 'reject',
      round: 0,
      comment: 'Add a summary line.',
    });
    expect(rejected.status).toBe(200);
    const revised = await runUntil(started.body.runId, (v) => v.approval?.round === 1);
    // ... then the reviewer's approval of what they saw arrives: refused, with the round now on offer.
    const stale = await approval(
      started.body.runId,
      { decision: 'approve', round: seen.approval?.round, draftId: seen.approval?.draftId },
      reviewer,
    );
    expect(stale.status).toBe(409);
    expect(stale.headers.get('content-type')).toContain('application/problem+json');
    expect(stale.body).toMatchObject({
      title: 'Not the draft on offer',
      currentRound: 1,
      currentDraftId: revised.approval?.draftId,
    });
    const still = await getRun(started.body.runId);
    expect(still.body).toMatchObject({ status: 'awaiting-approval', approval: { round: 1 } });
    expect(still.body.lastDecision).toMatchObject({ round: 0, decision: 'reject', by: 'local-user' });
  });

  it('takes exactly one of two decisions sent in the same instant, and tells the other it lost', async () => {
    const reviewer = principalHeaders('reviewer-2');
    const started = await startRun({
      prompt: 'What is 9 + 9?',
      approval: { required: true, approvers: ['reviewer-2'] },
    });
    const waiting = await runUntil(started.body.runId, (v) => v.status === 'awaiting-approval');
    const body = { round: waiting.approval?.round, draftId: waiting.approval?.draftId };
    const [approve, reject] = await Promise.all([
      approval(started.body.runId, { ...body, decision: 'approve' }, reviewer),
      approval(started.body.runId, { ...body, decision: 'reject' }),
    ]);
    const answers = [approve, reject];
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const winner = answers.find((a) => a.status === 200)!;
    const loser = answers.find((a) => a.status === 409)!;
    expect(winner.body.state).toBe('taken');
    expect(loser.body).toMatchObject({
      title: 'Another decision was taken',
      taken: { id: winner.body.decision?.id, round: 0, decision: winner.body.decision?.decision },
    });
    expect(JSON.stringify(loser.body)).not.toMatch(/"state":"taken"/);
    // The run took the winner's decision and no other.
    const view = await runUntil(started.body.runId, finished);
    expect(view.status).toBe(winner.body.decision?.decision === 'approve' ? 'completed' : 'rejected');
    expect(view.approvalDecision).toMatchObject({
      decision: winner.body.decision?.decision,
      decisionId: winner.body.decision?.id,
    });
  });

  it('lets an admin read every run it can stream, but decide none', async () => {
    const admin = principalHeaders('ops-admin', ['AgentRuns.Admin']);
    const started = await startRun({ prompt: 'What is 4 + 4?', approval: { required: true } });
    const view = await runUntil(started.body.runId, (v) => v.status === 'awaiting-approval', admin);
    expect(view.id).toBe(started.body.runId);
    const decided = await approval(started.body.runId, { decision: 'approve', round: 0 }, admin);
    expect(decided.status).toBe(403);
    expect((await getRun(started.body.runId, principalHeaders('someone-else'))).status).toBe(404);
  });

  it('keeps the custom status under 4 KB with a 20 KB draft, and still shows and saves the whole draft', async () => {
    // Long runs of dashes are few tokens, so the emulator's max_tokens cut leaves the whole 20 KB text.
    const longText =
      Array.from({ length: 100 }, (_, i) => `Part ${i}: ${'-'.repeat(200)}`).join('\n') + '\nThe end.';
    expect(longText.length).toBeGreaterThan(20_000);
    await call(`${product.emulatorUrl}/_emulator/faults`, {
      body: { content: longText, count: 10, deployment: offlineDeployments.strong },
    });
    try {
      const started = await startRun({
        prompt: 'What is 2 + 2?',
        model: 'strong',
        approval: { required: true, timeoutMinutes: 10 },
      });
      const waiting = await runUntil(started.body.runId, (v) => v.status === 'awaiting-approval');
      expect(waiting.approval?.draft).toBe(longText);
      expect(waiting.approval?.draftBlob).toBe(`results/${started.body.runId}/draft-0.json`);

      // The bound: the custom status as JSON, counted in UTF-16 code units × 2 bytes (how the host sizes it).
      const raw = await call<{ customStatus: { approval?: { draftPreview: string } } }>(
        managementUrl(started.body.runId),
      );
      const bytes = JSON.stringify(raw.body.customStatus).length * 2;
      expect(bytes).toBeLessThan(4096);
      expect(raw.body.customStatus.approval?.draftPreview).toBe(longText.slice(0, 280));

      const approved = await approval(started.body.runId, { decision: 'approve', round: 0 });
      expect(approved.status).toBe(200);
      const view = await runUntil(started.body.runId, finished);
      expect(view.status).toBe('completed');
      expect(view.answer).toBe(longText);
    } finally {
      await call(`${product.emulatorUrl}/_emulator/reset`, { body: {} });
    }
  });

  it('revises the draft after a rejection with a comment, then completes on approval', async () => {
    const started = await startRun({ prompt: 'What is 10 * 10?', approval: { required: true } });
    const first = await runUntil(started.body.runId, (v) => v.status === 'awaiting-approval');
    const rejected = await approval(started.body.runId, {
      decision: 'reject',
      round: 0,
      comment: 'Please also mention it is a square.',
    });
    expect(rejected.status).toBe(200);
    const second = await runUntil(
      started.body.runId,
      (v) => v.status === 'awaiting-approval' && v.approval?.round === 1,
    );
    expect(second.approval?.draft).not.toBe(first.approval?.draft);

    // A click on the old draft is refused; the new one can be approved.
    expect((await approval(started.body.runId, { decision: 'approve', round: 0 })).status).toBe(409);
    expect((await approval(started.body.runId, { decision: 'approve', round: 1 })).status).toBe(200);
    const view = await runUntil(started.body.runId, finished);
    expect(view.status).toBe('completed');
    expect(view.approvalDecision).toMatchObject({ decision: 'approve', rounds: 1 });
    expect(view.answer).toBe(second.approval?.draft);
  });

  it('ends as rejected when rejected without a comment', async () => {
    const started = await startRun({ prompt: 'What is 1 + 1?', approval: { required: true } });
    await runUntil(started.body.runId, (v) => v.status === 'awaiting-approval');
    expect((await approval(started.body.runId, { decision: 'reject', round: 0 })).status).toBe(200);
    const view = await runUntil(started.body.runId, finished);
    expect(view.status).toBe('rejected');
    expect(view.resultBlob).toBe(`results/${started.body.runId}.json`);
  });

  it('escalates once at the deadline, lets the escalation approver decide, and refuses strangers', async () => {
    const started = await startRun({
      prompt: 'What is 5 * 5?',
      approval: { required: true, timeoutMinutes: 0.02, escalateTo: ['boss'] },
    });
    const escalated = await runUntil(started.body.runId, (v) => v.approval?.escalated === true);
    expect(escalated.approval?.approvers).toEqual(expect.arrayContaining(['local-user', 'boss']));

    const decision = { decision: 'approve', round: 0 };
    const stranger = await approval(started.body.runId, decision, principalHeaders('mallory'));
    expect(stranger.status).toBe(404);
    // An id that differs from the escalation approver's only in case is another user.
    expect((await approval(started.body.runId, decision, principalHeaders('Boss'))).status).toBe(404);
    const boss = await approval(started.body.runId, decision, principalHeaders('boss'));
    expect(boss.status).toBe(200);
    const view = await runUntil(started.body.runId, finished);
    expect(view.status).toBe('completed');
    expect(view.approvalDecision).toMatchObject({ decision: 'approve', by: 'boss', escalated: true });
  });

  it('expires when nobody decides, after the one escalation', async () => {
    const started = await startRun({
      prompt: 'What is 6 * 6?',
      approval: { required: true, timeoutMinutes: 0.01, escalateTo: ['boss'] },
    });
    const view = await runUntil(started.body.runId, finished);
    expect(view.status).toBe('expired');
    expect(view.approvalDecision).toMatchObject({ escalated: true });
    expect(view.message).toMatch(/Nobody approved/);
  });

  it('answers 409 while the run is not waiting for approval', async () => {
    await call(`${product.emulatorUrl}/_emulator/latency`, { body: { ms: 1500 } });
    try {
      const started = await startRun({ prompt: 'What is 9 * 9?', approval: { required: true } });
      const early = await approval(started.body.runId, { decision: 'approve', round: 0 });
      expect(early.status).toBe(409);
      expect(early.headers.get('content-type')).toContain('application/problem+json');
    } finally {
      await call(`${product.emulatorUrl}/_emulator/latency`, { body: { ms: 0 } });
    }
  });
});
