import { type DevHostProcess, startDevHostProcess } from './harness';
import { type Status, call, fixture, pollUntil, waitForLog } from './support';

jest.setTimeout(30_000);

describe('durable entities (a counter) used from orchestrations, clients and the HTTP API', () => {
  let host: DevHostProcess;
  const api = (path: string) => `${host.baseUrl}/api${path}`;
  const webhook = (path: string) => `${host.baseUrl}/runtime/webhooks/durabletask${path}`;

  async function run(name: string, input: unknown): Promise<Status> {
    const started = await call<{ id: string }>(api(`/orchestrators/${name}`), {
      method: 'POST',
      body: JSON.stringify(input),
    });
    expect(started.status).toBe(202);
    return pollUntil(
      async () => (await call<Status>(webhook(`/instances/${started.body.id}`))).body,
      (s) => ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus),
    );
  }

  const client = (operation: string, args: unknown) =>
    call(api(`/client/${operation}`), { method: 'POST', body: JSON.stringify(args) });

  const readState = async (key: string) => (await call(webhook(`/entities/counter/${key}`))).body;

  beforeAll(async () => {
    host = await startDevHostProcess({ appDir: fixture('durable-app') });
  });
  afterAll(async () => {
    await host.stop();
  });

  it('lets an orchestration call an entity (and get the result) and signal it (fire and forget)', async () => {
    const done = await run('CounterUser', 'from-orchestration');
    expect(done.output).toEqual({ afterAdd: 5, afterSignal: 6 });
  });

  it('lets a durable client signal an entity and read its state', async () => {
    expect(
      (await client('signalEntity', { name: 'Counter', key: 'client', op: 'add', input: 3 })).status,
    ).toBe(202);
    expect(
      (await client('signalEntity', { name: 'Counter', key: 'client', op: 'add', input: 4 })).status,
    ).toBe(202);
    const state = await pollUntil(
      async () => (await client('readEntityState', { name: 'Counter', key: 'client' })).body,
      (s) => (s as { entityState?: number }).entityState === 7,
    );
    expect(state).toEqual({ entityExists: true, entityState: 7 });
    expect((await client('readEntityState', { name: 'Counter', key: 'nobody' })).body).toEqual({
      entityExists: false,
    });
  });

  it('serves the entities HTTP API: signal with POST ?op=, read with GET, 404 when it does not exist', async () => {
    const signal = await call(webhook('/entities/Counter/http?op=add'), { method: 'POST', body: '10' });
    expect(signal.status).toBe(202);
    await pollUntil(
      () => readState('http'),
      (s) => s === 10,
    );
    expect((await call(webhook('/entities/counter/never-touched'))).status).toBe(404);
    expect(
      (await call(webhook('/entities/NoSuchEntity/x?op=add'), { method: 'POST', body: '1' })).status,
    ).toBe(400);
  });

  it('lists entities of one name, with their state when asked, paged by continuation token', async () => {
    for (const key of ['list-a', 'list-b', 'list-c']) {
      await call(webhook(`/entities/counter/${key}?op=add`), { method: 'POST', body: '1' });
    }
    await pollUntil(
      () => readState('list-c'),
      (s) => s === 1,
    );
    const all = await call<{ entityId: { name: string; key: string }; state?: unknown }[]>(
      webhook('/entities/counter?fetchState=true'),
    );
    expect(all.status).toBe(200);
    expect(all.body).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ entityId: { name: 'counter', key: 'list-b' }, state: 1 }),
      ]),
    );
    const first = await call<unknown[]>(webhook('/entities/counter?top=2'));
    expect(first.body).toHaveLength(2);
    const token = first.headers.get('x-ms-continuation-token');
    expect(token).toBeTruthy();
    const next = await call<unknown[]>(webhook('/entities/counter?top=2'), {
      headers: { 'x-ms-continuation-token': token ?? '' },
    });
    expect(next.body.length).toBeGreaterThan(0);
    expect(next.body).not.toContainEqual(first.body[0]);
  });

  it('runs operations on one entity strictly one at a time, in the order they were sent', async () => {
    for (let i = 0; i < 40; i++) {
      await call(webhook('/entities/counter/ordered?op=add'), { method: 'POST', body: '1' });
    }
    expect(
      await pollUntil(
        () => readState('ordered'),
        (s) => s === 40,
      ),
    ).toBe(40);
  });

  it('delivers signals that an entity sends to another entity', async () => {
    await call(webhook('/entities/counter/forwarder?op=forward'), {
      method: 'POST',
      body: JSON.stringify({ key: 'receiver', amount: 2 }),
    });
    expect(
      await pollUntil(
        () => readState('receiver'),
        (s) => s === 2,
      ),
    ).toBe(2);
  });

  it('returns an operation error to the orchestration that awaited it', async () => {
    const done = await run('CounterFailure', 'fails');
    expect(done.runtimeStatus).toBe('Completed');
    expect(done.output).toMatchObject({ caught: true });
  });

  it('deletes the entity state on destructOnExit (DELETE on the HTTP API)', async () => {
    await call(webhook('/entities/counter/doomed?op=add'), { method: 'POST', body: '5' });
    await pollUntil(
      () => readState('doomed'),
      (s) => s === 5,
    );
    expect((await call(webhook('/entities/counter/doomed'), { method: 'DELETE' })).status).toBe(202);
    await pollUntil(
      async () => (await call(webhook('/entities/counter/doomed'))).status,
      (s) => s === 404,
    );
  });

  it('says clearly that entity locks are not supported (the SDK needs schema V4; the devhost speaks V3)', async () => {
    const done = await run('CounterLock', 'locked');
    expect(done.runtimeStatus).toBe('Failed');
    expect(String(done.output)).toContain(
      'lock requires a Durable Functions extension that supports OOProc schema V4',
    );
    await waitForLog(() => host.logs(), /entity locks \(context\.df\.lock\).*not supported/);
  });
});
