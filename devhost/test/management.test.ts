import { type DevHostProcess, startDevHostProcess } from './harness';
import { type Status, call, fixture, pollUntil } from './support';

jest.setTimeout(30_000);

describe('the durable management HTTP API and the durable client against it', () => {
  let host: DevHostProcess;
  const api = (path: string) => `${host.baseUrl}/api${path}`;
  const webhook = (path: string) => `${host.baseUrl}/runtime/webhooks/durabletask${path}`;
  const rpc = (path: string) => `${host.baseUrl}/durabletask${path}`;

  const startDirect = (name: string, id = '', body?: unknown) =>
    call<{ id: string; statusQueryGetUri: string }>(webhook(`/orchestrators/${name}${id ? `/${id}` : ''}`), {
      method: 'POST',
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  const status = async (id: string, query = '') => call<Status>(webhook(`/instances/${id}${query}`));

  const until = (id: string, runtimeStatus: string) =>
    pollUntil(
      async () => (await status(id)).body,
      (s) => s.runtimeStatus === runtimeStatus,
    );

  const client = (operation: string, args: unknown) =>
    call(api(`/client/${operation}`), { method: 'POST', body: JSON.stringify(args) });

  beforeAll(async () => {
    host = await startDevHostProcess({ appDir: fixture('durable-app'), args: ['--log', 'quiet'] });
  });
  afterAll(async () => {
    await host.stop();
  });

  it('starts instances with and without an id: 202 with Location, 409 for a running duplicate, 400 for bad requests', async () => {
    const generated = await startDirect('Chain');
    expect(generated.status).toBe(202);
    expect(generated.headers.get('location')).toBe(generated.body.statusQueryGetUri);
    expect(generated.body.id).toMatch(/^[0-9a-f]{32}$/);

    const named = await startDirect('WaitForever', 'mgmt-named', { some: 'input' });
    expect(named.body.id).toBe('mgmt-named');
    expect((await startDirect('WaitForever', 'mgmt-named')).status).toBe(409);
    expect((await startDirect('NoSuchOrchestrator')).status).toBe(400);
    const badJson = await call(webhook('/orchestrators/Chain'), { method: 'POST', body: '{not json' });
    expect(badJson.status).toBe(400);
  });

  it('answers status queries: 404 unknown, input on request, history with outputs', async () => {
    expect((await status('does-not-exist')).status).toBe(404);
    const { body } = await startDirect('Chain', 'mgmt-status', { city: 'Oslo' });
    await until(body.id, 'Completed');
    const plain = await status(body.id);
    expect(plain.status).toBe(200);
    expect(plain.body).toMatchObject({
      name: 'Chain',
      instanceId: 'mgmt-status',
      input: { city: 'Oslo' },
      customStatus: null,
    });
    expect(plain.body.createdTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(plain.body.historyEvents).toBeUndefined();
    expect((await status(body.id, '?showInput=false')).body.input).toBeNull();
    const withHistory = await status(body.id, '?showHistory=true');
    expect(withHistory.body.historyEvents?.[1]).not.toHaveProperty('Result');
  });

  it('serves the same API under the rpc base handed to durable clients', async () => {
    const started = await call<{ id: string }>(rpc('/orchestrators/Chain'), { method: 'POST' });
    expect(started.status).toBe(202);
    await pollUntil(
      async () => (await call<Status>(rpc(`/instances/${started.body.id}`))).body,
      (s) => s.runtimeStatus === 'Completed',
    );
  });

  it('can start and wait (timeout and pollingInterval): 200 with the output when it finishes in time', async () => {
    const answer = await call(webhook('/orchestrators/Chain?timeout=5&pollingInterval=1'), {
      method: 'POST',
    });
    expect(answer).toMatchObject({ status: 200, body: ['Hello Tokyo', 'Hello Seattle', 'Hello London'] });
  });

  it('queries instances by status, creation time and prefix, paged by continuation token', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    for (let i = 0; i < 5; i++) await startDirect('WaitForever', `page-${i}`);
    for (let i = 0; i < 5; i++) await until(`page-${i}`, 'Running');

    const seen: string[] = [];
    let token: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof call<Status[]>>> = await call<Status[]>(
        webhook(`/instances/?runtimeStatus=Running&instanceIdPrefix=page-&createdTimeFrom=${since}&top=2`),
        { headers: token ? { 'x-ms-continuation-token': token } : {} },
      );
      expect(page.status).toBe(200);
      expect(page.body.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.map((s) => s.instanceId));
      token = page.headers.get('x-ms-continuation-token');
    } while (token);
    expect(seen.sort()).toEqual(['page-0', 'page-1', 'page-2', 'page-3', 'page-4']);

    const completedOnly = await call<Status[]>(
      webhook('/instances/?runtimeStatus=Completed&instanceIdPrefix=page-'),
    );
    expect(completedOnly.body).toEqual([]);

    const byClient = await client('getStatusBy', { createdTimeFrom: since, runtimeStatus: ['Running'] });
    expect((byClient.body as Status[]).map((s) => s.instanceId)).toEqual(
      expect.arrayContaining(['page-0', 'page-4']),
    );
  });

  it('raises events: 202 while running, 404 unknown, 400 for non-JSON, 410 once finished', async () => {
    await startDirect('CustomStatus', 'mgmt-events');
    await pollUntil(
      async () => (await status('mgmt-events')).body,
      (s) => (s.customStatus as { stage?: string } | null)?.stage === 'two',
    );
    const notJson = await call(webhook('/instances/mgmt-events/raiseEvent/finish'), {
      method: 'POST',
      body: 'plain',
      headers: { 'content-type': 'text/plain' },
    });
    expect(notJson.status).toBe(400);
    expect(
      (await call(webhook('/instances/nope/raiseEvent/finish'), { method: 'POST', body: '{}' })).status,
    ).toBe(404);
    expect(
      (await client('raiseEvent', { instanceId: 'mgmt-events', event: 'finish', data: { ok: true } })).status,
    ).toBe(202);
    await until('mgmt-events', 'Completed');
    expect(
      (await call(webhook('/instances/mgmt-events/raiseEvent/finish'), { method: 'POST', body: '{}' }))
        .status,
    ).toBe(410);
  });

  it('terminates: 202, then Terminated with the reason as output; 410 afterwards; 404 unknown', async () => {
    await startDirect('WaitForever', 'mgmt-terminate');
    await until('mgmt-terminate', 'Running');
    expect(
      (await call(webhook('/instances/mgmt-terminate/terminate?reason=enough'), { method: 'POST' })).status,
    ).toBe(202);
    expect(await until('mgmt-terminate', 'Terminated')).toMatchObject({ output: 'enough' });
    expect(
      (await call(webhook('/instances/mgmt-terminate/terminate?reason=again'), { method: 'POST' })).status,
    ).toBe(410);
    expect((await call(webhook('/instances/nope/terminate'), { method: 'POST' })).status).toBe(404);

    await startDirect('WaitForever', 'mgmt-terminate-client');
    await until('mgmt-terminate-client', 'Running');
    await client('terminate', { instanceId: 'mgmt-terminate-client', reason: 'from client' });
    expect(await until('mgmt-terminate-client', 'Terminated')).toMatchObject({ output: 'from client' });
  });

  it('suspends and resumes: events raised while suspended wait for the resume', async () => {
    await startDirect('CustomStatus', 'mgmt-suspend');
    await pollUntil(
      async () => (await status('mgmt-suspend')).body,
      (s) => (s.customStatus as { stage?: string } | null)?.stage === 'two',
    );
    expect(
      (await call(webhook('/instances/mgmt-suspend/suspend?reason=pause'), { method: 'POST' })).status,
    ).toBe(202);
    await until('mgmt-suspend', 'Suspended');
    expect((await status('mgmt-suspend')).status).toBe(202);
    await client('raiseEvent', { instanceId: 'mgmt-suspend', event: 'finish', data: {} });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await status('mgmt-suspend')).body.runtimeStatus).toBe('Suspended');
    await client('resume', { instanceId: 'mgmt-suspend', reason: 'go on' });
    expect(await until('mgmt-suspend', 'Completed')).toMatchObject({ output: 'done' });
    const history = (await status('mgmt-suspend', '?showHistory=true')).body.historyEvents ?? [];
    expect(history.map((e) => e.EventType)).toEqual(
      expect.arrayContaining(['ExecutionSuspended', 'ExecutionResumed']),
    );
  });

  it('purges one instance: 412 while running, 200 with the count when finished, then 404', async () => {
    await startDirect('WaitForever', 'mgmt-purge');
    await until('mgmt-purge', 'Running');
    expect((await call(webhook('/instances/mgmt-purge'), { method: 'DELETE' })).status).toBe(412);
    await call(webhook('/instances/mgmt-purge/terminate'), { method: 'POST' });
    await until('mgmt-purge', 'Terminated');
    const purged = await call(webhook('/instances/mgmt-purge'), { method: 'DELETE' });
    expect(purged).toMatchObject({ status: 200, body: { instancesDeleted: 1 } });
    expect((await status('mgmt-purge')).status).toBe(404);
    expect((await call(webhook('/instances/mgmt-purge'), { method: 'DELETE' })).status).toBe(404);

    await startDirect('Chain', 'mgmt-purge-client');
    await until('mgmt-purge-client', 'Completed');
    expect((await client('purge', { instanceId: 'mgmt-purge-client' })).body).toEqual({
      instancesDeleted: 1,
    });
  });

  it('purges by filter: creation time and status; 400 without createdTimeFrom; 404 when nothing matched', async () => {
    const since = new Date().toISOString();
    await startDirect('Chain', 'filter-a');
    await startDirect('Chain', 'filter-b');
    await until('filter-a', 'Completed');
    await until('filter-b', 'Completed');
    expect((await call(webhook('/instances/'), { method: 'DELETE' })).status).toBe(400);
    const purged = await call(webhook(`/instances/?createdTimeFrom=${since}&runtimeStatus=Completed`), {
      method: 'DELETE',
    });
    expect(purged).toMatchObject({ status: 200, body: { instancesDeleted: 2 } });
    expect((await status('filter-a')).status).toBe(404);
    const again = await call(webhook(`/instances/?createdTimeFrom=${since}&runtimeStatus=Completed`), {
      method: 'DELETE',
    });
    expect(again.status).toBe(404);
    expect((await client('purgeBy', { createdTimeFrom: since, runtimeStatus: ['Completed'] })).body).toEqual({
      instancesDeleted: 0,
    });
  });

  it('restarts an instance with a new id, or with the same id when asked', async () => {
    await startDirect('Chain', 'mgmt-restart', { n: 1 });
    await until('mgmt-restart', 'Completed');
    const fresh = await call<{ id: string }>(webhook('/instances/mgmt-restart/restart'), { method: 'POST' });
    expect(fresh.status).toBe(202);
    expect(fresh.body.id).not.toBe('mgmt-restart');
    expect(await until(fresh.body.id, 'Completed')).toMatchObject({ input: { n: 1 } });
    const same = await call<{ id: string }>(
      webhook('/instances/mgmt-restart/restart?restartWithNewInstanceId=false'),
      {
        method: 'POST',
      },
    );
    expect(same.body.id).toBe('mgmt-restart');
    await until('mgmt-restart', 'Completed');
    expect((await call(webhook('/instances/nope/restart'), { method: 'POST' })).status).toBe(400);
  });

  it('does not rewind: 412 unless Failed, 501 for a failed instance', async () => {
    await startDirect('Failing', 'mgmt-rewind', 'x');
    await until('mgmt-rewind', 'Failed');
    expect((await call(webhook('/instances/mgmt-rewind/rewind?reason=r'), { method: 'POST' })).status).toBe(
      501,
    );
    await startDirect('Chain', 'mgmt-rewind-ok');
    await until('mgmt-rewind-ok', 'Completed');
    expect((await call(webhook('/instances/mgmt-rewind-ok/rewind'), { method: 'POST' })).status).toBe(412);
  });

  it('gives the durable client statuses it can read (getStatus with history)', async () => {
    await startDirect('Chain', 'mgmt-client-status');
    await until('mgmt-client-status', 'Completed');
    const answer = await client('getStatus', {
      instanceId: 'mgmt-client-status',
      options: { showHistory: true },
    });
    expect(answer.body).toMatchObject({
      name: 'Chain',
      runtimeStatus: 'Completed',
      instanceId: 'mgmt-client-status',
    });
  });
});
