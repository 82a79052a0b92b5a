import { type DevHostProcess, startDevHostProcess } from './harness';

jest.setTimeout(30_000);
import { type Answer, type Status, call, fixture, pollUntil, waitForLog } from './support';

describe('orchestrations of a Durable Functions app (durable-functions 3.x, public API only)', () => {
  let host: DevHostProcess;
  const api = (path: string) => `${host.baseUrl}/api${path}`;
  const webhook = (path: string) => `${host.baseUrl}/runtime/webhooks/durabletask${path}`;

  /** Starts through the app's own HTTP starter (createCheckStatusResponse) and returns its 202 body. */
  async function start(
    name: string,
    input?: unknown,
    instanceId?: string,
  ): Promise<{ id: string; statusQueryGetUri: string }> {
    const answer = await call<{ id: string; statusQueryGetUri: string }>(
      api(`/orchestrators/${name}${instanceId ? `/${instanceId}` : ''}`),
      { method: 'POST', ...(input !== undefined ? { body: JSON.stringify(input) } : {}) },
    );
    expect(answer.status).toBe(202);
    return answer.body;
  }

  const status = async (id: string, query = '') =>
    (await call<Status>(webhook(`/instances/${id}${query}`))).body;

  async function finished(id: string, query = '', timeoutMs = 15_000): Promise<Status> {
    return pollUntil(
      () => status(id, query),
      (s) => ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus),
      timeoutMs,
    );
  }

  const raise = (id: string, event: string, data: unknown) =>
    call(webhook(`/instances/${id}/raiseEvent/${event}`), { method: 'POST', body: JSON.stringify(data) });

  beforeAll(async () => {
    host = await startDevHostProcess({ appDir: fixture('durable-app'), env: { DEVHOST_LOG: 'info' } });
  });
  afterAll(async () => {
    await host.stop();
  });

  it('chains activities and records each step in the history', async () => {
    const { id } = await start('Chain');
    const done = await finished(id, '?showHistory=true&showHistoryOutput=true');
    expect(done.output).toEqual(['Hello Tokyo', 'Hello Seattle', 'Hello London']);
    const events = done.historyEvents ?? [];
    expect(events.map((e) => e.EventType)).toEqual([
      'ExecutionStarted',
      'TaskCompleted',
      'TaskCompleted',
      'TaskCompleted',
      'ExecutionCompleted',
    ]);
    expect(events[1]).toMatchObject({ FunctionName: 'SayHello', Result: 'Hello Tokyo' });
  });

  it('fans out to activities that run concurrently and fans in their results', async () => {
    const { id } = await start('FanOut', 10);
    expect((await finished(id)).output).toBe(110);

    const started = Date.now();
    const parallel = await start('ParallelSleep', { count: 8, ms: 200 });
    await finished(parallel.id);
    expect(Date.now() - started).toBeLessThan(200 * 2);
  });

  it('implements the async HTTP API: 202 with Location, then the status URL answers 202 until done and 200 after', async () => {
    const answer = await call<Record<string, string>>(api('/orchestrators/CustomStatus'), { method: 'POST' });
    expect(answer.status).toBe(202);
    const body = answer.body;
    expect(answer.headers.get('location')).toBe(body.statusQueryGetUri);
    expect(answer.headers.get('retry-after')).toBe('10');
    expect(Object.keys(body).sort()).toEqual(
      [
        'id',
        'purgeHistoryDeleteUri',
        'restartPostUri',
        'resumePostUri',
        'rewindPostUri',
        'sendEventPostUri',
        'statusQueryGetUri',
        'suspendPostUri',
        'terminatePostUri',
      ].sort(),
    );
    const running = await pollUntil(
      () => call<Status>(body.statusQueryGetUri ?? ''),
      (a) => (a.body.customStatus as { stage?: string } | null)?.stage === 'two',
    );
    expect(running.status).toBe(202);
    expect(running.headers.get('location')).toBe(body.statusQueryGetUri);
    expect(running.headers.get('retry-after')).toBe('5');

    const event = await call((body.sendEventPostUri ?? '').replace('{eventName}', 'finish'), {
      method: 'POST',
      body: {},
    });
    expect(event.status).toBe(202);
    const done = await pollUntil(
      () => call<Status>(body.statusQueryGetUri ?? ''),
      (a: Answer<Status>) => a.status === 200,
    );
    expect(done.body).toMatchObject({
      runtimeStatus: 'Completed',
      output: 'done',
      customStatus: { stage: 'two' },
    });
  });

  it('waitForCompletionOrCreateCheckStatusResponse answers with the output, or with 202 when it takes too long', async () => {
    const quick = await call(api('/wait/Chain'), { method: 'POST' });
    expect(quick).toMatchObject({ status: 200, body: ['Hello Tokyo', 'Hello Seattle', 'Hello London'] });
    const slow = await call<{ id: string }>(api('/wait/WaitForever?timeout=200'), { method: 'POST' });
    expect(slow.status).toBe(202);
    expect((await status(slow.body.id)).runtimeStatus).toBe('Running');
  });

  it('runs a monitor: a durable timer loop with short timers that fire promptly', async () => {
    const started = Date.now();
    const { id } = await start('Monitor', { intervalMs: 50, checks: 4 });
    const done = await finished(id, '?showHistory=true');
    expect(done.output).toBe('checked 4 times');
    expect(done.customStatus).toEqual({ check: 4 });
    expect(Date.now() - started).toBeLessThan(2000);
    const timers = (done.historyEvents ?? []).filter((e) => e.EventType === 'TimerFired');
    expect(timers).toHaveLength(4);
    for (const timer of timers) {
      expect(Date.parse(String(timer.Timestamp))).toBeGreaterThanOrEqual(Date.parse(String(timer.FireAt)));
    }
  });

  it('fires a timer that is already due when the episode that set it ends', async () => {
    // A timer for the orchestration's own clock is in the past by the time its episode is stored.
    const { id } = await start('Monitor', { intervalMs: 0, checks: 3 });
    const done = await finished(id, '?showHistory=true');
    expect(done.output).toBe('checked 3 times');
    expect((done.historyEvents ?? []).filter((e) => e.EventType === 'TimerFired')).toHaveLength(3);
  });

  it('handles human interaction: the approval event wins against the timer, and the timer wins without it', async () => {
    const approved = await start('Approval', { timeoutMs: 60_000 });
    await pollUntil(
      () => status(approved.id),
      (s) => s.runtimeStatus === 'Running',
    );
    expect((await raise(approved.id, 'Approval', { by: 'ada' })).status).toBe(202);
    expect((await finished(approved.id)).output).toBe('approved by ada');

    const ignored = await start('Approval', { timeoutMs: 100 });
    expect((await finished(ignored.id)).output).toBe('timed out');
  });

  it('keeps far-future timers pending without overflowing setTimeout', async () => {
    const { id } = await start('FarFutureTimer');
    const running = await pollUntil(
      () => status(id, '?showHistory=true'),
      (s) => (s.historyEvents ?? []).some((e) => e.EventType === 'TimerCreated'),
    );
    const timer = (running.historyEvents ?? []).find((e) => e.EventType === 'TimerCreated');
    // The SDK splits timers longer than six days into three-day steps (schema V3).
    expect(Date.parse(String(timer?.FireAt)) - Date.now()).toBeGreaterThan(2.9 * 24 * 3600 * 1000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await status(id)).runtimeStatus).toBe('Running');
    expect(host.logs()).not.toContain('TimeoutOverflowWarning');
  });

  it('retries an activity on the host with RetryOptions: attempt count and backoff spacing', async () => {
    const { id } = await start('Retry', { failTimes: 2, maxAttempts: 4, firstRetryMs: 100, backoff: 2 });
    const done = await finished(id, '?showHistory=true');
    expect(done.output).toEqual({ attempt: 3 });
    const events = done.historyEvents ?? [];
    const failures = events.filter((e) => e.EventType === 'TaskFailed');
    const retryTimers = events.filter((e) => e.EventType === 'TimerFired');
    expect(failures).toHaveLength(2);
    expect(retryTimers).toHaveLength(2);
    const gaps = retryTimers.map(
      (timer, i) => Date.parse(String(timer.FireAt)) - Date.parse(String(failures[i]?.Timestamp)),
    );
    expect(gaps[0]).toBeGreaterThanOrEqual(95);
    expect(gaps[0]).toBeLessThan(150);
    expect(gaps[1]).toBeGreaterThanOrEqual(195);
    expect(gaps[1]).toBeLessThan(250);
  });

  it('surfaces the last failure once the attempts run out', async () => {
    const { id } = await start('Retry', { failTimes: 10, maxAttempts: 3, firstRetryMs: 20 });
    const done = await finished(id, '?showHistory=true');
    expect((done.output as { failed: string }).failed).toContain(
      "Activity function 'Flaky' failed: flaky failure 3",
    );
    expect((done.historyEvents ?? []).filter((e) => e.EventType === 'TaskFailed')).toHaveLength(3);
  });

  it('runs sub-orchestrations with generated and explicit ids, and surfaces a child failure to the parent', async () => {
    const { id } = await start('Parent');
    const done = await finished(id);
    expect(done.runtimeStatus).toBe('Completed');
    const output = done.output as { generated: string[]; named: Record<string, string>; failure: string };
    expect(output.generated).toEqual(['Hello Tokyo', 'Hello Seattle', 'Hello London']);
    expect(output.named).toEqual({ instanceId: `${id}-child`, parentInstanceId: id });
    expect(output.failure).toContain(
      "Orchestrator function 'Failing' failed: orchestrator exploded (from parent)",
    );
    expect((await status(`${id}-child`)).runtimeStatus).toBe('Completed');
  });

  it('retries a failed sub-orchestration with RetryOptions', async () => {
    const { id } = await start('SubRetry');
    const done = await finished(id, '?showHistory=true');
    expect(done.output).toBe(2);
    expect((done.historyEvents ?? []).map((e) => e.EventType)).toEqual([
      'ExecutionStarted',
      'SubOrchestrationInstanceFailed',
      'TimerCreated',
      'TimerFired',
      'SubOrchestrationInstanceCompleted',
      'ExecutionCompleted',
    ]);
  });

  it('records an orchestrator failure with its message, and an unhandled activity failure too', async () => {
    const failing = await start('Failing', 'direct');
    expect(await finished(failing.id)).toMatchObject({
      runtimeStatus: 'Failed',
      output: "Orchestrator function 'Failing' failed: orchestrator exploded (direct)",
    });
    const activity = await start('ActivityFailure');
    const done = await finished(activity.id);
    expect(done.runtimeStatus).toBe('Failed');
    expect(done.output).toContain("Activity function 'AlwaysFails' failed: boom from activity");
    const failedWith500 = await call(
      webhook(`/instances/${activity.id}?returnInternalServerErrorOnFailure=true`),
    );
    expect(failedWith500.status).toBe(500);
  });

  it('continues as new with a fresh history, keeping events that arrived meanwhile', async () => {
    const { id } = await start('Accumulate', { total: 0, target: 3 });
    for (let i = 0; i < 3; i++) expect((await raise(id, 'add', 1)).status).toBe(202);
    const done = await finished(id, '?showHistory=true');
    expect(done.output).toBe(3);
    expect(done.input).toEqual({ total: 2, target: 3 });
    const history = done.historyEvents ?? [];
    expect(history.filter((e) => e.EventType === 'ExecutionStarted')).toHaveLength(1);
  });

  it('delivers external events raised before the orchestrator waits for them, in order', async () => {
    const { id } = await start('EarlyEvents');
    await raise(id, 'item', 'first');
    await raise(id, 'item', 'second');
    expect((await finished(id)).output).toEqual(['first', 'second']);
  });

  it('gives isReplaying and currentUtcDateTime as the replay sees them', async () => {
    const { id } = await start('Clock');
    const done = await finished(id, '?showHistory=true');
    const seen = done.output as { replaying: boolean; time: string }[];
    expect(seen.map((s) => s.replaying)).toEqual([true, true, true, false]);
    const times = seen.map((s) => Date.parse(s.time));
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] ?? 0);
    await waitForLog(() => host.logs(), /Clock finished \(logged once\)/);
    expect(host.logs().match(/Clock finished \(logged once\)/g)).toHaveLength(1);
  });

  it('tells activities which instance called them (triggerMetadata.instanceId)', async () => {
    const { id } = await start('WhoCallsOrchestrator', undefined, 'caller-42');
    expect(id).toBe('caller-42');
    expect((await finished(id)).output).toBe('caller-42');
  });
});
