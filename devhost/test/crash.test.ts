/**
 * Kill -9 of the devhost in the middle of durable work, then a restart on the same SQLite store: every
 * orchestration must end with the right output, no event or signal may be lost, entity state must be exact.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type DevHostProcess, startDevHostProcess } from './harness';
import { type Status, call, fixture, pollUntil, sleep } from './support';

jest.setTimeout(60_000);

const appDir = fixture('crash-app');
const finished = ['Completed', 'Failed', 'Terminated'];

describe('a devhost killed with SIGKILL and restarted on the same data', () => {
  let dataDir: string;
  let host: DevHostProcess | undefined;
  const webhook = (route: string) => `${host?.baseUrl ?? ''}/runtime/webhooks/durabletask${route}`;
  const start = async () => {
    host = await startDevHostProcess({ appDir, dataDir, args: ['--log', 'quiet'] });
  };
  const status = async (id: string) => (await call<Status>(webhook(`/instances/${id}`))).body;
  const begin = async (name: string, id: string, input: unknown) => {
    const answer = await call(webhook(`/orchestrators/${name}/${id}`), { body: input });
    expect(answer.status).toBe(202);
  };
  const waitDone = (id: string, timeoutMs = 20_000) =>
    pollUntil(
      () => status(id),
      (s) => finished.includes(s.runtimeStatus),
      timeoutMs,
    );

  beforeEach(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'devhost-crash-'));
    await start();
  });
  afterEach(async () => {
    await host?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('finishes a fan-out with sub-orchestrations that was cut off midway, with the right sum', async () => {
    // 20 activities of 300 ms, 4 at a time (host.json), plus two children of 3: about 2 s of work.
    await begin('FanOut', 'fan', { count: 20, ms: 300, children: 2 });
    await sleep(700);
    expect((await status('fan')).runtimeStatus).toBe('Running');
    await host?.kill();
    await start();
    const done = await waitDone('fan');
    // 2 * (1 + ... + 20) + 2 children * 2 * (1 + 2 + 3)
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 420 + 24 });
  });

  it('keeps a wait for external events and every event acknowledged before the kill', async () => {
    await begin('Collect', 'collect', { count: 6 });
    for (const value of [1, 2, 3]) {
      const raised = await call(webhook(`/instances/collect/raiseEvent/item`), { body: value });
      expect(raised.status).toBe(202);
    }
    await host?.kill();
    await start();
    for (const value of [4, 5, 6]) {
      await call(webhook(`/instances/collect/raiseEvent/item`), { body: value });
    }
    const done = await waitDone('collect');
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: [1, 2, 3, 4, 5, 6] });
  });

  it('fires a durable timer that came due while the host was down', async () => {
    await begin('Timer', 'timer', { seconds: 1.5 });
    await pollUntil(
      () => status('timer'),
      (s) => s.runtimeStatus === 'Running',
    );
    await host?.kill();
    await sleep(1600);
    await start();
    const done = await waitDone('timer');
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: { fired: true, doubled: 42 } });
  });

  it('arms a durable timer still in the future after the restart and keeps the instance waiting', async () => {
    await begin('Timer', 'later', { seconds: 3 });
    await pollUntil(
      () => status('later'),
      (s) => s.runtimeStatus === 'Running',
    );
    await host?.kill();
    await start();
    expect((await status('later')).runtimeStatus).toBe('Running');
    const done = await waitDone('later');
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: { fired: true, doubled: 42 } });
  });

  it('applies every acknowledged signal of a stream exactly once', async () => {
    let expected = 0;
    let sent = 0;
    for (let burst = 0; burst < 10; burst++) {
      const amounts = Array.from({ length: 30 }, (_, i) => burst * 30 + i + 1);
      const answers = await Promise.all(
        amounts.map((amount) => call(webhook('/entities/tally/k?op=add'), { body: amount })),
      );
      for (const [i, answer] of answers.entries()) {
        expect(answer.status).toBe(202);
        expected += amounts[i] ?? 0;
        sent += 1;
      }
    }
    await host?.kill();
    await start();
    const state = await pollUntil(
      async () => (await call<{ total: number; count: number }>(webhook('/entities/tally/k'))).body,
      (s) => typeof s === 'object' && s !== null && s.count >= sent,
    );
    expect(state).toEqual({ total: expected, count: sent });
    // Nothing more arrives later: the count stays exact.
    await sleep(300);
    expect((await call(webhook('/entities/tally/k'))).body).toEqual({ total: expected, count: sent });
  });
});
