// The README's run command, checked the way a newcomer uses it: `npm start`, one run through approval
// over HTTP, then Ctrl-C. Fails loudly with the product's output when any step does not happen.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const port = 7071;
const base = `http://127.0.0.1:${port}`;
const data = mkdtempSync(path.join(tmpdir(), 'agent-runs-smoke-'));
const child = spawn('npm', ['start', '--', '--port', String(port), '--data', data], {
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true,
});
let output = '';
child.stdout.on('data', (chunk) => (output += chunk));
child.stderr.on('data', (chunk) => (output += chunk));

const fail = (message) => {
  console.error(`smoke: ${message}\n--- npm start output ---\n${output}`);
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  process.exit(1);
};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const json = async (url, init) => {
  const response = await fetch(url, init);
  return { status: response.status, body: await response.json() };
};
const until = async (what, probe, timeoutMs) => {
  const giveUpAt = Date.now() + timeoutMs;
  while (Date.now() < giveUpAt) {
    const value = await probe().catch(() => undefined);
    if (value) return value;
    await sleep(250);
  }
  return fail(`timed out waiting for ${what}`);
};

await until('the health endpoint', async () => (await fetch(`${base}/api/health`)).ok, 180_000);
if (!output.includes('OFFLINE')) fail('npm start did not say it answers with the offline emulator');

const post = (url, body) =>
  json(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const started = await post(`${base}/api/agent-runs`, {
  prompt: 'What is 12 * 7 + 5? Then research the latest news on Azure Durable Functions.',
  approval: { required: true, timeoutMinutes: 30 },
});
if (started.status !== 202)
  fail(`POST /api/agent-runs answered ${started.status}: ${JSON.stringify(started.body)}`);
const runUrl = started.body.links.run;
await until('the draft', async () => (await json(runUrl)).body.status === 'awaiting-approval', 60_000);
const builtIn = await json(started.body.statusQueryGetUri);
if (builtIn.status !== 202 || builtIn.body.customStatus?.stage !== 'awaiting-approval') {
  fail(`the built-in status URL answered ${builtIn.status}: ${JSON.stringify(builtIn.body)}`);
}
const approved = await post(started.body.links.approval, { decision: 'approve', round: 0 });
if (approved.status !== 200) fail(`approval answered ${approved.status}: ${JSON.stringify(approved.body)}`);
const done = await until(
  'the finished run',
  async () => {
    const view = (await json(runUrl)).body;
    return view.status === 'completed' ? view : undefined;
  },
  60_000,
);
if (!done.answer.includes('89') || done.citations.length === 0 || !done.resultBlob) {
  fail(`unexpected result: ${JSON.stringify(done)}`);
}

// Ctrl-C reaches the whole process group; npm itself dies of the signal, the product must shut down.
process.kill(-child.pid, 'SIGINT');
const exit = await Promise.race([
  new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))),
  sleep(15_000).then(() => undefined),
]);
if (!exit || !(exit.code === 0 || exit.signal === 'SIGINT')) {
  fail(`npm start did not stop on SIGINT (exit: ${JSON.stringify(exit)})`);
}
const listening = (p) =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: p });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
await until(
  'the host and Azurite to let go of their ports',
  async () => !(await listening(port)) && !(await listening(10000)),
  15_000,
);
if (!output.includes('SIGINT: stopping.')) fail('the product did not say it was stopping');
console.log(
  `smoke: npm start ran a run to "${done.status}" (${done.usage.totalTokens} tokens, ${done.citations.length} citations) and stopped on SIGINT`,
);
