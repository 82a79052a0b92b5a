import type { InvocationContext } from '@azure/functions';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { CallModelInput, CallModelOutput } from '../../src/contracts/model';
import { activityNames } from '../../src/names';
import { withActivitySpan } from '../../src/telemetry/spans';
import type { AgentRunStatus } from '../../src/contracts/agentRun';
import type { RunRecord } from '../../src/contracts/telemetry';
import { ApprovalWatch } from '../../src/telemetry/orchestration';
import {
  DerivedIdGenerator,
  emitRunSpans,
  emitSubtaskSpan,
  setRunTreeExport,
} from '../../src/telemetry/runTree';
import { approvalSpanId, placeOf, runSpanId, runTraceId, subtaskSpanId } from '../../src/telemetry/tree';

const exporter = new InMemorySpanExporter();

beforeAll(() => {
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
});
afterAll(() => trace.disable());
afterEach(() => exporter.reset());

const contextFor = (instanceId: string) =>
  ({ triggerMetadata: { instanceId } }) as unknown as InvocationContext;

const input: CallModelInput = { tier: 'fast', messages: [{ role: 'user', content: 'the secret prompt' }] };
const answer: CallModelOutput = {
  ok: true,
  value: {
    message: { role: 'assistant', content: 'the secret answer' },
    usage: { promptTokens: 11, completionTokens: 7, totalTokens: 18 },
    deployment: 'gpt-4o-mini',
    finishReason: 'stop',
    cached: true,
  },
};
const callModel = (captureContent: boolean) =>
  withActivitySpan(activityNames.callModel, () => Promise.resolve(answer), { captureContent });

describe('activity spans', () => {
  it('place a subtask activity under the subtask of its run, with GenAI attributes and no content by default', async () => {
    await expect(callModel(false)(input, contextFor('run-0001-s2'))).resolves.toBe(answer);
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe('chat gpt-4o-mini');
    expect(span!.spanContext().traceId).toBe(runTraceId('run-0001'));
    expect(span!.parentSpanContext?.spanId).toBe(subtaskSpanId('run-0001', 's2'));
    expect(span!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 11,
      'gen_ai.usage.output_tokens': 7,
      'gen_ai.response.finish_reasons': ['stop'],
      'app.run.id': 'run-0001',
      'app.subtask.id': 's2',
      'app.cache.hit': true,
    });
    expect(span!.events).toEqual([]);
    expect(JSON.stringify(span!.attributes)).not.toContain('secret');
  });

  it('record the prompt and the answer as events only when content capture is on', async () => {
    await callModel(true)(input, contextFor('run-0001'));
    const [span] = exporter.getFinishedSpans();
    expect(span!.parentSpanContext?.spanId).toBe(runSpanId('run-0001'));
    expect(span!.events.map((e) => e.name)).toEqual(['gen_ai.content.prompt', 'gen_ai.content.completion']);
    expect(JSON.stringify(span!.events)).toContain('the secret prompt');
    expect(JSON.stringify(span!.events)).toContain('the secret answer');
  });

  it('mark a failed outcome and a thrown error as errors', async () => {
    const refused = withActivitySpan(
      activityNames.callModel,
      () => Promise.resolve<CallModelOutput>({ ok: false, kind: 'permanent', message: 'no' }),
      { captureContent: false },
    );
    await refused(input, contextFor('run-0002'));
    const thrower = withActivitySpan('saveResult', () => Promise.reject(new Error('disk')), {
      captureContent: false,
    });
    await expect(thrower({}, contextFor('run-0002'))).rejects.toThrow('disk');
    expect(exporter.getFinishedSpans().map((s) => [s.name, s.status.code, s.status.message])).toEqual([
      ['chat fast', 2, 'no'],
      ['activity saveResult', 2, 'disk'],
    ]);
  });

  it('read the run and subtask from instance ids', () => {
    expect(placeOf('abc-def-1234-s12')).toEqual({ runId: 'abc-def-1234', subtaskId: 's12' });
    expect(placeOf('abcdef12')).toEqual({ runId: 'abcdef12' });
    expect(placeOf(undefined)).toBeUndefined();
  });
});

