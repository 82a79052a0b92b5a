import { EventType, type HistoryEvent } from '../../devhost/src/durable/history';
import type { RecordedHistory } from '../../scripts/recordHistories';
import {
  agentRunStatusSchema,
  checked,
  subtaskResultSchema,
  subtaskStatusSchema,
} from '../../src/contracts/orchestrations';
import { loadBuiltApp, readHistories } from './replay';

/**
 * The orchestrators check what they read back from their history: a recorded history with one value
 * made malformed is replayed through the real durable-functions SDK, and the run refuses it with a
 * message naming the field, instead of reading a cast value. Each case fails if its check is removed.
 */
const histories = readHistories();

function history(scenario: string): RecordedHistory {
  const found = histories.find((h) => h.recorded.scenario === scenario);
  if (!found) throw new Error(`history ${scenario} missing`);
  return found.recorded;
}

/** The history with the result of the first completed task named `name` changed by `change`. */
function withTaskResult(
  recorded: RecordedHistory,
  name: string,
  change: (result: Record<string, unknown>) => unknown,
): RecordedHistory {
  const scheduled = recorded.history.find((e) => e.EventType === EventType.TaskScheduled && e.Name === name);
  if (!scheduled) throw new Error(`no ${name} in ${recorded.scenario}`);
  return withEvent(
    recorded,
    (e) => e.EventType === EventType.TaskCompleted && e.TaskScheduledId === scheduled.EventId,
    (e) => ({
      ...e,
      Result: JSON.stringify(change(JSON.parse(e.Result ?? 'null') as Record<string, unknown>)),
    }),
  );
}

/** The history with the entity's reply to the first `op` call changed by `change`. */
function withEntityReply(
  recorded: RecordedHistory,
  op: string,
  change: (reply: Record<string, unknown>) => unknown,
): RecordedHistory {
  const sent = recorded.history.find(
    (e) => e.EventType === EventType.EventSent && (JSON.parse(e.Input ?? '{}') as { op?: string }).op === op,
  );
  if (!sent) throw new Error(`no entity call ${op} in ${recorded.scenario}`);
  const requestId = (JSON.parse(sent.Input ?? '{}') as { id: string }).id;
  return withEvent(
    recorded,
    (e) => e.EventType === EventType.EventRaised && e.Name === requestId,
    (e) => {
      const envelope = JSON.parse(e.Input ?? '{}') as { result: string };
      const reply = JSON.parse(envelope.result) as Record<string, unknown>;
      return { ...e, Input: JSON.stringify({ ...envelope, result: JSON.stringify(change(reply)) }) };
    },
  );
}

function withEvent(
  recorded: RecordedHistory,
  matches: (e: HistoryEvent) => boolean,
  change: (e: HistoryEvent) => HistoryEvent,
): RecordedHistory {
  const at = recorded.history.findIndex(matches);
  if (at < 0) throw new Error(`no such event in ${recorded.scenario}`);
  return { ...recorded, history: recorded.history.map((e, i) => (i === at ? change(e) : e)) };
}

