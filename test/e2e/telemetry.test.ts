import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { approvalSpanId, runSpanId, runTraceId, subtaskSpanId } from '../../src/telemetry/tree';
import { call, pollUntil, startProduct, type Product } from '../support/product';
import { offlineDeployments } from '../../scripts/offlineBackends';

// The app under the devhost runs in a child process, so its spans are collected the way a developer
// collects them: through the real OTLP/HTTP exporter into a receiver on loopback.

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  arrayValue?: { values: OtlpValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: OtlpValue }[];
  events?: { name: string; attributes?: { key: string; value: OtlpValue }[] }[];
  status?: { code?: number; message?: string };
}
interface Collected {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attrs: Record<string, unknown>;
  events: string[];
  /** 2 is ERROR in OTLP. */
  statusCode: number;
  raw: string;
}

const plain = (v: OtlpValue): unknown =>
  v.stringValue ??
  (v.intValue !== undefined ? Number(v.intValue) : undefined) ??
  v.boolValue ??
  v.arrayValue?.values.map(plain);

let product: Product;
let receiver: http.Server;
const spans: Collected[] = [];

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
        };
        for (const rs of body.resourceSpans)
          for (const ss of rs.scopeSpans)
            for (const s of ss.spans)
              spans.push({
                name: s.name,
                traceId: s.traceId,
                spanId: s.spanId,
                parentSpanId: s.parentSpanId || undefined,
                attrs: Object.fromEntries(s.attributes.map((a) => [a.key, plain(a.value)])),
                events: (s.events ?? []).map((e) => e.name),
                statusCode: s.status?.code ?? 0,
                raw: JSON.stringify(s),
              });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  product = await startProduct({
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_BSP_SCHEDULE_DELAY: '100' },
  });
});

