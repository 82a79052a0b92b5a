/**
 * `npm run record-histories`: records the histories the replay test (test/replay/) plays against the
 * orchestrators. Runs the built app under the devhost with Azurite and the AI emulators, drives agent
 * runs to the points where a real run waits for a long time (approval, a fan-out, research polling,
 * after a revision), and writes each instance's history at that point to test/replay/histories/.
 *
 * Re-record only when a change is meant to change what *new* runs do and the old histories keep
 * passing against a version branch; see the README section "Changing an orchestrator safely".
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MemoryStore, startDevHost } from '../devhost/src';
import { EventType, type HistoryEvent } from '../devhost/src/durable/history';
import { startOfflineBackends } from './offlineBackends';

const root = path.resolve(__dirname, '..', '..');
const outDir = path.join(root, 'test', 'replay', 'histories');

/** One recorded history: what the replay test feeds to the orchestrator. */
export interface RecordedHistory {
  scenario: string;
  description: string;
  orchestrator: string;
  instanceId: string;
  /** The version the instance started with (ExecutionStarted.Version); "" before versioning. */
  version: string;
  input: unknown;
  history: HistoryEvent[];
}

/** `v1.0` for version 1.0; `v0` for an instance started without a version. */
export function versionLabel(version: string): string {
  return `v${version === '' ? '0' : version}`;
}