describe('orchestrators refuse malformed durable values on replay', () => {
  let app: Awaited<ReturnType<typeof loadBuiltApp>>;

  beforeAll(async () => {
    app = await loadBuiltApp();
  });
  afterAll(() => app?.unload());

  /** What a replay ends with: the error it threw, or its output when it finished. */
  async function replayed(
    recorded: RecordedHistory,
  ): Promise<{ error?: string; output?: unknown; spans?: unknown }> {
    const outcome = await app.replay(recorded);
    // A subtask's span (its telemetry, recorded as it ends) carries the error it ended with.
    const spans = (outcome.state?.actions?.[0] ?? []).find((a) => a.functionName === 'recordSpans');
    return {
      ...(spans ? { spans: spans.input } : {}),
      ...(outcome.state?.error !== undefined || outcome.failure !== undefined
        ? { error: outcome.state?.error ?? outcome.failure }
        : {}),
      ...(outcome.state?.isDone ? { output: outcome.state.output } : {}),
    };
  }

  it('replays the unchanged histories without a contract error', async () => {
    for (const { recorded } of histories) {
      expect((await replayed(recorded)).error ?? '').not.toMatch(/does not match its contract/);
    }
  });

  it('publish custom statuses and outputs that the run view reads by the same contracts, unchanged', async () => {
    let seen = 0;
    for (const { file, recorded } of histories) {
      const { state } = await app.replay(recorded);
      if (state?.customStatus !== undefined && state.customStatus !== null) {
        const schema =
          recorded.orchestrator === 'agentRunOrchestrator' ? agentRunStatusSchema : subtaskStatusSchema;
        expect(checked(schema, state.customStatus, `${file} custom status`)).toEqual(state.customStatus);
        seen++;
      }
      if (state?.isDone && recorded.orchestrator !== 'agentRunOrchestrator') {
        expect(checked(subtaskResultSchema, state.output, `${file} output`)).toEqual(state.output);
        seen++;
      }
    }
    expect(seen).toBeGreaterThanOrEqual(histories.length);
  });

  it("refuses a reservation reply whose 'granted' is not a boolean", async () => {
    const bad = withEntityReply(history('awaiting-approval'), 'reserve', (r) => ({ ...r, granted: 'yes' }));
    expect((await replayed(bad)).error).toMatch(/The reservation does not match its contract: granted: /);
  });

  it('refuses a reservation reply without its quota numbers', async () => {
    const bad = withEntityReply(history('awaiting-approval'), 'reserve', (r) => ({
      ...r,
      quota: { ...(r.quota as object), remaining: undefined },
    }));
    expect((await replayed(bad)).error).toMatch(
      /The reservation does not match its contract: quota\.remaining: /,
    );
  });

  it("refuses a revision's reservation reply that does not fit", async () => {
    const recorded = history('after-revision');
    const reserves = recorded.history.filter(
      (e) =>
        e.EventType === EventType.EventSent &&
        (JSON.parse(e.Input ?? '{}') as { op?: string }).op === 'reserve',
    );
    const revision = reserves[1];
    if (!revision) throw new Error('after-revision has no revision reserve');
    const requestId = (JSON.parse(revision.Input ?? '{}') as { id: string }).id;
    const bad = withEvent(
      recorded,
      (e) => e.EventType === EventType.EventRaised && e.Name === requestId,
      (e) => ({ ...e, Input: JSON.stringify({ result: JSON.stringify({ granted: true }) }) }),
    );
    expect((await replayed(bad)).error).toMatch(
      /The revision's reservation does not match its contract: quota: /,
    );
  });

  it('ends an answer subtask whose model call outcome has usage that is not a count of tokens', async () => {
    const bad = withTaskResult(history('answerSubtask-completed'), 'callModel', (r) => ({
      ...r,
      value: { ...(r.value as object), usage: { promptTokens: -1, completionTokens: 0, totalTokens: 0 } },
    }));
    expect((await replayed(bad)).spans).toMatchObject({
      subtask: {
        ok: false,
        error: expect.stringMatching(
          /The callModel result does not match its contract: value\.usage\.promptTokens: /,
        ) as unknown,
      },
    });
  });

  it('ends an answer subtask whose model call outcome is of a kind the orchestrators do not know', async () => {
    const bad = withTaskResult(history('answerSubtask-completed'), 'callModel', () => ({
      ok: false,
      kind: 'maybe',
      message: 'x',
    }));
    expect((await replayed(bad)).spans).toMatchObject({
      subtask: {
        ok: false,
        error: expect.stringMatching(/The callModel result does not match its contract: kind: /) as unknown,
      },
    });
  });

  it('ends a research subtask with the field its poll result got wrong', async () => {
    const bad = withTaskResult(history('mid-research-polling'), 'pollResearch', (r) => ({
      ...r,
      value: { status: 'dancing' },
    }));
    const { output } = await replayed(bad);
    expect(output).toMatchObject({
      ok: false,
      error: expect.stringMatching(
        /The pollResearch result does not match its contract: value\.status: /,
      ) as unknown,
    });
  });

  it('ends a research subtask whose start result has no thread', async () => {
    const bad = withTaskResult(history('mid-research-polling'), 'startResearch', (r) => ({
      ...r,
      value: { ...(r.value as object), threadId: 7 },
    }));
    const { output } = await replayed(bad);
    expect(output).toMatchObject({
      ok: false,
      error: expect.stringMatching(
        /The startResearch result does not match its contract: value\.threadId: /,
      ) as unknown,
    });
  });
});
