import { isOutputOfType, type MessageTextContent } from '@azure/ai-agents';
import { clipPhrase, topicOf } from '../src/openai/topics';
import { emulatorAgentsClient } from './loopbackAgents';
import { plan } from './productShapes';
import { emulatorsForThisFile } from './support';

/**
 * Research subjects are clean noun phrases: the emulated research agent names what was asked, never a
 * title cut after "and", and the planner's titles are cut between words.
 */

const emulated = emulatorsForThisFile({ agentRunDurationMs: 200 });

describe('the subject of a research request', () => {
  it.each([
    [
      'Research the latest news on serverless platforms and compare them with containers.',
      'serverless platforms',
    ],
    ['Research the latest news on serverless platforms and...', 'serverless platforms'],
    ['Research serverless platforms and their cold start times', 'serverless platforms'],
    [
      'Research recent discoveries by the James Webb Space Telescope and what they mean for cosmology.',
      'discoveries by the James Webb Space Telescope',
    ],
    ['Look up what Azure Container Apps is used for.', 'Azure Container Apps'],
    ['Find the latest news about AI regulation in the EU this year.', 'AI regulation in the EU'],
    ['Summarize what Azure Blob Storage is for.', 'Azure Blob Storage'],
    ['Then research the latest news on Azure Durable Functions.', 'Azure Durable Functions'],
    [
      'Research the request\nWhat are the best practices for running Kubernetes clusters cheaply at scale on spot instances across regions?',
      'the best practices for running Kubernetes clusters cheaply at scale',
    ],
  ])('%j is about %j', (query, topic) => {
    expect(topicOf(query)).toBe(topic);
  });

  it('never ends on a word that needs another after it', () => {
    for (const query of [
      'Research the effects of remote work on productivity in small software companies across Europe and Asia',
      'Research how large language model providers price their APIs per token across OpenAI, Anthropic, Google and Mistral',
      'Look into the history of the',
    ]) {
      expect(topicOf(query)).not.toMatch(/\b(?:and|or|of|the|a|an|for|with|in|on|to|across|per|by)$/i);
      expect(topicOf(query).split(' ').length).toBeLessThanOrEqual(10);
    }
  });

  it('cuts a title between words, without a dangling word', () => {
    expect(
      clipPhrase('Research the latest news on serverless platforms and their cold start times', 60),
    ).toBe('Research the latest news on serverless platforms...');
  });

  it('the emulated research agent, through the real AgentsClient, names the subject cleanly', async () => {
    const client = emulatorAgentsClient(emulated.server.projectEndpoint);
    const agent = await client.createAgent('gpt-4o', {
      name: 'researcher',
      instructions: 'Answer with sources.',
      tools: [
        { type: 'bing_grounding', bingGrounding: { searchConfigurations: [{ connectionId: 'bing' }] } },
      ],
    });
    const run = await client.runs.createThreadAndRun(agent.id, {
      thread: {
        messages: [
          {
            role: 'user',
            content:
              'Research the latest news on serverless platforms and...\nResearch the latest news on serverless platforms and compare them with containers.',
          },
        ],
      },
    });
    let status = run.status;
    while (status === 'queued' || status === 'in_progress') {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await client.runs.get(run.threadId, run.id)).status;
    }
    const messages = [];
    for await (const message of client.messages.list(run.threadId)) messages.push(message);
    const text = messages
      .filter((m) => m.role === 'assistant')
      .flatMap((m) => m.content.filter((c) => isOutputOfType<MessageTextContent>(c, 'text')))
      .map((c) => c.text.value)
      .join('\n');
    expect(text).toContain('Here is what current sources say about serverless platforms.');
    expect(text).not.toMatch(/platforms and\b/);
  });

  it("the planner's research title keeps the request's words, cut between words", async () => {
    const subtasks = await plan(
      emulated.openai,
      'Research how large language model providers price their APIs per token across OpenAI, Anthropic, Google, Mistral, Cohere and the open-weight hosts in 2025.',
    );
    expect(subtasks[0]?.kind).toBe('research');
    expect(subtasks[0]?.title).toMatch(/^Research how large language model providers price .*\w\.\.\.$/);
    expect(subtasks[0]?.title).not.toMatch(/\b(?:and|the|in)\.\.\.$/);
  });
});