async function main(): Promise<void> {
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    // Research runs take long enough that the research child is caught between polls.
    const backends = await startOfflineBackends({ agentRunDurationMs: 60_000 });
    stops.push(() => backends.stop());
    Object.assign(process.env, { ...backends.appSettings, AUTH_MODE: 'dev', TASK_HUB_NAME: 'recordhub' });
    const store = new MemoryStore();
    const host = await startDevHost({
      appDir: root,
      port: 0,
      store,
      logLevel: 'quiet',
      log: () => undefined,
    });
    stops.push(() => host.stop());

    const recorded: RecordedHistory[] = [];
    const snapshot = async (scenario: string, description: string, instanceId: string) => {
      const instance = await store.getInstance(instanceId);
      if (!instance) throw new Error(`No instance ${instanceId} to record for ${scenario}.`);
      const history = await store.getHistory(instanceId);
      const started = history.find((e) => e.EventType === EventType.ExecutionStarted);
      recorded.push({
        scenario,
        description,
        orchestrator: instance.name,
        instanceId,
        version: started?.Version ?? '',
        input: instance.input === null ? null : (JSON.parse(instance.input) as unknown),
        history,
      });
      console.log(`recorded ${scenario}: ${instance.name} ${instanceId}, ${history.length} events`);
    };

    const api = `${host.url}/api/agent-runs`;
    const start = async (body: Record<string, unknown>): Promise<string> => {
      const response = await fetch(api, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = (await response.json()) as { runId?: string };
      if (response.status !== 202 || !json.runId)
        throw new Error(`starting a run: ${response.status} ${JSON.stringify(json)}`);
      return json.runId;
    };
    const view = async (runId: string) =>
      (await (await fetch(`${api}/${runId}`)).json()) as { status?: string; approval?: { round?: number } };
    const until = async <T>(what: string, check: () => Promise<T | undefined>): Promise<T> => {
      const giveUpAt = Date.now() + 60_000;
      for (;;) {
        const value = await check();
        if (value !== undefined) return value;
        if (Date.now() > giveUpAt) throw new Error(`Timed out waiting for ${what}.`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    /** How many calls of an activity have completed in an instance's history. */
    const completedCalls = async (instanceId: string, name: string) => {
      const history = await store.getHistory(instanceId);
      const ids = new Set(
        history
          .filter((e) => e.EventType === EventType.TaskScheduled && e.Name === name)
          .map((e) => e.EventId),
      );
      return history.filter(
        (e) => e.EventType === EventType.TaskCompleted && ids.has(e.TaskScheduledId ?? -2),
      ).length;
    };

    // 1. Mid fan-out, and mid research polling in the research child.
    const fanOutRun = await start({
      prompt: 'What is 12 * 7 + 5? Also research the latest news on Azure Durable Functions.',
      research: true,
    });
    const researchChild = await until('a research child', async () => {
      for (const suffix of ['s1', 's2', 's3', 's4']) {
        const child = await store.getInstance(`${fanOutRun}-${suffix}`);
        if (child?.name === 'researchSubtaskOrchestrator') return child.instanceId;
      }
      return undefined;
    });
    await until('two research polls', async () => {
      return (await completedCalls(researchChild, 'pollResearch')) >= 2 ? true : undefined;
    });
    await snapshot(
      'mid-fan-out',
      'The run waits for its subtasks (one research child is still polling).',
      fanOutRun,
    );
    await snapshot(
      'mid-research-polling',
      'A research child between two polls of its Agent Service run.',
      researchChild,
    );

    // 2. Waiting for approval, then after a revision (waiting again, round 1).
    const approvalRun = await start({
      prompt: 'What is 10 * 10?',
      research: false,
      approval: { required: true, timeoutMinutes: 60 },
    });
    await until('approval', async () =>
      (await view(approvalRun)).status === 'awaiting-approval' ? true : undefined,
    );
    await snapshot('awaiting-approval', 'A run waiting for its first approval (round 0).', approvalRun);
    const rejected = await fetch(`${api}/${approvalRun}/approval`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'reject', round: 0, comment: 'Shorter, please.' }),
    });
    if (rejected.status !== 200) throw new Error(`rejecting: ${rejected.status} ${await rejected.text()}`);
    await until('the revised draft', async () => {
      const v = await view(approvalRun);
      return v.status === 'awaiting-approval' && v.approval?.round === 1 ? true : undefined;
    });
    await snapshot(
      'after-revision',
      'A run waiting for approval of its revised draft (round 1).',
      approvalRun,
    );

    // 3. A run whose plan is a plain answer (a model call with tools), for the answer child.
    const answerRun = await start({
      prompt: 'Explain briefly why orchestrators must be deterministic.',
      research: false,
    });
    await until('the answer run', async () =>
      (await view(answerRun)).status === 'completed' ? true : undefined,
    );

    // Answer and tool children of the runs, finished: replaying them checks their whole path.
    for (const childId of [1, 2, 3, 4].flatMap((n) =>
      [fanOutRun, approvalRun, answerRun].map((run) => `${run}-s${n}`),
    )) {
      const child = await store.getInstance(childId);
      const scenario = `${child?.name.replace(/Orchestrator$/, '')}-completed`;
      if (
        child &&
        child.name !== 'researchSubtaskOrchestrator' &&
        child.runtimeStatus === 'Completed' &&
        !recorded.some((r) => r.scenario === scenario)
      ) {
        await snapshot(
          `${child.name.replace(/Orchestrator$/, '')}-completed`,
          `A finished ${child.name} child.`,
          child.instanceId,
        );
      }
    }

    // Histories of other versions stay: they prove that runs started by older code still replay.
    mkdirSync(outDir, { recursive: true });
    const versions = new Set(recorded.map((r) => versionLabel(r.version)));
    for (const file of readdirSync(outDir)) {
      // <scenario>.<version label>.json; scenario names have no dots.
      const label = file.endsWith('.json') ? file.slice(file.indexOf('.') + 1, -'.json'.length) : '';
      if (versions.has(label)) rmSync(path.join(outDir, file));
    }
    for (const r of recorded) {
      const file = `${r.scenario}.${versionLabel(r.version)}.json`;
      writeFileSync(path.join(outDir, file), `${JSON.stringify(r, null, 2)}\n`);
    }
    console.log(`wrote ${recorded.length} histories to ${path.relative(root, outDir)}/`);
  } finally {
    await stopAll();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 1;
  });
}