afterAll(async () => {
  await product?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}
interface View {
  status: string;
  usage: Usage;
  subtasks?: { id: string; kind: string }[];
  approval?: { round: number };
}

const view = (runId: string) => call<View>(`${product.baseUrl}/api/agent-runs/${runId}`);
const runUntil = (runId: string, done: (v: View) => boolean) =>
  pollUntil(
    () => view(runId),
    (r) => r.status === 200 && done(r.body),
  );
const ofRun = (runId: string) => spans.filter((s) => s.traceId === runTraceId(runId));
const num = (v: unknown) => Number(v ?? 0);
const tokens = (list: Collected[]) => ({
  input: list.reduce((n, s) => n + num(s.attrs['gen_ai.usage.input_tokens']), 0),
  output: list.reduce((n, s) => n + num(s.attrs['gen_ai.usage.output_tokens']), 0),
});

/** The run's spans, once its own span (emitted last, when it ended) has arrived. */
async function treeOf(runId: string): Promise<Collected[]> {
  await pollUntil(
    async () => Promise.resolve(ofRun(runId).some((s) => s.spanId === runSpanId(runId))),
    Boolean,
    20_000,
  );
  // The last activity spans travel in their own batch; give them one more schedule.
  await new Promise((resolve) => setTimeout(resolve, 500));
  return ofRun(runId);
}

/**
 * Checks a run's trace is one whole tree: one root, the run's span; every parent present; subtasks and
 * approval waits under the run; activity spans under their subtask (or the run); nothing twice; usage
 * that adds up from the model calls to the subtasks and the run.
 */
function expectWholeTree(runId: string, run: Collected[], usage: Usage) {
  const ids = run.map((s) => s.spanId);
  expect(new Set(ids).size).toBe(run.length);
  const roots = run.filter((s) => !s.parentSpanId);
  expect(roots.map((s) => s.spanId)).toEqual([runSpanId(runId)]);
  const root = roots[0]!;
  expect(root.name).toBe('invoke_agent agent-run');
  expect(root.attrs).toMatchObject({
    'gen_ai.operation.name': 'invoke_agent',
    'gen_ai.agent.name': 'agent-run',
    'app.run.id': runId,
  });
  for (const s of run) if (s.parentSpanId) expect(ids).toContain(s.parentSpanId);

  const activities = run.filter((s) => s.attrs['app.activity'] !== undefined);
  const subtasks = run.filter((s) => s.attrs['app.subtask.kind'] !== undefined);
  const waits = run.filter((s) => s.attrs['approval.round'] !== undefined);
  expect(activities.length + subtasks.length + waits.length + 1).toBe(run.length);
  for (const s of subtasks) {
    const id = s.attrs['app.subtask.id'] as string;
    expect(s.spanId).toBe(subtaskSpanId(runId, id));
    expect(s.parentSpanId).toBe(root.spanId);
    expect(s.name).toBe(`invoke_agent ${String(s.attrs['app.subtask.kind'])}-subtask`);
    const below = activities.filter((a) => a.attrs['app.subtask.id'] === id);
    expect(tokens([s])).toEqual(tokens(below));
  }
  for (const w of waits) {
    expect(w.parentSpanId).toBe(root.spanId);
    expect(w.spanId).toBe(approvalSpanId(runId, num(w.attrs['approval.round'])));
  }
  for (const a of activities) {
    const subtask = a.attrs['app.subtask.id'] as string | undefined;
    expect(a.parentSpanId).toBe(subtask ? subtaskSpanId(runId, subtask) : root.spanId);
    if (subtask) expect(subtasks.map((s) => s.attrs['app.subtask.id'])).toContain(subtask);
  }
  // The run's usage: on its span, and the sum of the spans that spent tokens (model calls, research).
  expect(tokens([root])).toEqual({ input: usage.promptTokens, output: usage.completionTokens });
  expect(tokens(activities)).toEqual(tokens([root]));
  return { root, activities, subtasks, waits };
}

/** Content capture is off: no prompt, answer or owner in any span, and no content events. */
function expectNoContent(run: Collected[], ...texts: string[]) {
  for (const s of run) {
    expect(s.events.filter((e) => e !== 'approval.escalated')).toEqual([]);
    expect(s.attrs['user.id']).toBeUndefined();
    for (const text of texts) expect(s.raw).not.toContain(text);
  }
}

describe('telemetry of one agent run', () => {
  it('emits one tree per run: the run span at the root, subtasks under it, GenAI spans under those, once each', async () => {
    const prompt = 'What is 12 * 7 + 5? Use the calculator.';
    const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
      body: { prompt, tools: ['calculator'] },
    });
    expect(started.status).toBe(202);
    const runId = started.body.runId;
    const done = await runUntil(runId, (v) => v.status === 'completed');
    const modelCalls = (
      await call<{ path: string }[] | { requests: { path: string }[] }>(
        `${product.emulatorUrl}/_emulator/requests`,
      )
    ).body;
    const chatRequests = (Array.isArray(modelCalls) ? modelCalls : modelCalls.requests).filter((r) =>
      r.path.includes('/chat/completions'),
    ).length;
    expect(chatRequests).toBeGreaterThan(0);

    const run = await treeOf(runId);
    // Every span of the run is in the run's trace and nowhere else.
    expect(spans.filter((s) => s.attrs['app.run.id'] === runId).length).toBe(run.length);
    const { root, activities, subtasks, waits } = expectWholeTree(runId, run, done.body.usage);
    expect(root.attrs['app.run.outcome']).toBe('completed');
    expect(root.statusCode).not.toBe(2);
    expect(waits).toEqual([]);

    // One chat span per model request the emulator served: replays added none.
    const chats = activities.filter((s) => s.attrs['gen_ai.operation.name'] === 'chat');
    expect(chats.length).toBe(chatRequests);

    // One span per subtask of the run, with its kind.
    const viewed = (done.body.subtasks ?? []).map((s) => [s.id, s.kind]).sort();
    expect(subtasks.map((s) => [s.attrs['app.subtask.id'], s.attrs['app.subtask.kind']]).sort()).toEqual(
      viewed,
    );
    expect(viewed.length).toBeGreaterThan(0);
    expect(activities.some((s) => s.attrs['app.subtask.id'] === undefined)).toBe(true);
    expect(activities.some((s) => s.name === 'execute_tool calculator' && s.attrs['app.subtask.id'])).toBe(
      true,
    );

    // GenAI attributes on every chat span.
    for (const c of chats) {
      expect([`chat ${offlineDeployments.fast}`, `chat ${offlineDeployments.strong}`]).toContain(c.name);
      expect(c.attrs).toMatchObject({
        'gen_ai.system': 'azure.ai.openai',
        'gen_ai.request.model': c.name.slice('chat '.length),
        'gen_ai.response.model': c.name.slice('chat '.length),
        'app.cache.hit': false,
      });
      expect(c.attrs['gen_ai.usage.input_tokens']).toEqual(expect.any(Number));
      expect(c.attrs['gen_ai.usage.output_tokens']).toEqual(expect.any(Number));
      expect(c.attrs['gen_ai.response.finish_reasons']).toEqual([expect.any(String)]);
    }
    expect(tokens(run).input + tokens(run).output).toBeGreaterThan(0);
    expectNoContent(run, '12 * 7', 'local-user');
  });
});

