import { HttpRequest } from '@azure/functions';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { DurableOrchestrationStatus } from 'durable-functions';
import type { Azurite } from '../../../scripts/azurite';
import type { AgentRunStatus } from '../../../src/contracts/agentRun';
import { RunEventLog } from '../../../src/functions/eventLog';
import { answerBlobName } from '../../../src/names';
import { startTestAzurite } from '../activities/support';

/** The event log against real Blob Storage (Azurite): several streams writing one log. */

let azurite: Azurite;
let container: ContainerClient;
const request = new HttpRequest({ url: 'http://127.0.0.1:7071/api/agent-runs/x/events', method: 'GET' });

beforeAll(async () => {
  azurite = await startTestAzurite();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('results');
  await container.createIfNotExists();
});
afterAll(async () => {
  await azurite?.stop();
});

function status(runId: string, at: number, custom: Partial<AgentRunStatus>): DurableOrchestrationStatus {
  const customStatus: AgentRunStatus = {
    stage: 'planning',
    progress: { done: 0, total: 0 },
    usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
    owner: 'someone',
    ...custom,
  };
  return {
    name: 'agentRun',
    instanceId: runId,
    createdTime: new Date(0),
    lastUpdatedTime: new Date(at),
    input: { owner: 'someone' },
    output: null,
    runtimeStatus: 'Running',
    customStatus,
  } as unknown as DurableOrchestrationStatus;
}

const brief = (events: { id: number; event: string }[]) => events.map((e) => `${e.id} ${e.event}`);

describe('RunEventLog', () => {
  it("lets two streams write one log: the second takes the first one's lines, with their ids, and adds none", async () => {
    const a = new RunEventLog(container, 'log-run-1');
    const b = new RunEventLog(container, 'log-run-1');
    expect(await a.read()).toEqual([]);
    expect(await b.read()).toEqual([]);
    const planning = status('log-run-1', 1000, { stage: 'planning' });

    const fromA = await a.observe(request, planning);
    expect(brief(fromA)).toEqual(['1 stage', '2 usage']);
    // b read the log when it was empty: its append at position 0 is refused, so it sends a's lines.
    expect(brief(await b.observe(request, planning))).toEqual(brief(fromA));

    const working = status('log-run-1', 2000, {
      stage: 'working',
      subtasks: [{ id: 's1', kind: 'answer', title: 'Answer', state: 'pending' }],
      usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
    });
    const fromB = await b.observe(request, working);
    expect(brief(fromB)).toEqual(['3 stage', '4 subtask', '5 usage']);
    expect(brief(await a.observe(request, working))).toEqual(brief(fromB));
    // A stream that saw an older status writes nothing.
    expect(await a.observe(request, planning)).toEqual([]);

    // A fresh reader (a reconnect, another instance, a restarted host) gets the same log.
    const c = new RunEventLog(container, 'log-run-1');
    expect(brief(await c.read())).toEqual(['1 stage', '2 usage', '3 stage', '4 subtask', '5 usage']);
    const text = (await container.getBlobClient('log-run-1/events.jsonl').downloadToBuffer()).toString();
    expect(text.trim().split('\n')).toHaveLength(2);
  });

  it('logs an answer as it grows, starts a newer attempt over, and ends it before the next stage', async () => {
    const runId = 'log-run-2';
    const log = new RunEventLog(container, runId);
    const append = async (attempt: number, text: string) => {
      const blob = container.getAppendBlobClient(answerBlobName(runId, 0, attempt));
      await blob.createIfNotExists();
      await blob.appendBlock(text, Buffer.byteLength(text));
    };
    const synthesizing = status(runId, 1000, { stage: 'synthesizing' });
    await append(1, 'Twelve ');
    expect(brief(await log.observe(request, synthesizing))).toEqual(['1 stage', '2 usage', '3 answer.delta']);
    await append(1, 'times');
    const more = await log.observe(request, synthesizing);
    expect(more.map((e) => e.data)).toEqual([{ round: 0, attempt: 1, offset: 7, text: 'times' }]);
    await append(2, 'Twelve times seven');
    const retried = await log.observe(request, synthesizing);
    expect(retried.map((e) => [e.event, e.data])).toEqual([
      ['answer.reset', { round: 0, attempt: 2 }],
      ['answer.delta', { round: 0, attempt: 2, offset: 0, text: 'Twelve times seven' }],
    ]);
    await append(2, ' is 84.');
    const saving = await log.observe(request, status(runId, 2000, { stage: 'saving' }));
    expect(saving.map((e) => e.event)).toEqual(['answer.delta', 'stage']);
    expect(saving[0]?.data).toMatchObject({ offset: 18, text: ' is 84.' });
    expect(await log.observe(request, status(runId, 2000, { stage: 'saving' }))).toEqual([]);
  });

  it('during a revision, passes on only the new round, not the text of the draft already offered', async () => {
    const runId = 'log-run-3';
    const log = new RunEventLog(container, runId);
    const write = async (round: number, text: string) => {
      const blob = container.getAppendBlobClient(answerBlobName(runId, round, 1));
      await blob.createIfNotExists();
      await blob.appendBlock(text, Buffer.byteLength(text));
    };
    await write(0, 'The first draft.');
    const offered = status(runId, 1000, {
      stage: 'awaiting-approval',
      approval: {
        round: 0,
        draftPreview: 'The first draft.',
        draftChars: 16,
        citationCount: 0,
        draftBlob: `results/${runId}/draft-0.json`,
        deadline: new Date(60_000).toISOString(),
        escalated: false,
      },
    });
    expect((await log.observe(request, offered)).map((e) => e.event)).toContain('draft');
    const revising = status(runId, 2000, { stage: 'revising' });
    // The revision's blob does not exist yet: nothing of round 0 comes back.
    expect((await log.observe(request, revising)).map((e) => e.event)).toEqual(['stage']);
    await write(1, 'The second');
    const grown = await log.observe(request, revising);
    expect(grown.map((e) => [e.event, e.data])).toEqual([
      ['answer.delta', { round: 1, attempt: 1, offset: 0, text: 'The second' }],
    ]);
  });
});