describe('run tree spans', () => {
  const treeExporter = new InMemorySpanExporter();
  const ids = new DerivedIdGenerator();
  const provider = new BasicTracerProvider({
    idGenerator: ids,
    spanProcessors: [new SimpleSpanProcessor(treeExporter)],
  });
  const use = (captureContent: boolean) =>
    setRunTreeExport({
      ids,
      tracer: provider.getTracer('test'),
      flush: () => provider.forceFlush(),
      captureContent,
    });
  afterEach(() => {
    treeExporter.reset();
    setRunTreeExport(undefined);
  });

  const usage = { promptTokens: 30, completionTokens: 12, totalTokens: 42 };
  const run: RunRecord = {
    runId: 'run-0003',
    startedAt: '2030-01-01T00:00:00.000Z',
    endedAt: '2030-01-01T00:05:00.000Z',
    outcome: 'failed',
    usage,
    error: 'Every subtask failed: s1: calculator: the secret result',
    owner: 'alice@example.com',
    approvalWaits: [
      {
        round: 0,
        startedAt: '2030-01-01T00:01:00.000Z',
        endedAt: '2030-01-01T00:04:00.000Z',
        escalatedAt: '2030-01-01T00:02:00.000Z',
        outcome: 'ended',
      },
    ],
  };

  it('carry the derived ids and the recorded times, without the owner or failure text by default', () => {
    use(false);
    emitRunSpans(run);
    emitSubtaskSpan({
      runId: 'run-0003',
      subtaskId: 's1',
      kind: 'tool',
      startedAt: run.startedAt,
      endedAt: run.endedAt,
      ok: false,
      usage,
      error: 'calculator: the secret result',
    });
    const [root, wait, subtask] = treeExporter.getFinishedSpans();
    expect(root!.spanContext()).toMatchObject({
      traceId: runTraceId('run-0003'),
      spanId: runSpanId('run-0003'),
    });
    expect(root!.parentSpanContext).toBeUndefined();
    expect(root!.startTime).toEqual([Date.parse(run.startedAt) / 1000, 0]);
    expect(root!.duration).toEqual([300, 0]);
    expect(root!.status).toEqual({ code: 2, message: 'run failed' });
    expect(root!.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.usage.input_tokens': 30,
      'gen_ai.usage.output_tokens': 12,
      'error.type': 'failed',
    });
    expect(wait!.spanContext().spanId).toBe(approvalSpanId('run-0003', 0));
    expect(wait!.parentSpanContext?.spanId).toBe(runSpanId('run-0003'));
    expect(wait!.events.map((e) => [e.name, e.time])).toEqual([
      ['approval.escalated', [Date.parse('2030-01-01T00:02:00.000Z') / 1000, 0]],
    ]);
    expect(subtask!.spanContext().spanId).toBe(subtaskSpanId('run-0003', 's1'));
    expect(subtask!.status).toEqual({ code: 2, message: 'subtask failed' });
    const all = JSON.stringify(treeExporter.getFinishedSpans().map((s) => [s.attributes, s.status]));
    expect(all).not.toContain('secret');
    expect(all).not.toContain('alice');
    // Only the one span asked for gets the derived ids.
    expect(ids.generateSpanId()).not.toBe(runSpanId('run-0003'));
  });

  it('name the owner and the failure only with content capture on', () => {
    use(true);
    emitRunSpans(run);
    const [root] = treeExporter.getFinishedSpans();
    expect(root!.attributes['user.id']).toBe('alice@example.com');
    expect(root!.status.message).toContain('the secret result');
  });

  it('emit nothing when telemetry is off', () => {
    emitRunSpans(run);
    expect(treeExporter.getFinishedSpans()).toEqual([]);
  });
});

describe('approval waits, from the status a run publishes', () => {
  const t = (minute: number) => `2030-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`;
  const waiting = (round: number, escalated = false) =>
    ({ stage: 'awaiting-approval', approval: { round, escalated } }) as unknown as Partial<AgentRunStatus>;

  it('ends a round at a revision, marks the escalation once, and takes the last decision from the result', () => {
    const watch = new ApprovalWatch();
    watch.observe({ stage: 'synthesizing' }, t(0));
    watch.observe(waiting(0), t(1));
    watch.observe(waiting(0), t(2)); // a webhook delivery republishes the same wait
    watch.observe({ stage: 'revising' }, t(3));
    watch.observe(waiting(1), t(4));
    watch.observe(waiting(1, true), t(5));
    watch.observe(waiting(1, true), t(6));
    watch.observe({ stage: 'saving' }, t(7));
    expect(
      watch.records(t(8), {
        outcome: 'completed',
        approval: { required: true, decision: 'approve', rounds: 1, escalated: true },
      }),
    ).toEqual([
      { round: 0, startedAt: t(1), endedAt: t(3), decision: 'reject', outcome: 'revise' },
      {
        round: 1,
        startedAt: t(4),
        endedAt: t(7),
        escalatedAt: t(5),
        decision: 'approve',
        outcome: 'approved',
      },
    ]);
  });

  it('calls an undecided last wait expired when the run expired, and ended when it failed', () => {
    const expired = new ApprovalWatch();
    expired.observe(waiting(0), t(1));
    expired.observe({ stage: 'saving' }, t(2));
    expect(expired.records(t(3), { outcome: 'expired' })).toEqual([
      { round: 0, startedAt: t(1), endedAt: t(2), outcome: 'expired' },
    ]);
    const failed = new ApprovalWatch();
    failed.observe(waiting(0), t(1));
    expect(failed.records(t(4), undefined)).toEqual([
      { round: 0, startedAt: t(1), endedAt: t(4), outcome: 'ended' },
    ]);
  });
});
