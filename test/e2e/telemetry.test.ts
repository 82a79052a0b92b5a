import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { runSpanId, runTraceId, subtaskSpanId } from '../../src/telemetry/tree';
import { call, pollUntil, startProduct, type Product } from '../support/product';

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
}
interface Collected {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attrs: Record<string, unknown>;
  events: string[];
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

describe('telemetry of one agent run', () => {
  it('emits one trace per run with GenAI spans under the run and its subtasks, once each, without content', async () => {
    const prompt = 'What is 12 * 7 + 5? Use the calculator.';
    const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
      body: { prompt, tools: ['calculator'] },
    });
    expect(started.status).toBe(202);
    const runId = started.body.runId;
    const view = await pollUntil(
      () =>
        call<{ status: string; usage: { totalTokens: number }; subtasks?: { id: string }[] }>(
          `${product.baseUrl}/api/agent-runs/${runId}`,
        ),
      (r) => r.status === 200 && r.body.status === 'completed',
    );
    const modelCalls = (
      await call<{ path: string }[] | { requests: { path: string }[] }>(
        `${product.emulatorUrl}/_emulator/requests`,
      )
    ).body;
    const chatRequests = (Array.isArray(modelCalls) ? modelCalls : modelCalls.requests).filter((r) =>
      r.path.includes('/chat/completions'),
    ).length;
    expect(chatRequests).toBeGreaterThan(0);

    const traceId = runTraceId(runId);
    const ofRun = () => spans.filter((s) => s.traceId === traceId);
    const saveDone = () => ofRun().some((s) => s.name === 'activity saveResult');
    await pollUntil(async () => Promise.resolve(saveDone()), Boolean, 20_000);

    const run = ofRun();
    // Every activity span of the run is in the run's trace and nowhere else.
    expect(spans.filter((s) => s.attrs['app.run.id'] === runId).length).toBe(run.length);

    // One chat span per model request the emulator served: replays added none.
    const chats = run.filter((s) => s.attrs['gen_ai.operation.name'] === 'chat');
    expect(chats.length).toBe(chatRequests);
    expect(new Set(run.map((s) => s.spanId)).size).toBe(run.length);

    // Parents: the run's derived span, or the subtask's, as the span's own ids say.
    const subtaskIds = (view.body.subtasks ?? []).map((s) => s.id);
    expect(subtaskIds.length).toBeGreaterThan(0);
    for (const s of run) {
      const subtask = s.attrs['app.subtask.id'] as string | undefined;
      expect(s.parentSpanId).toBe(subtask ? subtaskSpanId(runId, subtask) : runSpanId(runId));
      if (subtask) expect(subtaskIds).toContain(subtask);
    }
    expect(run.some((s) => s.attrs['app.subtask.id'] === undefined)).toBe(true);
    expect(run.some((s) => s.name === 'execute_tool calculator' && s.attrs['app.subtask.id'])).toBe(true);

    // GenAI attributes on every chat span, and usage that adds up to what the run was charged.
    for (const c of chats) {
      expect(c.name).toMatch(/^chat gpt-4o(-mini)?$/);
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
    const tokens = run.reduce(
      (sum, s) =>
        sum +
        (Number(s.attrs['gen_ai.usage.input_tokens'] ?? 0) +
          Number(s.attrs['gen_ai.usage.output_tokens'] ?? 0)),
      0,
    );
    expect(tokens).toBe(view.body.usage.totalTokens);

    // Content capture is off by default: no prompt or answer anywhere in the exported spans.
    for (const s of run) {
      expect(s.events).toEqual([]);
      expect(s.raw).not.toContain('12 * 7');
    }
  });
});

describe('telemetry of a research run', () => {
  it('has invoke_agent spans under the research subtask, and the research tokens in the run total', async () => {
    const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
      body: { prompt: 'Research the latest news about Azure Durable Functions.', research: true },
    });
    expect(started.status).toBe(202);
    const runId = started.body.runId;
    const view = await pollUntil(
      () =>
        call<{ status: string; usage: { totalTokens: number }; subtasks?: { id: string; kind: string }[] }>(
          `${product.baseUrl}/api/agent-runs/${runId}`,
        ),
      (r) => r.status === 200 && ['completed', 'failed'].includes(r.body.status),
    );
    expect(view.body.status).toBe('completed');
    const researchIds = (view.body.subtasks ?? []).filter((s) => s.kind === 'research').map((s) => s.id);
    expect(researchIds.length).toBeGreaterThan(0);

    const traceId = runTraceId(runId);
    const ofRun = () => spans.filter((s) => s.traceId === traceId);
    await pollUntil(
      async () => Promise.resolve(ofRun().some((s) => s.name === 'activity saveResult')),
      Boolean,
      20_000,
    );
    const run = ofRun();

    const agents = run.filter((s) => s.attrs['gen_ai.operation.name'] === 'invoke_agent');
    expect(agents.map((s) => s.name)).toEqual(
      expect.arrayContaining(['invoke_agent research start', 'invoke_agent research collect']),
    );
    for (const a of agents) {
      expect(researchIds).toContain(a.attrs['app.subtask.id']);
      expect(a.parentSpanId).toBe(subtaskSpanId(runId, a.attrs['app.subtask.id'] as string));
    }
    const tokens = run.reduce(
      (sum, s) =>
        sum +
        (Number(s.attrs['gen_ai.usage.input_tokens'] ?? 0) +
          Number(s.attrs['gen_ai.usage.output_tokens'] ?? 0)),
      0,
    );
    expect(agents.some((a) => Number(a.attrs['gen_ai.usage.input_tokens'] ?? 0) > 0)).toBe(true);
    expect(tokens).toBe(view.body.usage.totalTokens);
  });
});
