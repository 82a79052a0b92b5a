import { call, pollUntil, startProduct, type Product } from '../support/product';

// Research spends tokens too: a research run gets what remains of the run's share as its Agent Service
// token limits, and is skipped, saying why, when the share is too small for one.

interface RunView {
  status: string;
  usage?: { totalTokens: number };
  subtasks?: { kind: string; ok: boolean; error?: string; usage: { totalTokens: number } }[];
}

let product: Product;

beforeAll(async () => {
  product = await startProduct();
});

afterAll(async () => {
  await product?.stop();
});

async function finishedRun(body: Record<string, unknown>): Promise<RunView> {
  const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, { body });
  expect(started.status).toBe(202);
  const done = await pollUntil(
    () => call<RunView>(`${product.baseUrl}/api/agent-runs/${started.body.runId}`),
    (r) => !['running', 'pending'].includes(r.body.status),
  );
  return done.body;
}

it('skips research when the run has too few tokens left for it, and says so', async () => {
  const run = await finishedRun({
    prompt: 'Research the latest news about Azure Durable Functions.',
    research: true,
    tools: [],
    maxTokens: 1500,
  });
  const research = run.subtasks?.find((s) => s.kind === 'research');
  expect(research).toMatchObject({ ok: false, usage: { totalTokens: 0 } });
  expect(research?.error).toMatch(
    /research was skipped: the run's budget leaves \d+ tokens .* at least 1024/,
  );
});

it('runs research within the share it was given when there is room', async () => {
  const maxTokens = 20_000;
  const run = await finishedRun({
    prompt: 'Research the latest news about Azure Durable Functions.',
    research: true,
    tools: [],
    maxTokens,
  });
  const research = run.subtasks?.find((s) => s.kind === 'research');
  expect(research?.ok).toBe(true);
  expect(research?.usage.totalTokens).toBeGreaterThan(0);
  expect(run.usage?.totalTokens).toBeLessThanOrEqual(maxTokens);
});
