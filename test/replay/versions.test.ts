import { ActionType, flattenActions } from '../../devhost/src/durable/actions';
import { EventType } from '../../devhost/src/durable/history';
import type { RecordedHistory } from '../../scripts/recordHistories';
import { loadBuiltApp, readHistories } from './replay';

/**
 * A run keeps its version for life, and so must the children it starts. On the real host a
 * sub-orchestration started without a version gets the host's current `defaultVersion`, not its
 * parent's (devhost/src/durable/versions.ts cites the sources; devhost/test/fidelity.test.ts shows the
 * devhost doing the same across a restart with a new defaultVersion). So a run started on 1.0 that reaches
 * its fan-out after 1.1 is deployed must name 1.0 for its children itself, or it starts 1.1 children
 * whose steps its own history was not recorded with.
 */
const recorded = readHistories().find((h) => h.recorded.scenario === 'mid-fan-out')?.recorded;
if (!recorded) throw new Error('mid-fan-out history missing');

/** The history up to the plan's answer: the next episode is the one that fans out. */
function justBeforeFanOut(history: RecordedHistory): RecordedHistory {
  const firstChild = history.history.findIndex(
    (e) => e.EventType === EventType.SubOrchestrationInstanceCreated,
  );
  // The episode that created the children began with OrchestratorStarted and the plan's TaskCompleted.
  const episodeStart = history.history
    .slice(0, firstChild)
    .findLastIndex((e) => e.EventType === EventType.OrchestratorStarted);
  const answered = history.history.findIndex(
    (e, i) => i > episodeStart && e.EventType === EventType.TaskCompleted,
  );
  if (firstChild < 0 || episodeStart < 0 || answered < 0 || answered > firstChild) {
    throw new Error('mid-fan-out no longer has the shape this test cuts');
  }
  return { ...history, history: history.history.slice(0, answered + 1) };
}

describe('a run that fans out after a version bump', () => {
  let app: Awaited<ReturnType<typeof loadBuiltApp>>;

  beforeAll(async () => {
    app = await loadBuiltApp();
  });
  afterAll(() => app?.unload());

  it('starts its children on its own version (1.0), whatever the host now defaults to', async () => {
    const history = justBeforeFanOut(recorded);
    const started = history.history.find((e) => e.EventType === EventType.ExecutionStarted);
    expect(started?.Version).toBe('1.0');

    const outcome = await app.replay(history);

    expect(outcome.failure).toBeUndefined();
    const children = flattenActions(outcome.state?.actions?.[0] ?? []).filter(
      (a) =>
        a.actionType === ActionType.CallSubOrchestrator ||
        a.actionType === ActionType.CallSubOrchestratorWithRetry,
    );
    expect(children.length).toBeGreaterThan(0);
    for (const child of children) expect(child).toMatchObject({ version: '1.0' });
  });
});