describe('telemetry of a research run', () => {
  it('has invoke_agent spans under the research subtask, and the research tokens in the run total', async () => {
    const prompt = 'Research the latest news about Azure Durable Functions.';
    const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
      body: { prompt, research: true },
    });
    expect(started.status).toBe(202);
    const runId = started.body.runId;
    const done = await runUntil(runId, (v) => ['completed', 'failed'].includes(v.status));
    expect(done.body.status).toBe('completed');
    const researchIds = (done.body.subtasks ?? []).filter((s) => s.kind === 'research').map((s) => s.id);
    expect(researchIds.length).toBeGreaterThan(0);

    const run = await treeOf(runId);
    const { activities, subtasks } = expectWholeTree(runId, run, done.body.usage);
    const agents = activities.filter((s) => s.attrs['gen_ai.operation.name'] === 'invoke_agent');
    expect(agents.map((s) => s.name)).toEqual(
      expect.arrayContaining(['invoke_agent research start', 'invoke_agent research collect']),
    );
    for (const a of agents) expect(researchIds).toContain(a.attrs['app.subtask.id']);
    expect(agents.some((a) => num(a.attrs['gen_ai.usage.input_tokens']) > 0)).toBe(true);
    const research = subtasks.filter((s) => s.attrs['app.subtask.kind'] === 'research');
    expect(research.map((s) => s.name)).toEqual(researchIds.map(() => 'invoke_agent research-subtask'));
    expectNoContent(run, 'latest news');
  });
});

describe('telemetry of approval waits', () => {
  const decide = (runId: string, body: Record<string, unknown>) =>
    call(`${product.baseUrl}/api/agent-runs/${runId}/approval`, { body });

  it('has one wait span per round under the run: a rejection that asked for a revision, then the approval', async () => {
    const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
      body: { prompt: 'What is 10 * 10?', approval: { required: true } },
    });
    const runId = started.body.runId;
    await runUntil(runId, (v) => v.status === 'awaiting-approval');
    expect(
      (await decide(runId, { decision: 'reject', round: 0, comment: 'Say it is a square.' })).status,
    ).toBe(200);
    await runUntil(runId, (v) => v.status === 'awaiting-approval' && v.approval?.round === 1);
    expect((await decide(runId, { decision: 'approve', round: 1 })).status).toBe(200);
    const done = await runUntil(runId, (v) => v.status === 'completed');

    const run = await treeOf(runId);
    // The revision's model call is the run's too: it is in the usage on the run span.
    const { root, waits } = expectWholeTree(runId, run, done.body.usage);
    expect(root.attrs['app.run.outcome']).toBe('completed');
    const rounds = waits
      .map((w) => [
        w.name,
        w.attrs['approval.round'],
        w.attrs['approval.decision'],
        w.attrs['approval.outcome'],
      ])
      .sort();
    expect(rounds).toEqual([
      ['await_approval round 0', 0, 'reject', 'revise'],
      ['await_approval round 1', 1, 'approve', 'approved'],
    ]);
    expectNoContent(run, '10 * 10', 'Say it is a square', 'local-user');
  });
  it('marks the escalation as an event of the wait, and the expiry as its outcome', async () => {
    const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
      body: {
        prompt: 'What is 3 * 3?',
        approval: { required: true, timeoutMinutes: 0.02, escalateTo: ['boss'] },
      },
    });
    const runId = started.body.runId;
    const done = await runUntil(runId, (v) => v.status === 'expired');
    const run = await treeOf(runId);
    const { root, waits } = expectWholeTree(runId, run, done.body.usage);
    expect(root.attrs['app.run.outcome']).toBe('expired');
    expect(waits).toHaveLength(1);
    expect(waits[0]!.attrs).toMatchObject({
      'approval.round': 0,
      'approval.outcome': 'expired',
      'approval.escalated': true,
    });
    expect(waits[0]!.attrs['approval.decision']).toBeUndefined();
    expect(waits[0]!.events).toEqual(['approval.escalated']);
    expectNoContent(run, '3 * 3', 'boss');
  });
});

