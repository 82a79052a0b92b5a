/**
 * `npm run bench`: how close a fanned-out run comes to its critical path, and how many Agent Service
 * requests a research subtask makes. Prints a table; asserts nothing. Every number is measured in this
 * run against a baseline from the same run, on the same machine.
 *
 *   npm run bench -- [--k 8] [--latency-ms 200] [--runs 3] [--agent-run-ms 30000]
 */
import { parseArgs } from 'node:util';
import { AzureOpenAI } from 'openai';
import { call, pollUntil, startProduct, type Product } from '../test/support/product';

interface Row {
  measure: string;
  value: string;
  target: string;
}

interface EmulatorRequest {
  method: string;
  path: string;
  status: number;
  timeMs: number;
  operation?: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      k: { type: 'string', default: '8' },
      'latency-ms': { type: 'string', default: '200' },
      runs: { type: 'string', default: '3' },
      'agent-run-ms': { type: 'string', default: '30000' },
    },
  });
  const k = Number(values.k);
  const latencyMs = Number(values['latency-ms']);
  const runs = Number(values.runs);
  const agentRunMs = Number(values['agent-run-ms']);

  const rows: Row[] = [];
  const product = await startProduct({ agentRunDurationMs: agentRunMs, env: { DEVHOST_LOG: 'quiet' } });
  try {
    await call(`${product.emulatorUrl}/_emulator/latency`, { body: { ms: latencyMs } });
    const criticalPath = await measureCriticalPath(product, 3);
    await timeFanOutRun(product, k, runs); // warm-up, not counted: the first run pays for JIT and connections
    const walls: number[] = [];
    let subtasks = 0;
    for (let i = 0; i < runs; i++) {
      const { wallMs, total } = await timeFanOutRun(product, k, i);
      walls.push(wallMs);
      subtasks = total;
    }
    const wall = median(walls);
    rows.push(
      { measure: `subtasks in the plan (asked for ${k})`, value: String(subtasks), target: String(k) },
      {
        measure: `critical path: 3 sequential model calls at ${latencyMs} ms (ms)`,
        value: criticalPath.toFixed(0),
        target: '',
      },
      { measure: `run wall time, median of ${runs} (ms)`, value: wall.toFixed(0), target: '' },
      { measure: 'wall time / critical path', value: (wall / criticalPath).toFixed(3), target: '< 1.15' },
    );

    await call(`${product.emulatorUrl}/_emulator/latency`, { body: { ms: 0 } });
    const research = await researchRequests(product);
    rows.push(
      {
        measure: `Agent Service polls for one ${agentRunMs / 1000} s research run`,
        value: String(research.polls),
        target: '<= 6',
      },
      { measure: 'polled at (s after the run was created)', value: research.pollTimes, target: '' },
      { measure: 'all Agent Service requests for that subtask', value: String(research.total), target: '' },
      {
        measure: 'polls with fixed 1 s polling (for comparison)',
        value: String(Math.ceil(agentRunMs / 1000)),
        target: '',
      },
    );
  } finally {
    await product.stop();
  }
  printTable(rows);
}

/** The baseline: the same number of sequential model calls, straight to the emulator, no orchestration. */
async function measureCriticalPath(product: Product, calls: number): Promise<number> {
  const client = new AzureOpenAI({
    endpoint: product.emulatorUrl,
    apiKey: 'emulator-key',
    apiVersion: '2024-10-21',
    deployment: 'gpt-4o-mini',
  });
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    for (let c = 0; c < calls; c++) {
      await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: `baseline ${i} ${c}` }],
      });
    }
    samples.push(performance.now() - started);
  }
  return median(samples);
}

async function timeFanOutRun(
  product: Product,
  k: number,
  round: number,
): Promise<{ wallMs: number; total: number }> {
  const prompt = Array.from({ length: k }, (_, i) => `Compute ${round * 100 + i + 11} + ${i + 2}.`).join(' ');
  const started = performance.now();
  const start = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
    body: { prompt, tools: [], research: false },
  });
  if (start.status !== 202) throw new Error(`start answered ${start.status}: ${JSON.stringify(start.body)}`);
  const view = await pollUntil(
    () =>
      call<{ status: string; progress: { total: number } }>(
        `${product.baseUrl}/api/agent-runs/${start.body.runId}`,
      ),
    (r) => r.body.status !== 'running',
    120_000,
  );
  const wallMs = performance.now() - started;
  if (view.body.status !== 'completed') throw new Error(`the run ended as ${view.body.status}`);
  return { wallMs, total: view.body.progress.total };
}

async function researchRequests(
  product: Product,
): Promise<{ polls: number; total: number; pollTimes: string }> {
  await call(`${product.emulatorUrl}/_emulator/reset`, { body: {} });
  const start = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
    body: { prompt: 'Research the latest news about durable execution engines.', research: true, tools: [] },
  });
  await pollUntil(
    () => call<{ status: string }>(`${product.baseUrl}/api/agent-runs/${start.body.runId}`),
    (r) => r.body.status !== 'running',
    300_000,
  );
  const log = await call<EmulatorRequest[] | { requests: EmulatorRequest[] }>(
    `${product.emulatorUrl}/_emulator/requests`,
  );
  const requests = (Array.isArray(log.body) ? log.body : log.body.requests).filter(
    (r) => !r.path.includes('/openai/'),
  );
  const agentCreation = requests.filter((r) => r.method === 'POST' && /\/assistants$/.test(r.path)).length;
  const pollRequests = requests.filter(
    (r) => r.method === 'GET' && /\/threads\/[^/]+\/runs\/[^/]+$/.test(r.path),
  );
  const created = requests.find((r) => r.operation === 'createThreadAndRun')?.timeMs ?? 0;
  const pollTimes = pollRequests.map((r) => ((r.timeMs - created) / 1000).toFixed(1)).join(', ');
  // The agent is created once per process, not per subtask.
  return { polls: pollRequests.length, total: requests.length - agentCreation, pollTimes };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function printTable(rows: Row[]): void {
  const widths = [
    Math.max(7, ...rows.map((r) => r.measure.length)),
    Math.max(5, ...rows.map((r) => r.value.length)),
    Math.max(6, ...rows.map((r) => r.target.length)),
  ];
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(['measure', 'value', 'target']));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line([row.measure, row.value, row.target]));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
