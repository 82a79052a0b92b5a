/**
 * `npm start` (dist/scripts/start.js) keeps what it was told across a clean stop and a kill -9: a run waiting
 * for approval is still waiting and can be approved, an admin's quota override stays, and a completed run
 * still shows its answer, and its event stream resumes exactly from a Last-Event-ID given before the
 * restarts. Slow by nature (four starts of the whole product), so one test walks it all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isListening } from '../../scripts/azurite';
import { call, pollUntil, principalHeaders, projectRoot } from '../support/product';
import { openSse, type SseFrame } from '../support/sse';

jest.setTimeout(120_000);

interface Started {
  child: ChildProcess;
  baseUrl: string;
  azuritePort: number;
  output: () => string;
  exited: Promise<void>;
}

const startScript = path.join(projectRoot, 'dist', 'scripts', 'start.js');

async function startProductProcess(dataDir: string): Promise<Started> {
  const child = spawn(process.execPath, [startScript, '--port', '0', '--data', dataDir, '--log', 'quiet'], {
    cwd: projectRoot,
    // The committed sample settings apply (no local.settings.json in a clean checkout); nothing from Azure.
    env: { ...process.env, AZURE_OPENAI_ENDPOINT: '', AzureWebJobsStorage: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await pollUntil(
    () => Promise.resolve(output),
    (text) => /Agent runs API: POST (http:\/\/\S+)\/api\/agent-runs/.test(text) || child.exitCode !== null,
    60_000,
  );
  const url = /Agent runs API: POST (http:\/\/\S+)\/api\/agent-runs/.exec(ready)?.[1];
  const azurite = /Azurite \(local Azure Storage\) is running on http:\/\/127\.0\.0\.1:(\d+)/.exec(
    ready,
  )?.[1];
  if (!url || !azurite) throw new Error(`npm start did not come up:\n${ready}`);
  return { child, baseUrl: url, azuritePort: Number(azurite), output: () => output, exited };
}

interface RunView {
  status: string;
  answer?: string;
  approval?: { draft?: string };
}

describe('npm start across a clean stop and a kill -9', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'product-data-'));
  let product: Started | undefined;
  const admin = principalHeaders('admin-1', ['AgentRuns.Admin']);

  afterAll(async () => {
    if (product && product.child.exitCode === null) {
      product.child.kill('SIGTERM');
      await product.exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  const view = async (runId: string) =>
    (await call<RunView>(`${product?.baseUrl ?? ''}/api/agent-runs/${runId}`)).body;
  const quota = async () =>
    (
      await call<{ limit?: number; monthlyTokenLimit?: number }>(
        `${product?.baseUrl ?? ''}/api/quota/alice`,
        {
          headers: admin,
        },
      )
    ).body;

  it('keeps a run waiting for approval and a quota override, and a completed answer', async () => {
    product = await startProductProcess(dataDir);
    const override = await call(`${product.baseUrl}/api/quota/alice`, {
      method: 'PUT',
      body: { monthlyTokenLimit: 123_456 },
      headers: admin,
    });
    expect(override.status).toBe(200);
    const limitShown = JSON.stringify(await quota());
    expect(limitShown).toContain('123456');

    const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
      body: { prompt: 'What is 2 + 2?', approval: { required: true, timeoutMinutes: 30 } },
    });
    expect(started.status).toBe(202);
    const runId = started.body.runId;
    const waiting = await pollUntil(
      () => view(runId),
      (v) => v.status === 'awaiting-approval',
      30_000,
    );

    expect(waiting.approval?.draft).toEqual(expect.any(String));
    const eventsUrl = () => `${product?.baseUrl ?? ''}/api/agent-runs/${runId}/events`;
    const line = (f: SseFrame) => `${f.id} ${f.event} ${f.data}`;
    const firstStream = await openSse(eventsUrl());
    const beforeRestarts = await firstStream.readUntil((f) => f.event === 'draft');
    await firstStream.close();
    const lastSeen = Number(beforeRestarts.at(-1)?.id);

    // A clean stop.
    product.child.kill('SIGTERM');
    await product.exited;
    product = await startProductProcess(dataDir);
    expect(JSON.stringify(await quota())).toBe(limitShown);
    expect(await view(runId)).toMatchObject({
      status: 'awaiting-approval',
      approval: { draft: waiting.approval?.draft },
    });

    // A kill -9: Azurite goes with it, and the next start finds everything again.
    const azuritePort = product.azuritePort;
    product.child.kill('SIGKILL');
    await product.exited;
    await pollUntil(
      () => isListening(azuritePort),
      (open) => !open,
      10_000,
    );
    product = await startProductProcess(dataDir);
    expect(JSON.stringify(await quota())).toBe(limitShown);
    expect(await view(runId)).toMatchObject({ status: 'awaiting-approval' });

    // The stream, opened again on the restarted host with the id seen before, goes on exactly there.
    const resumed = await openSse(eventsUrl(), { 'last-event-id': String(lastSeen) });
    const approved = await call(`${product.baseUrl}/api/agent-runs/${runId}/approval`, {
      body: { decision: 'approve', round: 0 },
    });
    expect(approved.status).toBe(200);
    const afterRestarts = await resumed.readUntil((f) => f.event === 'end');
    expect(afterRestarts.at(-1)?.event).toBe('end');
    const ids = [...beforeRestarts, ...afterRestarts].map((f) => Number(f.id));
    expect(ids).toEqual(ids.map((_, i) => (ids[0] ?? 0) + i));
    const done = await pollUntil(
      () => view(runId),
      (v) => v.status === 'completed',
      30_000,
    );
    expect(done.answer).toBe(waiting.approval?.draft);

    // Reported completed, then killed at once: the answer is still there after the restart.
    product.child.kill('SIGKILL');
    await product.exited;
    product = await startProductProcess(dataDir);
    expect(await view(runId)).toMatchObject({ status: 'completed', answer: done.answer });
    // After every restart, the whole log reads back as it was sent.
    const replay = await openSse(eventsUrl());
    expect((await replay.readUntil(() => false)).map(line)).toEqual(
      [...beforeRestarts, ...afterRestarts].map(line),
    );
  });
});
