/**
 * `npm run bench:events`: what the run event stream costs and how fast it tells. Prints a table and
 * asserts nothing.
 *
 * - change -> event: from just before an approval is sent to the arrival of the event that shows the
 *   run left `awaiting-approval` (an upper bound: it includes the run's own step), p50 and p95;
 * - chunk -> event: from the moment the emulated model writes a chunk of the final answer (the
 *   emulator's request log has the time and text offset of every chunk it wrote) to the arrival of the
 *   `answer.delta` event that carries that chunk's end, p50 and p95 over every chunk of every answer;
 * - per open stream: the devhost's CPU time and resident memory with N idle streams open, against none.
 *
 *   npm run bench:events -- [--runs 20] [--answers 10] [--chunk-ms 50] [--streams 50] [--seconds 10]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { call, pollUntil, startProduct, type Product } from '../test/support/product';
import { openSse, type SseStream } from '../test/support/sse';

const clockTicks = 100;

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? 0) / 1024;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function waitingRun(product: Product): Promise<string> {
  const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
    body: { prompt: 'What is 2 + 2?', approval: { required: true } },
  });
  await pollUntil(
    () => call<{ status: string }>(`${product.baseUrl}/api/agent-runs/${started.body.runId}`),
    (r) => r.body.status === 'awaiting-approval',
  );
  return started.body.runId;
}

async function emulator(product: Product, path: string, body: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${product.emulatorUrl}/_emulator/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
}

/** One streamed answer: for each chunk the model wrote, how long until the client had its text. */
async function answerLatencies(product: Product, text: string): Promise<number[]> {
  await emulator(product, 'faults', { content: text, stream: true });
  const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
    body: { prompt: 'What is 2 + 2?' },
  });
  const stream = await openSse(`${product.baseUrl}/api/agent-runs/${started.body.runId}/events`);
  const frames = await stream.readUntil((f) => f.event === 'end');
  const received: { end: number; at: number }[] = [];
  for (const f of frames) {
    if (f.event !== 'answer.delta') continue;
    const d = JSON.parse(f.data) as { offset: number; text: string };
    received.push({ end: d.offset + Buffer.byteLength(d.text), at: f.at });
  }
  const log = (await (await fetch(`${product.emulatorUrl}/_emulator/requests?service=openai`)).json()) as {
    requests: { chat?: { stream: boolean; chunks?: { atMs: number; end: number }[] } }[];
  };
  const chunks = log.requests.filter((r) => r.chat?.stream).at(-1)?.chat?.chunks ?? [];
  // The text is ASCII, so the emulator's character offsets are the blob's byte offsets.
  return chunks.flatMap((c) => {
    const arrival = received.find((r) => r.end >= c.end);
    return arrival ? [arrival.at - c.atMs] : [];
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '20' },
      answers: { type: 'string', default: '10' },
      'chunk-ms': { type: 'string', default: '50' },
      streams: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '10' },
    },
  });
  const runs = Number(values.runs);
  const answers = Number(values.answers);
  const chunkMs = Number(values['chunk-ms']);
  const streamCount = Number(values.streams);
  const seconds = Number(values.seconds);
  const product = await startProduct({ env: { QUOTA_DEFAULT_MONTHLY_TOKENS: '100000000' } });
  try {
    const latencies: number[] = [];
    for (let i = 0; i < runs; i++) {
      const runId = await waitingRun(product);
      const stream = await openSse(`${product.baseUrl}/api/agent-runs/${runId}/events`);
      await stream.readUntil((f) => f.event === 'draft');
      const sentAt = performance.now();
      void call(`${product.baseUrl}/api/agent-runs/${runId}/approval`, {
        body: { decision: 'approve', round: 0 },
      });
      await stream.readUntil((f) => f.event === 'stage' && !f.data.includes('awaiting-approval'));
      latencies.push(performance.now() - sentAt);
      await stream.close();
    }

    const answerText = Array.from(
      { length: 10 },
      (_, i) => `Part ${i + 1} of the answer says 2 + 2 = 4.`,
    ).join(' ');
    await emulator(product, 'streaming', { chunkDelayMs: chunkMs });
    const chunkLatencies: number[] = [];
    for (let i = 0; i < answers; i++) chunkLatencies.push(...(await answerLatencies(product, answerText)));
    await emulator(product, 'streaming', { chunkDelayMs: 0 });

    const idleRuns = await Promise.all(Array.from({ length: streamCount }, () => waitingRun(product)));
    const pid = product.hostPid;
    const measure = async (): Promise<{ cpu: number; rss: number }> => {
      const cpu0 = cpuSeconds(pid);
      await new Promise((r) => setTimeout(r, seconds * 1000));
      return { cpu: (cpuSeconds(pid) - cpu0) / seconds, rss: rssMb(pid) };
    };
    const none = await measure();
    const streams: SseStream[] = await Promise.all(
      idleRuns.map((id) => openSse(`${product.baseUrl}/api/agent-runs/${id}/events`)),
    );
    await Promise.all(streams.map((s) => s.readUntil((f) => f.event === 'draft')));
    const open = await measure();
    await Promise.all(streams.map((s) => s.close()));

    const rows = [
      ['change -> event p50', `${percentile(latencies, 50).toFixed(0)} ms`, ''],
      ['change -> event p95', `${percentile(latencies, 95).toFixed(0)} ms`, '< 1000 ms'],
      [
        `model chunk -> answer.delta p50 (${chunkLatencies.length} chunks)`,
        `${percentile(chunkLatencies, 50).toFixed(0)} ms`,
        '',
      ],
      ['model chunk -> answer.delta p95', `${percentile(chunkLatencies, 95).toFixed(0)} ms`, '< 1000 ms'],
      ['devhost CPU, no streams', `${(none.cpu * 100).toFixed(1)} % of a core`, ''],
      [`devhost CPU, ${streamCount} idle streams`, `${(open.cpu * 100).toFixed(1)} % of a core`, ''],
      ['CPU per open stream', `${(((open.cpu - none.cpu) / streamCount) * 100).toFixed(2)} % of a core`, ''],
      ['RSS per open stream', `${((open.rss - none.rss) / streamCount).toFixed(2)} MB`, ''],
      ['status reads per open stream', `${(1000 / 250).toFixed(0)} per second`, 'by design (250 ms poll)'],
    ];
    console.log(
      `\nRun event stream (${runs} runs, ${answers} streamed answers at ${chunkMs} ms a chunk, ${streamCount} streams, ${seconds} s windows)\n`,
    );
    const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length), 8));
    for (const r of [['measure', 'value', 'target'], ...rows]) {
      console.log(r.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  '));
    }
  } finally {
    await product.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
