import { EventType } from '../../devhost/src/durable/history';
import { loadBuiltApp, readHistories, recordedSteps, replayMismatch } from './replay';

/**
 * Recorded histories (test/replay/histories/, written by `npm run record-histories`) replayed against
 * the built orchestrators: a change that would break a run waiting at one of those points fails here,
 * with a message that says how to version it. See README.md, "Changing an orchestrator safely".
 */
const histories = readHistories();

describe('recorded histories replay against the current orchestrators', () => {
  let app: Awaited<ReturnType<typeof loadBuiltApp>>;

  beforeAll(async () => {
    app = await loadBuiltApp();
  });
  afterAll(() => app?.unload());

  it('has the histories of every interesting waiting point', () => {
    const scenarios = histories.map((h) => h.recorded.scenario);
    expect(scenarios).toEqual(
      expect.arrayContaining(['awaiting-approval', 'mid-fan-out', 'mid-research-polling', 'after-revision']),
    );
    for (const { recorded } of histories) {
      // A history that scheduled nothing would check nothing.
      expect(recordedSteps(recorded.history).length).toBeGreaterThan(0);
      expect(recorded.history.some((e) => e.EventType === EventType.ExecutionStarted)).toBe(true);
    }
  });

  it.each(histories.map((h) => [h.file, h] as const))('%s replays step for step', async (_file, h) => {
    const outcome = await app.replay(h.recorded);
    const mismatch = replayMismatch(h.file, h.recorded, outcome);
    if (mismatch !== null) throw new Error(mismatch);
  });
});

describe('the replay check itself', () => {
  const [first] = histories.filter((h) => h.recorded.scenario === 'after-revision');
  if (!first) throw new Error('after-revision history missing');

  it('names the step that changed and says how to version the change', () => {
    const expected = recordedSteps(first.recorded.history);
    const index = expected.findIndex((s) => s.kind === 'activity');
    const changed = expected.map((s, i) => (i === index ? { ...s, name: 'someOtherActivity' } : s));
    const produced = {
      isDone: false,
      actions: [
        changed.map((s) =>
          s.kind === 'activity'
            ? { actionType: 1, functionName: s.name }
            : s.kind === 'timer'
              ? { actionType: 5, fireAt: '2030-01-01T00:00:00.000Z', isCanceled: false }
              : s.kind === 'entity'
                ? { actionType: 7, operation: s.name, instanceId: s.instanceId }
                : { actionType: 2, functionName: s.name, instanceId: s.instanceId },
        ),
      ],
    };
    const message = replayMismatch(first.file, first.recorded, { state: produced });
    expect(message).toContain(`step ${index}`);
    expect(message).toContain('was activity callModel');
    expect(message).toContain('now schedules activity someOtherActivity');
    expect(message).toContain('host.json durableTask.defaultVersion and currentOrchestrationVersion');
    expect(message).toContain('versionAtLeast(context');
  });

  it('fails a history whose steps the code no longer reaches', () => {
    const message = replayMismatch(first.file, first.recorded, { state: { isDone: true, actions: [[]] } });
    expect(message).toMatch(/step 0 .* now schedules nothing there/);
  });
});
