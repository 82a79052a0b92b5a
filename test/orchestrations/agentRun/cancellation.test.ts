import { call, pollUntil, startProduct, type Product } from '../../support/product';
import { agentRunTools, live, newUser, type RunView } from './support';
import { offlineDeployments } from '../../../scripts/offlineBackends';

/**
 * Cancellation through the product (`POST /api/agent-runs/{id}/cancel`) at each stage of a run, the
 * built app under the devhost with the emulators. Slow emulator answers hold a run in the stage; after
 * the cancel the run and every child it started have stopped, nothing stays reserved, and the user has
 * paid exactly what the run spent.
 */

let product: Product;
let tools: ReturnType<typeof agentRunTools>;

/** Longer than any test waits, shorter than the file: a held call never answers while it matters. */
const holdMs = 10_000;

beforeAll(async () => {
  // Research runs on the Agent Service stay in progress, so a research subtask is caught polling.
  product = await startProduct({ agentRunDurationMs: 10 * 60_000 });
  tools = agentRunTools(product);
});

afterAll(async () => {
  await product?.stop();
});

afterEach(async () => {
  await tools.resetEmulators();
});

/** Cancels the run and checks what must hold after any cancellation. */
async function cancelAndCheck(
  id: string,
  user: { id: string; headers: Record<string, string> },
): Promise<RunView> {
  expect(await tools.cancel(id, user.headers)).toBe(202);
  const view = await tools.finished(id, user.headers);
  expect(view.status).toBe('terminated');
  // The run and its children, as the devhost lists them: none is still going.
  const instances = await tools.family(id);
  expect(instances.filter((s) => live.has(s.runtimeStatus)).map((s) => s.instanceId)).toEqual([]);
  // A second cancel finds the run ended.
  expect(await tools.cancel(id, user.headers)).toBe(410);
  const quota = await tools.settledQuota(user.id);
  expect(quota).toMatchObject({ reserved: 0, used: view.usage.totalTokens });
  return view;
}

it('cancels while planning: nothing was spent', async () => {
  const user = newUser('c-plan');
  await tools.fault({ delayMs: holdMs, count: 1, deployment: offlineDeployments.fast });
  const id = await tools.startRun(user.headers, { prompt: 'What is 2 + 2?', tools: [] });
  await tools.runUntil(id, user.headers, (v) => v.stage === 'planning');
  const view = await cancelAndCheck(id, user);
  expect(view.usage.totalTokens).toBe(0);
  expect(await tools.family(id)).toHaveLength(1);
});

it('cancels during the fan-out: the subtask is stopped and what it spent is counted', async () => {
  const user = newUser('c-fan');
  // The subtask's first turn (a tool call) is answered, its second is held.
  await tools.fault({ delayMs: 0, count: 1, deployment: offlineDeployments.strong });
  await tools.fault({ delayMs: holdMs, count: 5, deployment: offlineDeployments.strong });
  const id = await tools.startRun(user.headers, {
    prompt: 'What time is it now in Tokyo?',
    model: 'strong',
    tools: ['current_time'],
    research: false,
  });
  const child = await pollUntil(
    () => tools.instance(`${id}-s1`),
    // 202: the child is still going.
    (r) => r.status === 202 && (r.body.customStatus?.usage?.totalTokens ?? 0) > 0,
  );
  const childSpent = child.body.customStatus?.usage?.totalTokens ?? 0;
  // The run's own status has only the plan's spend; the subtask's is in the child's until collected.
  const planning = (await tools.instance(id)).body.customStatus?.usage?.totalTokens ?? 0;
  expect(planning).toBeGreaterThan(0);
  // The run view shows both, while the run goes on and after it was stopped.
  expect((await tools.getRun(id, user.headers)).body.usage.totalTokens).toBe(planning + childSpent);
  const view = await cancelAndCheck(id, user);
  expect((await tools.instance(`${id}-s1`)).body.runtimeStatus).toBe('Terminated');
  expect(view.usage.totalTokens).toBe(planning + childSpent);
});

