import { randomUUID } from 'node:crypto';
import { SqliteStore } from '../../devhost/src/durable/sqlite-store';
import type { OrchestrationRecord, RuntimeStatus } from '../../devhost/src/durable/store';
import type { AgentRunInput, AgentRunResult, AgentRunStatus } from '../../src/contracts/agentRun';
import { orchestratorNames } from '../../src/names';

/**
 * Fills a stopped devhost's SQLite store with agent-run instances as the product leaves them (input,
 * custom status, and the result of a completed run), to measure what the list and the reconciler cost
 * against a task hub of a given size without running each run. The records are what the devhost itself
 * stores for a finished run; their histories are empty, since nothing here replays them.
 */

export interface SeededRun {
  runId: string;
  owner: string;
  /** The starter's request time, which the run index orders by. */
  requestedAt: string;
  prompt: string;
  runtimeStatus: RuntimeStatus;
}

const usage = { promptTokens: 120, completionTokens: 80, totalTokens: 200 };

export function seededRun(
  owner: string,
  requestedAt: Date,
  runtimeStatus: RuntimeStatus = 'Completed',
  runId: string = randomUUID(),
): SeededRun {
  return {
    runId,
    owner,
    requestedAt: requestedAt.toISOString(),
    prompt: `What is ${requestedAt.getTime() % 97} + 5? Seeded for a measurement.`,
    runtimeStatus,
  };
}

function record(run: SeededRun): OrchestrationRecord {
  const input: AgentRunInput = {
    runId: run.runId,
    owner: run.owner,
    requestedAt: run.requestedAt,
    prompt: run.prompt,
    approval: null,
    maxTokens: 20000,
    model: 'auto',
    tools: ['calculator'],
    research: null,
    researchAvailable: false,
    limits: { maxSubtasks: 8, maxToolTurns: 6, maxRevisions: 3 },
  };
  const finished = new Date(Date.parse(run.requestedAt) + 4000).toISOString();
  const custom: AgentRunStatus = {
    stage: run.runtimeStatus === 'Completed' ? 'done' : 'working',
    progress: { done: 1, total: 1 },
    usage,
    owner: run.owner,
  };
  const result: AgentRunResult = {
    runId: run.runId,
    owner: run.owner,
    outcome: 'completed',
    prompt: run.prompt,
    answer: 'The answer is seeded.',
    citations: [],
    subtasks: [],
    usage,
    approval: { required: false, rounds: 0, escalated: false },
    startedAt: run.requestedAt,
    finishedAt: finished,
  };
  const output =
    run.runtimeStatus === 'Completed'
      ? JSON.stringify(result)
      : run.runtimeStatus === 'Terminated'
        ? JSON.stringify('terminated for a measurement')
        : run.runtimeStatus === 'Failed'
          ? JSON.stringify('failed for a measurement')
          : null;
  return {
    instanceId: run.runId,
    name: orchestratorNames.agentRun,
    executionId: randomUUID(),
    runtimeStatus: run.runtimeStatus,
    input: JSON.stringify(input),
    output,
    customStatus: JSON.stringify(custom),
    createdTime: run.requestedAt,
    lastUpdatedTime: run.runtimeStatus === 'Running' ? run.requestedAt : finished,
    version: '1.0',
    nextEventId: 0,
    actionCursor: 0,
    retries: {},
    openTimers: {},
  };
}

/** Writes the runs into the store in `dataDir` (the devhost must not be running on it). */
export async function seedHub(dataDir: string, runs: SeededRun[]): Promise<void> {
  const store = new SqliteStore(dataDir);
  try {
    for (let i = 0; i < runs.length; i += 1000) {
      await Promise.all(runs.slice(i, i + 1000).map((run) => store.createInstance(record(run))));
    }
  } finally {
    await store.close();
  }
}