describe('telemetry of a cancelled run', () => {
  it('gives a run stopped while it waits its run span and its open wait, from the cancellation', async () => {
    const started = await call<{ runId: string; terminatePostUri: string }>(
      `${product.baseUrl}/api/agent-runs`,
      { body: { prompt: 'What is 2 + 3?', approval: { required: true } } },
    );
    const runId = started.body.runId;
    const waiting = await runUntil(runId, (v) => v.status === 'awaiting-approval');
    const cancelled = await call(started.body.terminatePostUri.replace('{text}', 'no%20longer%20needed'), {
      method: 'POST',
    });
    expect(cancelled.status).toBe(202);
    await runUntil(runId, (v) => v.status === 'terminated');

    const run = await treeOf(runId);
    const { root, waits } = expectWholeTree(runId, run, waiting.body.usage);
    expect(root.attrs['app.run.outcome']).toBe('cancelled');
    expect(waits.map((w) => [w.attrs['approval.round'], w.attrs['approval.outcome']])).toEqual([
      [0, 'cancelled'],
    ]);
    expectNoContent(run, '2 + 3', 'no longer needed');
  });
});

describe("telemetry of a run terminated behind the product's back", () => {
  const durable = () => `${product.baseUrl}/runtime/webhooks/durabletask`;
  const reconcile = async () =>
    expect(
      (await call(`${product.baseUrl}/admin/functions/reconcileReservations`, { body: {} })).status,
    ).toBe(202);

  it('gets its run span and its open wait from the reconciler, once, however often it passes', async () => {
    const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
      body: { prompt: 'What is 4 + 4?', approval: { required: true } },
    });
    const runId = started.body.runId;
    const waiting = await runUntil(runId, (v) => v.status === 'awaiting-approval');
    const raw = await call(`${durable()}/instances/${runId}/terminate?reason=raw`, {
      method: 'POST',
      body: {},
    });
    expect(raw.status).toBe(202);
    await runUntil(runId, (v) => v.status === 'terminated');
    // Nothing in the run records its span after a raw terminate: until the reconciler passes, the
    // trace has no root.
    expect(ofRun(runId).some((s) => s.spanId === runSpanId(runId))).toBe(false);

    // The devhost answers once the function has run, and the reconciler waits for the export.
    await reconcile();
    const run = await treeOf(runId);
    const { root, waits } = expectWholeTree(runId, run, waiting.body.usage);
    expect(root.attrs['app.run.outcome']).toBe('terminated');
    expect(waits.map((w) => [w.attrs['approval.round'], w.attrs['approval.outcome']])).toEqual([
      [0, 'terminated'],
    ]);
    expectNoContent(run, '4 + 4', 'local-user');

    // A second pass finds the run again (it still looks unsettled to a timer) and sends nothing more,
    // nor does it for the run the product cancelled above.
    const before = spans.length;
    await reconcile();
    expect(spans.length).toBe(before);
  });
});

describe('across all runs', () => {
  it('sent no span twice, whatever the orchestrators replayed', () => {
    expect(spans.length).toBeGreaterThan(0);
    const keys = spans.map((s) => `${s.traceId}/${s.spanId}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});