/** A research run on the emulated Agent Service, as its REST API answers for it. */
interface AgentRun {
  status: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

const agentsAuth = { authorization: 'Bearer local-emulator-token' };

/** Starts a run whose research subtask polls its Agent Service run; answers the run's path there. */
async function runPollingResearch(user: { headers: Record<string, string> }) {
  const id = await tools.startRun(user.headers, {
    prompt: 'Research the latest news about Azure Durable Functions.',
    tools: [],
    research: true,
  });
  const [poll] = await pollUntil(
    () => tools.emulatorRequests('?service=agents&operation=getRun'),
    (requests) => requests.length > 0,
  );
  // `/api/projects/<project>/threads/<threadId>/runs/<runId>`
  const runPath = poll?.path ?? '';
  const threadPath = runPath.replace(/\/runs\/[^/]+$/, '');
  expect(threadPath).toMatch(/\/threads\/[^/]+$/);
  return { id, runPath, threadPath };
}

/** The research left nothing on the Agent Service: its run was cancelled once and its thread is gone. */
async function expectResearchCleanedUp(runPath: string, threadPath: string): Promise<void> {
  const cancels = await tools.emulatorRequests('?service=agents&operation=cancelRun');
  expect(cancels.map((r) => [r.path, r.status])).toEqual([[`${runPath}/cancel`, 200]]);
  const deletes = await tools.emulatorRequests('?service=agents&operation=deleteThread');
  expect(deletes.filter((r) => r.status === 200).map((r) => r.path)).toEqual([threadPath]);
  const thread = await fetch(`${product.emulatorUrl}${threadPath}?api-version=v1`, { headers: agentsAuth });
  expect(thread.status).toBe(404);
}

it('cancels while a research subtask polls the Agent Service: its run is cancelled, counted and deleted', async () => {
  const user = newUser('c-research');
  const { id, runPath, threadPath } = await runPollingResearch(user);
  // What the run shows before the cancel: the plan; the research reports nothing until it ends.
  const planned = (await tools.getRun(id, user.headers)).body.usage.totalTokens;
  expect(planned).toBeGreaterThan(0);
  // The thread's deletion is held, so the research run can be read as the clean-up left it.
  await tools.fault({ service: 'agents', method: 'DELETE', path: threadPath, delayMs: holdMs, count: 1 });
  const cancelled = tools.cancel(id, user.headers);
  const research = await pollUntil(
    async () =>
      (await call<AgentRun>(`${product.emulatorUrl}${runPath}?api-version=v1`, { headers: agentsAuth })).body,
    (run) => run.status === 'cancelled',
  );
  // It had read its thread and the search results when it was cancelled, and it says so.
  const researchTokens = research.usage?.total_tokens ?? 0;
  expect(researchTokens).toBeGreaterThan(0);
  expect(await cancelled).toBe(202);

  const view = await tools.finished(id, user.headers);
  expect(view.status).toBe('terminated');
  expect(view.usage.totalTokens).toBe(planned + researchTokens);
  const instances = await tools.family(id);
  expect(instances.filter((s) => live.has(s.runtimeStatus)).map((s) => s.instanceId)).toEqual([]);
  expect(instances.find((s) => s.instanceId === `${id}-s1`)?.runtimeStatus).toBe('Terminated');
  await expectResearchCleanedUp(runPath, threadPath);
  expect(await tools.settledQuota(user.id)).toMatchObject({ reserved: 0, used: planned + researchTokens });
  // A second cancel finds the run ended, and counts nothing again.
  expect(await tools.cancel(id, user.headers)).toBe(410);
  expect((await tools.quotaOf(user.id)).used).toBe(planned + researchTokens);
});

it('reconciles a raw terminate while a research subtask polls: the research is stopped and counted', async () => {
  const user = newUser('r-research');
  const { id, runPath, threadPath } = await runPollingResearch(user);
  const planned = (await tools.getRun(id, user.headers)).body.usage.totalTokens;
  // Behind the product's back: the subtask and its Agent Service run go on, the reservation stays.
  const raw = await call(`${tools.durable}/instances/${id}/terminate?reason=raw`, {
    method: 'POST',
    body: {},
  });
  expect(raw.status).toBe(202);
  await pollUntil(
    () => tools.instance(id),
    (r) => r.body.runtimeStatus === 'Terminated',
  );
  expect((await tools.quotaOf(user.id)).reserved).toBeGreaterThan(0);
  expect(await tools.emulatorRequests('?service=agents&operation=cancelRun')).toEqual([]);

  expect((await call(`${product.baseUrl}/admin/functions/reconcileReservations`, { body: {} })).status).toBe(
    202,
  );
  const quota = await tools.settledQuota(user.id);
  await expectResearchCleanedUp(runPath, threadPath);
  const view = await tools.finished(id, user.headers);
  expect(view.status).toBe('terminated');
  // The research's spend is in both, and it is more than the plan.
  expect(view.usage.totalTokens).toBeGreaterThan(planned);
  expect(quota).toMatchObject({ reserved: 0, used: view.usage.totalTokens });
  expect((await tools.instance(`${id}-s1`)).body.runtimeStatus).toBe('Terminated');
});

it('cancels while the synthesis is being written: the subtasks’ spend stays counted', async () => {
  const user = newUser('c-synth');
  await tools.fault({ delayMs: holdMs, count: 1, deployment: offlineDeployments.strong });
  const id = await tools.startRun(user.headers, { prompt: 'What is 6 * 7?', tools: [], research: false });
  const synthesizing = await tools.runUntil(id, user.headers, (v) => v.stage === 'synthesizing');
  const view = await cancelAndCheck(id, user);
  expect(view.usage.totalTokens).toBe(synthesizing.usage.totalTokens);
  expect(view.usage.totalTokens).toBeGreaterThan(0);
});

it('cancels a run awaiting approval', async () => {
  const user = newUser('c-wait');
  const id = await tools.startRun(user.headers, {
    prompt: 'What is 5 + 5?',
    tools: [],
    approval: { required: true },
  });
  const waiting = await tools.runUntil(id, user.headers, (v) => v.status === 'awaiting-approval');
  const view = await cancelAndCheck(id, user);
  expect(view.usage.totalTokens).toBe(waiting.usage.totalTokens);
  // The decision that comes too late is refused.
  const late = await call(`${product.baseUrl}/api/agent-runs/${id}/approval`, {
    body: { decision: 'approve', round: 0 },
    headers: user.headers,
  });
  expect(late.status).toBe(410);
});

it('cancels during a revision: the revision’s reservation comes back too', async () => {
  const user = newUser('c-revise');
  const id = await tools.startRun(user.headers, {
    prompt: 'What is 8 * 8?',
    tools: [],
    approval: { required: true },
  });
  const waiting = await tools.runUntil(id, user.headers, (v) => v.status === 'awaiting-approval');
  await tools.fault({ delayMs: holdMs, count: 1, deployment: offlineDeployments.strong });
  const rejected = await call(`${product.baseUrl}/api/agent-runs/${id}/approval`, {
    body: { decision: 'reject', round: 0, comment: 'Add a summary line.' },
    headers: user.headers,
  });
  expect(rejected.status).toBe(200);
  await tools.runUntil(id, user.headers, (v) => v.stage === 'revising');
  // The revision holds its own reservation while its model call is out.
  await pollUntil(
    () => tools.quotaOf(user.id),
    (q) => q.reserved > 0,
  );
  const view = await cancelAndCheck(id, user);
  expect(view.usage.totalTokens).toBe(waiting.usage.totalTokens);
});
