import { HttpRequest } from '@azure/functions';
import type { DurableOrchestrationStatus } from 'durable-functions';
import { runView } from '../../src/runView/view';

const request = new HttpRequest({ method: 'GET', url: 'http://127.0.0.1:7071/api/agent-runs/run-0001' });

function status(fields: Partial<DurableOrchestrationStatus>): DurableOrchestrationStatus {
  return {
    name: 'agentRunOrchestrator',
    instanceId: 'run-0001',
    createdTime: new Date('2026-11-01T00:00:00Z'),
    lastUpdatedTime: new Date('2026-11-01T00:00:05Z'),
    // A whole agent run input: the run view reads the input by its contract, as the orchestrator does.
    input: {
      runId: 'run-0001',
      owner: 'local-user',
      prompt: 'What is 2 + 2?',
      approval: { approvers: [], timeoutMinutes: 60, escalateTo: [] },
      maxTokens: 1000,
      model: 'auto',
      tools: [],
      research: null,
      researchAvailable: false,
      limits: { maxSubtasks: 2, maxToolTurns: 1, maxRevisions: 1 },
    },
    output: null,
    customStatus: null,
    ...fields,
  } as DurableOrchestrationStatus;
}

describe('runView', () => {
  it('shows a failed run with its message only, never the stack the host appends', () => {
    const view = runView(
      request,
      status({
        runtimeStatus: 'Failed' as DurableOrchestrationStatus['runtimeStatus'],
        output:
          "Orchestrator function 'agentRunOrchestrator' failed: boom\n    at run (/app/dist/src/x.js:1:2)",
      }),
    );
    expect(view.status).toBe('failed');
    expect(view).toMatchObject({ error: "Orchestrator function 'agentRunOrchestrator' failed: boom" });
    expect(JSON.stringify(view)).not.toContain('x.js');
  });

  it('shows the draft preview, who may decide and how to approve while the run waits for approval', () => {
    const view = runView(
      request,
      status({
        runtimeStatus: 'Running' as DurableOrchestrationStatus['runtimeStatus'],
        customStatus: {
          stage: 'awaiting-approval',
          progress: { done: 1, total: 1 },
          usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 },
          owner: 'local-user',
          approval: {
            round: 0,
            draftPreview: 'Four.',
            draftChars: 5,
            citationCount: 0,
            draftBlob: 'results/run-1/draft-0.json',
            deadline: '',
            escalated: false,
          },
        },
      }),
    );
    expect(view).toMatchObject({
      status: 'awaiting-approval',
      approval: {
        draft: 'Four.',
        draftBlob: 'results/run-1/draft-0.json',
        approvers: ['local-user'],
        howToApprove: { method: 'POST', url: `${request.url}/approval` },
      },
    });
  });

  it('shows nothing of an output or custom status that does not fit its contract', () => {
    const view = runView(
      request,
      status({
        runtimeStatus: 'Completed' as DurableOrchestrationStatus['runtimeStatus'],
        output: { outcome: 'completed', answer: 42, usage: { totalTokens: 'many' } },
        customStatus: { stage: 'dancing', owner: 'local-user', approval: { draftPreview: 'Four.' } },
      }),
    );
    expect(view).not.toHaveProperty('answer');
    expect(view).not.toHaveProperty('approval');
    expect(view.stage).toBe('done');
    expect(view.usage).toEqual({ promptTokens: 0, completionTokens: 0, totalTokens: 0 });
  });
});
