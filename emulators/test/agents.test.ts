import {
  AgentsClient,
  isOutputOfType,
  type MessageTextContent,
  type MessageTextUrlCitationAnnotation,
} from '@azure/ai-agents';
import { emulatorAgentsClient, emulatorCredential } from './loopbackAgents';
import { emulatorsForThisFile } from './support';

const runDurationMs = 400;
const emulated = emulatorsForThisFile({ agentRunDurationMs: runDurationMs });
let client: AgentsClient;

beforeAll(() => {
  client = emulatorAgentsClient(emulated.server.projectEndpoint);
});

const bingTool = {
  type: 'bing_grounding' as const,
  bingGrounding: { searchConfigurations: [{ connectionId: 'emulator-bing-connection' }] },
};

describe('the Agent Service through the real AgentsClient', () => {
  it('runs a Bing-grounded agent: queued, in progress, completed with usage, and a cited answer', async () => {
    const agent = await client.createAgent('gpt-4o', {
      name: 'researcher',
      instructions: 'Answer with sources.',
      tools: [bingTool],
    });
    expect(agent.id).toMatch(/^asst_/);
    expect(agent.tools[0]?.type).toBe('bing_grounding');

    const thread = await client.threads.create();
    await client.messages.create(
      thread.id,
      'user',
      'Research the latest news about Azure Durable Functions.',
    );
    const run = await client.runs.create(thread.id, agent.id);
    expect(run.status).toBe('queued');
    expect(run.createdAt).toBeInstanceOf(Date);

    const statuses = new Set<string>([run.status]);
    let current = run;
    while (current.status === 'queued' || current.status === 'in_progress') {
      await new Promise((resolve) => setTimeout(resolve, 40));
      current = await client.runs.get(thread.id, run.id);
      statuses.add(current.status);
    }
    expect([...statuses]).toEqual(['queued', 'in_progress', 'completed']);
    expect(current.usage?.totalTokens).toBeGreaterThan(0);
    expect(current.usage?.totalTokens).toBe(
      (current.usage?.promptTokens ?? 0) + (current.usage?.completionTokens ?? 0),
    );

    const messages = [];
    for await (const message of client.messages.list(thread.id, { order: 'asc' })) messages.push(message);
    expect(messages.map((m) => m.role)).toEqual(['user', 'assistant']);
    const answer = messages[1];
    expect(answer?.runId).toBe(run.id);
    const content = answer?.content[0];
    if (!content || !isOutputOfType<MessageTextContent>(content, 'text'))
      throw new Error('expected text content');
    const citations = content.text.annotations.filter(
      (a): a is MessageTextUrlCitationAnnotation => a.type === 'url_citation',
    );
    expect(citations.length).toBeGreaterThanOrEqual(2);
    expect(citations[0]?.urlCitation.url).toBe(
      'https://learn.microsoft.com/en-us/azure/azure-functions/durable/durable-functions-overview',
    );
    for (const citation of citations) {
      expect(citation.urlCitation.url).toMatch(/^https:\/\/(learn\.microsoft\.com|example\.(org|com))\//);
      expect(content.text.value.slice(citation.startIndex, citation.endIndex)).toBe(citation.text);
    }
    expect(content.text.value).toContain('Durable Functions');

    expect(await client.threads.delete(thread.id)).toMatchObject({ id: thread.id, deleted: true });
    expect(await client.deleteAgent(agent.id)).toMatchObject({ id: agent.id, deleted: true });
  });

  it('cites the same sources for the same question', async () => {
    const agent = await client.createAgent('gpt-4o', { tools: [bingTool] });
    const citationsFor = async () => {
      const run = await client.runs.createThreadAndRun(agent.id, {
        thread: { messages: [{ role: 'user', content: 'What is new in Azure Blob Storage?' }] },
      });
      await new Promise((resolve) => setTimeout(resolve, runDurationMs + 50));
      expect((await client.runs.get(run.threadId, run.id)).status).toBe('completed');
      const urls: string[] = [];
      for await (const message of client.messages.list(run.threadId, { runId: run.id })) {
        for (const part of message.content) {
          if (isOutputOfType<MessageTextContent>(part, 'text')) {
            for (const a of part.text.annotations)
              if (a.type === 'url_citation')
                urls.push((a as MessageTextUrlCitationAnnotation).urlCitation.url);
          }
        }
      }
      return urls;
    };
    const [first, second] = await Promise.all([citationsFor(), citationsFor()]);
    expect(first.length).toBeGreaterThan(0);
    expect(second).toEqual(first);
  });

  it('stops a run at its max_prompt_tokens or max_completion_tokens: incomplete, spent up to the limit', async () => {
    const agent = await client.createAgent('gpt-4o', { tools: [bingTool] });
    const ask = {
      thread: { messages: [{ role: 'user' as const, content: 'What is new in Azure Blob Storage?' }] },
    };
    const finished = async (run: { threadId: string; id: string }) => {
      await new Promise((resolve) => setTimeout(resolve, runDurationMs + 50));
      return client.runs.get(run.threadId, run.id);
    };
    const free = await finished(await client.runs.createThreadAndRun(agent.id, ask));
    expect(free.status).toBe('completed');
    const prompt = free.usage?.promptTokens ?? 0;
    const completion = free.usage?.completionTokens ?? 0;

    const promptBound = await finished(
      await client.runs.createThreadAndRun(agent.id, { ...ask, maxPromptTokens: prompt - 1 }),
    );
    expect(promptBound.status).toBe('incomplete');
    expect(promptBound.incompleteDetails?.reason).toBe('max_prompt_tokens');
    expect(promptBound.maxPromptTokens).toBe(prompt - 1);
    expect(promptBound.usage?.totalTokens).toBeLessThanOrEqual(prompt - 1);

    const completionBound = await finished(
      await client.runs.createThreadAndRun(agent.id, {
        ...ask,
        maxCompletionTokens: Math.max(256, completion - 1),
      }),
    );
    if (completion - 1 >= 256) {
      expect(completionBound.status).toBe('incomplete');
      expect(completionBound.incompleteDetails?.reason).toBe('max_completion_tokens');
      expect(completionBound.usage?.completionTokens).toBe(completion - 1);
      const messages = [];
      for await (const m of client.messages.list(completionBound.threadId)) messages.push(m.role);
      expect(messages).toEqual(['user']);
    } else {
      expect(completionBound.status).toBe('completed');
    }

    const roomy = await finished(
      await client.runs.createThreadAndRun(agent.id, {
        ...ask,
        maxPromptTokens: prompt,
        maxCompletionTokens: 4000,
      }),
    );
    expect(roomy.status).toBe('completed');
    await expect(
      client.runs.createThreadAndRun(agent.id, { ...ask, maxPromptTokens: 10 }),
    ).rejects.toMatchObject({ statusCode: 400 });
  });

  it('refuses a second run while one is active, as the service does', async () => {
    const agent = await client.createAgent('gpt-4o');
    const run = await client.runs.createThreadAndRun(agent.id, {
      thread: { messages: [{ role: 'user', content: 'hi' }] },
    });
    await expect(client.runs.create(run.threadId, agent.id)).rejects.toMatchObject({ statusCode: 400 });
    expect((await client.runs.cancel(run.threadId, run.id)).status).toBe('cancelling');
    // Still active while it is cancelling.
    await expect(client.runs.create(run.threadId, agent.id)).rejects.toMatchObject({ statusCode: 400 });
  });

  it('cancels a run in progress: cancelling, then cancelled, with the tokens it had spent', async () => {
    const agent = await client.createAgent('gpt-4o', { tools: [bingTool] });
    const run = await client.runs.createThreadAndRun(agent.id, {
      thread: { messages: [{ role: 'user', content: 'What is new in Azure Blob Storage?' }] },
    });
    let current = run;
    while (current.status === 'queued') {
      await new Promise((resolve) => setTimeout(resolve, 20));
      current = await client.runs.get(run.threadId, run.id);
    }
    expect(current.status).toBe('in_progress');
    const cancelling = await client.runs.cancel(run.threadId, run.id);
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.cancelledAt).toBeNull();
    // A second cancel is refused, as the service refuses a run that is no longer going.
    await expect(client.runs.cancel(run.threadId, run.id)).rejects.toMatchObject({ statusCode: 400 });
    while (current.status !== 'cancelled') {
      await new Promise((resolve) => setTimeout(resolve, 40));
      current = await client.runs.get(run.threadId, run.id);
      expect(['cancelling', 'cancelled']).toContain(current.status);
    }
    expect(current.cancelledAt).toBeInstanceOf(Date);
    // It read the thread and the search results; it had not finished its answer, and never will.
    expect(current.usage?.promptTokens).toBeGreaterThan(0);
    expect(current.usage?.totalTokens).toBe(
      (current.usage?.promptTokens ?? 0) + (current.usage?.completionTokens ?? 0),
    );
    await new Promise((resolve) => setTimeout(resolve, runDurationMs));
    const later = await client.runs.get(run.threadId, run.id);
    expect(later.status).toBe('cancelled');
    expect(later.usage).toEqual(current.usage);
    const roles: string[] = [];
    for await (const message of client.messages.list(run.threadId)) roles.push(message.role);
    expect(roles).toEqual(['user']);
  });

  it('cancels a queued run: it spent nothing', async () => {
    const agent = await client.createAgent('gpt-4o');
    const run = await client.runs.createThreadAndRun(agent.id, {
      thread: { messages: [{ role: 'user', content: 'hi' }] },
    });
    expect(run.status).toBe('queued');
    const cancelling = await client.runs.cancel(run.threadId, run.id);
    expect(cancelling.status).toBe('cancelling');
    expect(cancelling.startedAt).toBeNull();
    expect(cancelling.usage).toEqual({ promptTokens: 0, completionTokens: 0, totalTokens: 0 });
  });

  it('answers 404 for unknown ids', async () => {
    await expect(client.runs.get('thread_nope', 'run_nope')).rejects.toMatchObject({ statusCode: 404 });
    await expect(client.threads.delete('thread_nope')).rejects.toMatchObject({ statusCode: 404 });
    await expect(client.deleteAgent('asst_nope')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('answers 401 without a bearer token, with the error in Azure shape', async () => {
    const response = await fetch(`${emulated.server.projectEndpoint}/assistants?api-version=v1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o' }),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: { code: 'Unauthorized', message: expect.any(String) as string },
    });
  });

  it('cannot be reached over plain http by the SDK without the recipe: its bearer policy refuses', async () => {
    const plain = new AgentsClient(emulated.server.projectEndpoint, emulatorCredential);
    await expect(plain.createAgent('gpt-4o')).rejects.toThrow(/non-TLS|https/);
  });
});
