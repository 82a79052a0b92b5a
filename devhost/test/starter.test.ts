import { startDevHostProcess, type DevHostProcess } from './harness';
import { type Status, call, fixture, pollUntil } from './support';

jest.setTimeout(30_000);

/**
 * Regressions found by running public Durable Functions samples under the devhost: what the host hands an
 * HTTP function (no body for a bodiless request, the query as a map), and the ids of sub-orchestrations
 * started without one.
 */
describe('patterns of public Durable Functions samples', () => {
  let host: DevHostProcess;
  const api = (path: string) => `${host.baseUrl}/api${path}`;
  const webhook = (path: string) => `${host.baseUrl}/runtime/webhooks/durabletask${path}`;

  beforeAll(async () => {
    host = await startDevHostProcess({ appDir: fixture('starter-app'), args: ['--log', 'quiet'] });
  });
  afterAll(async () => {
    await host.stop();
  });

  it('hands a function no body when the request has none, as the host does (Content-Length 0)', async () => {
    expect((await call(api('/inspect'))).body).toMatchObject({ bodyIsNull: true });
    expect((await call(api('/inspect'), { method: 'POST' })).body).toMatchObject({ bodyIsNull: true });
    expect((await call(api('/inspect'), { method: 'POST', body: 'x' })).body).toMatchObject({
      bodyIsNull: false,
    });
  });

  it('passes the query string as a map, repeated keys joined with a comma as the host does', async () => {
    expect((await call(api('/inspect?flavour=plain'))).body).toMatchObject({ flavour: 'plain' });
    expect((await call(api('/inspect?flavour=salt&flavour=pepper'))).body).toMatchObject({
      flavour: 'salt,pepper',
    });
    expect((await call(api('/inspect'))).body).toMatchObject({ flavour: null });
  });

  it('starts an orchestration from a bare GET and waits on it with options from the query', async () => {
    const started = await call<{ id: string; statusQueryGetUri: string }>(api('/launch/ReportId'));
    expect(started.status).toBe(202);
    const done = await pollUntil(
      async () => (await call<Status>(started.body.statusQueryGetUri)).body,
      (s) => s.runtimeStatus === 'Completed',
    );
    expect(done.output).toBe(started.body.id);

    const waited = await call(api('/launch/Pause?waitSeconds=10'));
    expect(waited).toMatchObject({ status: 200, body: 'rested' });
  });

  it('names a sub-orchestration started without an id "<parent execution id>:<task id>", one per retry attempt', async () => {
    const started = await call<{ id: string }>(api('/launch/Family'));
    const done = await pollUntil(
      async () => (await call<Status>(webhook(`/instances/${started.body.id}`))).body,
      (s) => ['Completed', 'Failed'].includes(s.runtimeStatus),
    );
    const output = done.output as { first: string; second: string; gaveUp: boolean };
    expect(output.gaveUp).toBe(true);
    const prefix = /^([0-9a-f]{32}):0$/.exec(output.first)?.[1];
    expect(prefix).toBeDefined();
    expect(output.second).toBe(`${prefix}:1`);

    // Attempts of the retried call are tasks 2 and 4 (task 3 is the retry timer).
    const children = await call<Status[]>(webhook(`/instances?instanceIdPrefix=${prefix}`));
    expect(
      children.body
        .map((c) => [c.instanceId, c.name, c.runtimeStatus])
        .sort((a, b) => a[0]!.localeCompare(b[0]!)),
    ).toEqual([
      [`${prefix}:0`, 'ReportId', 'Completed'],
      [`${prefix}:1`, 'ReportId', 'Completed'],
      [`${prefix}:2`, 'Broken', 'Failed'],
      [`${prefix}:4`, 'Broken', 'Failed'],
    ]);
  });

  it('adds a bearer token for a ManagedIdentityTokenSource, or fails the call without sending it', async () => {
    const started = await call<{ id: string }>(api('/launch/CallAsApp'), {
      method: 'POST',
      body: JSON.stringify(api('/authorization')),
    });
    const done = await pollUntil(
      async () => (await call<Status>(webhook(`/instances/${started.body.id}`))).body,
      (s) => ['Completed', 'Failed'].includes(s.runtimeStatus),
    );
    // With an Azure login on the machine the call carries its token; without one (CI) it never goes out.
    if (done.runtimeStatus === 'Completed') {
      expect((done.output as { authorization: string }).authorization).toMatch(/^Bearer \S+/);
    } else {
      expect(done.output).toMatch(/Http request to .*\/api\/authorization failed: .*credential/i);
    }
  });
});
