import { setTimeout as sleep } from 'node:timers/promises';
import { startEmulators } from '../../../emulators/src';
import {
  createCollectResearch,
  createPollResearch,
  createStartResearch,
  researchAgentFor,
} from '../../../src/activities/research';
import { createClients, type AppClients } from '../../../src/clients';
import type { AppConfig } from '../../../src/config';
import type {
  PollResearchOutput,
  ResearchHandle,
  StartResearchOutput,
} from '../../../src/contracts/research';
import { RetryableError } from '../../../src/lib/errors';
import type { Azurite } from '../../../scripts/azurite';
import { emulatorControl, startTestAzurite, testConfig, testContext } from './support';

type Emulators = Awaited<ReturnType<typeof startEmulators>>;

const runDurationMs = 600;

describe('research activities against the Agent Service emulator', () => {
  let emulators: Emulators;
  let azurite: Azurite;
  let settings: Record<string, string>;
  let config: AppConfig;
  let clients: AppClients;

  beforeAll(async () => {
    // Collection keeps each result in Blob Storage, so these tests need Azurite too.
    azurite = await startTestAzurite();
    emulators = await startEmulators({ port: 0, agentRunDurationMs: runDurationMs });
    settings = {
      AzureWebJobsStorage: azurite.connectionString,
      AZURE_OPENAI_ENDPOINT: emulators.openaiEndpoint,
      AZURE_OPENAI_API_KEY: emulators.apiKey,
      AZURE_AI_PROJECT_ENDPOINT: emulators.projectEndpoint,
      BING_CONNECTION_ID: 'emulator-bing-connection',
    };
    config = testConfig(settings);
    clients = createClients(config);
  });
  afterAll(async () => {
    await emulators?.stop();
    await azurite?.stop();
  });
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
      runId: 'run-1',
      subtaskId: 's1',
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

  it('creates the Bing-grounded agent once per configuration, on the fast deployment, and reuses it across processes', async () => {
    // A configuration no other test uses, so this test sees its agent created.
    const own = testConfig({ ...settings, BING_CONNECTION_ID: 'bing-connection-agent-test' });
    const start = createStartResearch({ clients, config: own });
    const a = handleOf(
      await start({ runId: 'run-2b', subtaskId: 's1', query: 'Azure Blob Storage tiers' }, testContext('s')),
    );
    const b = handleOf(
      await start({ runId: 'run-2b', subtaskId: 's2', query: 'Azure Functions Flex' }, testContext('s')),
    );
    // Another process (a new factory, as after a restart or on a second instance) finds the same agent.
    const c = handleOf(
      await createStartResearch({ clients, config: own })(
        { runId: 'run-2b', subtaskId: 's3', query: 'Azure Storage queues' },
        testContext('s'),
      ),
    );

    expect(b.agentId).toBe(a.agentId);
    expect(c.agentId).toBe(a.agentId);
    expect((await operations()).filter((o) => o === 'createAgent')).toHaveLength(1);
    const agent = await clients.agents?.getAgent(a.agentId);
    const definition = researchAgentFor('gpt-4o-mini', 'bing-connection-agent-test');
    expect(agent).toMatchObject({ name: definition.name, model: 'gpt-4o-mini' });
    expect(JSON.stringify(agent?.tools)).toContain('bing_grounding');
    expect(JSON.stringify(agent?.tools)).toContain('bing-connection-agent-test');
    // A changed definition is a new agent, not a silent edit of the one older runs use.
    expect(researchAgentFor('gpt-4o-mini', 'emulator-bing-connection').name).not.toBe(definition.name);
    expect(researchAgentFor('gpt-4o', 'bing-connection-agent-test').name).not.toBe(definition.name);

    const collect = createCollectResearch({ clients, config });
    for (const handle of [a, b, c]) await collect(handle, testContext('c'));
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

  it('reports what a run stopped in progress had spent, as its cancel says', async () => {
    const handle = handleOf(
      await createStartResearch({ clients, config })(
        { runId: 'run-3b', subtaskId: 's1', query: 'Azure AI Foundry agents' },
        testContext('startResearch'),
      ),
    );
    const poll = createPollResearch({ clients, config });
    for (;;) {
      const polled = await poll(handle, testContext('pollResearch'));
      if (!polled.ok) throw new Error(`poll failed: ${JSON.stringify(polled)}`);
      // In progress, the run reports no usage yet; the cancel does.
      if (polled.value.status === 'in_progress') {
        expect(polled.value.usage).toBeUndefined();
        break;
      }
      expect(polled.value.status).toBe('queued');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const collected = await createCollectResearch({ clients, config })(
      handle,
      testContext('collectResearch'),
    );
    expect(collected.ok && collected.value.usage.promptTokens).toBeGreaterThan(0);
    expect((await operations()).filter((o) => o === 'cancelRun')).toHaveLength(1);
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
  describe('safe to run twice', () => {
    const start = () => createStartResearch({ clients, config });
    const collect = () => createCollectResearch({ clients, config });
    const threadsOf = async (runId: string) => {
      const found: string[] = [];
      for await (const t of clients.agents?.threads.list({ order: 'desc', limit: 100 }) ?? []) {
        if (t.metadata?.agentRunId === runId) found.push(t.id);
      }
      return found;
    };

    it('startResearch run twice finds the thread and run of the first attempt', async () => {
      const input = { runId: 'twice-1', subtaskId: 's1', query: 'Azure Durable Functions versioning' };
      const first = handleOf(await start()(input, testContext('startResearch')));
      const second = handleOf(await start()(input, testContext('startResearch')));
      expect(second).toEqual(first);
      expect((await operations()).filter((o) => o === 'createThreadAndRun')).toHaveLength(1);
      expect(await threadsOf('twice-1')).toEqual([first.threadId]);
      await collect()(first, testContext('collectResearch'));
    });

    it('startResearch whose reply was lost is retried without a second thread or run', async () => {
      await control('POST', '/_emulator/faults', {
        lostReply: true,
        service: 'agents',
        path: '/threads/runs',
      });
      const input = { runId: 'twice-2', subtaskId: 's1', query: 'Azure AI Foundry agents' };
      // The run was created, but the activity cannot know: a transient fault, retried by Durable.
      await expect(start()(input, testContext('startResearch'))).rejects.toThrow(RetryableError);
      const retried = handleOf(await start()(input, testContext('startResearch')));

      const ops = await operations();
      expect(ops.filter((o) => o === 'createThreadAndRun')).toHaveLength(1);
      expect(ops.filter((o) => o === 'createRun')).toHaveLength(0);
      expect(await threadsOf('twice-2')).toEqual([retried.threadId]);
      // The handle found on the retry polls the run the first attempt started.
      expect((await pollUntilDone(retried)).at(-1)).toMatchObject({
        ok: true,
        value: { status: 'completed' },
      });
      await collect()(retried, testContext('collectResearch'));
    });

    it('the agent whose creation reply was lost is found by name, not created again', async () => {
      const own = testConfig({ ...settings, BING_CONNECTION_ID: 'bing-connection-lost-agent' });
      await control('POST', '/_emulator/faults', {
        lostReply: true,
        service: 'agents',
        method: 'POST',
        path: '/assistants',
      });
      const input = { runId: 'twice-3', subtaskId: 's1', query: 'Azure Functions Flex Consumption' };
      await expect(createStartResearch({ clients, config: own })(input, testContext('s'))).rejects.toThrow(
        RetryableError,
      );
      const handle = handleOf(await createStartResearch({ clients, config: own })(input, testContext('s')));

      expect((await operations()).filter((o) => o === 'createAgent')).toHaveLength(1);
      const name = researchAgentFor('gpt-4o-mini', 'bing-connection-lost-agent').name;
      const named: string[] = [];
      for await (const a of clients.agents?.listAgents() ?? []) if (a.name === name) named.push(a.id);
      expect(named).toEqual([handle.agentId]);
      await collect()(handle, testContext('collectResearch'));
    });

    it('two processes creating the agent at the same moment settle on one and delete the other', async () => {
      const own = testConfig({ ...settings, BING_CONNECTION_ID: 'bing-connection-race' });
      const [a, b] = await Promise.all(
        ['s1', 's2'].map(async (subtaskId) =>
          handleOf(
            await createStartResearch({ clients, config: own })(
              { runId: 'twice-race', subtaskId, query: 'Azure Container Apps' },
              testContext('s'),
            ),
          ),
        ),
      );
      expect(b?.agentId).toBe(a?.agentId);
      const name = researchAgentFor('gpt-4o-mini', 'bing-connection-race').name;
      const named: string[] = [];
      for await (const agent of clients.agents?.listAgents() ?? [])
        if (agent.name === name) named.push(agent.id);
      expect(named).toEqual([a?.agentId]);
      // Every agent created beyond the one kept was deleted again.
      const ops = await operations();
      expect(ops.filter((o) => o === 'deleteAgent')).toHaveLength(
        ops.filter((o) => o === 'createAgent').length - 1,
      );
      for (const handle of [a, b]) if (handle) await collect()(handle, testContext('c'));
    });

    it('collectResearch run again after the thread is gone gives the same answer', async () => {
      const handle = handleOf(
        await start()({ runId: 'twice-4', subtaskId: 's2', query: 'Azure Blob Storage' }, testContext('s')),
      );
      await pollUntilDone(handle);
      // The delete is applied but its reply lost: the first attempt cannot tell the thread is gone.
      await control('POST', '/_emulator/faults', { lostReply: true, service: 'agents', method: 'DELETE' });
      const first = await collect()(handle, testContext('collectResearch'));
      if (!first.ok) throw new Error(JSON.stringify(first));
      expect(first.value.citations.length).toBeGreaterThan(0);
      expect(await threadsOf('twice-4')).toEqual([]);

      await control('POST', '/_emulator/reset');
      const again = await collect()(handle, testContext('collectResearch'));
      expect(again).toEqual(first);
      // Answered from what the first collection kept: the thread was not read again.
      expect(await operations()).not.toContain('listMessages');
      expect(await operations()).not.toContain('getRun');
    });

    it('a handle from before results were kept (no runId) is collected as before', async () => {
      const {
        runId: _runId,
        subtaskId: _subtaskId,
        ...legacy
      } = handleOf(
        await start()({ runId: 'twice-5', subtaskId: 's1', query: 'Azure OpenAI' }, testContext('s')),
      );
      await pollUntilDone(legacy);
      const collected = await collect()(legacy, testContext('collectResearch'));
      expect(collected).toMatchObject({ ok: true });
      // Without a key nothing was kept, so a rerun after the delete fails as a permanent 404.
      expect(await collect()(legacy, testContext('collectResearch'))).toMatchObject({
        ok: false,
        status: 404,
      });
    });
  });
});
