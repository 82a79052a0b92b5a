import { setTimeout as sleep } from 'node:timers/promises';
import { startEmulators } from '../../../emulators/src';
import {
  createCollectResearch,
  createPollResearch,
  createStartResearch,
  researchAgentName,
} from '../../../src/activities/research';
import { createClients, type AppClients } from '../../../src/clients';
import type { AppConfig } from '../../../src/config';
import type {
  PollResearchOutput,
  ResearchHandle,
  StartResearchOutput,
} from '../../../src/contracts/research';
import { RetryableError } from '../../../src/lib/errors';
import { emulatorControl, testConfig, testContext } from './support';

type Emulators = Awaited<ReturnType<typeof startEmulators>>;

const runDurationMs = 600;

describe('research activities against the Agent Service emulator', () => {
  let emulators: Emulators;
  let config: AppConfig;
  let clients: AppClients;

  beforeAll(async () => {
    emulators = await startEmulators({ port: 0, agentRunDurationMs: runDurationMs });
    config = testConfig({
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      AZURE_OPENAI_ENDPOINT: emulators.openaiEndpoint,
      AZURE_OPENAI_API_KEY: emulators.apiKey,
      AZURE_AI_PROJECT_ENDPOINT: emulators.projectEndpoint,
      BING_CONNECTION_ID: 'emulator-bing-connection',
    });
    clients = createClients(config);
  });
  afterAll(() => emulators?.stop());
  beforeEach(() => control('POST', '/_emulator/reset'));

  const control = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    emulatorControl(emulators.url, method, path, body);

  /** The Agent Service operations the emulator received, in order (createAgent, getRun, ...). */
  async function operations(): Promise<string[]> {
    const log = (await control('GET', '/_emulator/requests')) as
      { requests: { service: string; operation?: string }[] } | { service: string; operation?: string }[];
    const requests = Array.isArray(log) ? log : log.requests;
    return requests.filter((r) => r.service === 'agents').map((r) => r.operation ?? '?');
  }

  const handleOf = (out: StartResearchOutput): ResearchHandle => {
    if (!out.ok) throw new Error(`expected a research handle, got ${JSON.stringify(out)}`);
    return out.value;
  };

  /** What the orchestrator does with durable timers, done here with sleeps. */
  async function pollUntilDone(handle: ResearchHandle): Promise<PollResearchOutput[]> {
    const poll = createPollResearch({ clients, config });
    const seen: PollResearchOutput[] = [];
    for (let i = 0; i < 50; i++) {
      const out = await poll(handle, testContext('pollResearch'));
      seen.push(out);
      if (!out.ok || !['queued', 'in_progress'].includes(out.value.status)) return seen;
      await sleep(100);
    }
    throw new Error('the research run did not finish');
  }

  it('starts a grounded run, polls it to completion, collects a cited answer and deletes the thread', async () => {
    const start = createStartResearch({ clients, config });
    const collect = createCollectResearch({ clients, config });
    const startedAt = Date.now();

    const handle = handleOf(
      await start(
        { runId: 'run-1', subtaskId: 's1', query: 'What is Azure Durable Functions used for?' },
        testContext('startResearch'),
      ),
    );
    expect(Date.now() - startedAt).toBeLessThan(runDurationMs); // started, not waited for
    expect(handle).toEqual({
      threadId: expect.any(String) as unknown,
      agentRunId: expect.any(String) as unknown,
      agentId: expect.any(String) as unknown,
    });

    const polls = await pollUntilDone(handle);
    expect(polls[0]).toMatchObject({
      ok: true,
      value: { status: expect.stringMatching(/queued|in_progress/) as unknown },
    });
    const last = polls[polls.length - 1];
    expect(last).toMatchObject({ ok: true, value: { status: 'completed' } });
    expect(last?.ok && last.value.usage?.totalTokens).toBeGreaterThan(0);

    const collected = await collect(handle, testContext('collectResearch'));
    if (!collected.ok) throw new Error(JSON.stringify(collected));
    const { text, citations, usage } = collected.value;
    expect(citations.length).toBeGreaterThan(0);
    expect(new Set(citations.map((c) => c.url)).size).toBe(citations.length);
    for (const citation of citations) expect(citation.url).toMatch(/^https:\/\//);
    expect(text).toContain('[1]');
    expect(text).not.toMatch(/【/);
    expect(text.match(/\[(\d+)\]/g)?.every((m) => Number(m.slice(1, -1)) <= citations.length)).toBe(true);
    expect(usage.totalTokens).toBeGreaterThan(0);

    const ops = await operations();
    expect(ops.filter((o) => o === 'createAgent')).toHaveLength(1);
    expect(ops.filter((o) => o === 'createThreadAndRun')).toHaveLength(1);
    expect(ops).toContain('listMessages');
    expect(ops[ops.length - 1]).toBe('deleteThread');
    expect(ops).not.toContain('cancelRun');

    // The thread is gone: polling it now is a permanent failure, not something to retry.
    const afterDelete = await createPollResearch({ clients, config })(handle, testContext('pollResearch'));
    expect(afterDelete).toMatchObject({ ok: false, kind: 'permanent', status: 404 });
  });

  it('collects without reading the run again when the orchestrator passes the usage it saw at completion', async () => {
    const handle = handleOf(
      await createStartResearch({ clients, config })(
        { runId: 'run-2', subtaskId: 's1', query: 'What is the Durable Task Scheduler?' },
        testContext('startResearch'),
      ),
    );
    const last = (await pollUntilDone(handle)).at(-1);
    if (!last?.ok || !last.value.usage)
      throw new Error(`expected a completed run with usage: ${JSON.stringify(last)}`);
    await control('POST', '/_emulator/reset');

    const collected = await createCollectResearch({ clients, config })(
      { ...handle, completedUsage: last.value.usage },
      testContext('collectResearch'),
    );
    expect(collected).toMatchObject({ ok: true, value: { usage: last.value.usage } });
    expect(await operations()).toEqual(['listMessages', 'deleteThread']);
  });

  it('creates the Bing-grounded agent once per process, on the fast deployment', async () => {
    const start = createStartResearch({ clients, config });
    const a = handleOf(
      await start({ runId: 'run-2', subtaskId: 's1', query: 'Azure Blob Storage tiers' }, testContext('s')),
    );
    const b = handleOf(
      await start({ runId: 'run-2', subtaskId: 's2', query: 'Azure Functions Flex' }, testContext('s')),
    );

    expect(b.agentId).toBe(a.agentId);
    expect((await operations()).filter((o) => o === 'createAgent')).toHaveLength(1);
    const agent = await clients.agents?.getAgent(a.agentId);
    expect(agent).toMatchObject({ name: researchAgentName, model: 'gpt-4o-mini' });
    expect(JSON.stringify(agent?.tools)).toContain('bing_grounding');
    expect(JSON.stringify(agent?.tools)).toContain('emulator-bing-connection');

    const collect = createCollectResearch({ clients, config });
    await collect(a, testContext('c'));
    await collect(b, testContext('c'));
  });

  it('cleans up a run that is still going: cancels it, then deletes the thread', async () => {
    const handle = handleOf(
      await createStartResearch({ clients, config })(
        { runId: 'run-3', subtaskId: 's1', query: 'Azure AI Foundry agents' },
        testContext('startResearch'),
      ),
    );
    const collected = await createCollectResearch({ clients, config })(
      handle,
      testContext('collectResearch'),
    );
    expect(collected.ok).toBe(true);
    const ops = await operations();
    expect(ops.slice(ops.indexOf('createThreadAndRun') + 1)).toEqual([
      'getRun',
      'cancelRun',
      'listMessages',
      'deleteThread',
    ]);
  });

  it('returns a long 429 from the Agent Service as rate-limited', async () => {
    await control('POST', '/_emulator/faults', {
      status: 429,
      count: 1,
      retryAfterMs: 30_000,
      service: 'agents',
    });
    const out = await createStartResearch({ clients, config })(
      { runId: 'run-4', subtaskId: 's1', query: 'anything' },
      testContext('startResearch'),
    );
    expect(out).toMatchObject({ ok: false, kind: 'rate-limited', retryAfterMs: 30_000 });
  });

  it('throws a RetryableError for a 500 from the Agent Service', async () => {
    const handle = handleOf(
      await createStartResearch({ clients, config })(
        { runId: 'run-5', subtaskId: 's1', query: 'Azure OpenAI' },
        testContext('startResearch'),
      ),
    );
    await control('POST', '/_emulator/faults', { status: 500, count: 1, service: 'agents' });
    await expect(
      createPollResearch({ clients, config })(handle, testContext('pollResearch')),
    ).rejects.toThrow(RetryableError);
    await createCollectResearch({ clients, config })(handle, testContext('collectResearch'));
  });

  it('says research is not configured, and which settings enable it, when the project endpoint is unset', async () => {
    const plain = testConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
    const out = await createStartResearch({ clients: createClients(plain), config: plain })(
      { runId: 'run-6', subtaskId: 's1', query: 'anything' },
      testContext('startResearch'),
    );
    expect(out).toMatchObject({ ok: false, kind: 'permanent' });
    expect(!out.ok && out.message).toMatch(/not configured.*AZURE_AI_PROJECT_ENDPOINT.*BING_CONNECTION_ID/);
  });
});
