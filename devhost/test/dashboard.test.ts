import { createServer, request } from 'node:http';
import { type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Dashboard, isLoopbackAddress, isLoopbackHost } from '../src/dashboard/dashboard';
import { type DurableEngine } from '../src/durable/engine';
import { buildTimeline, formatDuration } from '../src/dashboard/timeline';
import { EventType, historyEvent } from '../src/durable/history';
import { SqliteStore } from '../src/durable/sqlite-store';
import { type DurableStore, MemoryStore, type OrchestrationRecord } from '../src/durable/store';
import { type DevHostProcess, startDevHostProcess } from './harness';
import { type Status, call, fixture, pollUntil } from './support';

jest.setTimeout(60_000);

describe('dashboard pieces', () => {
  it('knows loopback addresses and Host headers, and nothing else', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
      expect(isLoopbackAddress(a)).toBe(true);
    for (const a of ['10.0.0.1', '192.168.1.5', '::ffff:10.0.0.1', '', undefined])
      expect(isLoopbackAddress(a)).toBe(false);
    for (const h of ['127.0.0.1:7071', 'localhost', 'LOCALHOST:80', '[::1]:7071'])
      expect(isLoopbackHost(h)).toBe(true);
    for (const h of [
      'evil.example',
      'localhost.evil.example',
      '127.0.0.1.nip.io',
      '10.0.0.1:7071',
      '',
      undefined,
    ])
      expect(isLoopbackHost(h)).toBe(false);
  });

  it('refuses a client that is not on a loopback address, whatever Host it names', async () => {
    // Tests bind only 127.0.0.1, so the far client's address is what the socket reports: set it here.
    // The refusal comes before the dashboard reads anything, so it needs no engine.
    const dashboard = new Dashboard({} as DurableEngine, 'hub', () => ({ orchestrations: [], entities: [] }));
    const server = createServer((req, res) => {
      Object.defineProperty(req, 'socket', { value: { remoteAddress: '192.0.2.9' } });
      void dashboard.handle(req, res, new URL(req.url ?? '/', 'http://127.0.0.1'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const answer = await fetch(`http://127.0.0.1:${port}/_devhost/`);
      expect(answer.status).toBe(403);
      expect(await answer.text()).toContain('only loopback clients');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('joins scheduled work with its answer into timed items, and keeps unanswered ones pending', () => {
    const at = (ms: number) => new Date(Date.UTC(2030, 0, 1, 0, 0, 0, ms));
    const timeline = buildTimeline([
      historyEvent(EventType.OrchestratorStarted, {}, at(0)),
      historyEvent(EventType.ExecutionStarted, { Name: 'Flow', Input: '"x"' }, at(0)),
      historyEvent(EventType.TaskScheduled, { EventId: 0, Name: 'A', Input: '1' }, at(10)),
      historyEvent(EventType.TimerCreated, { EventId: 1, FireAt: at(900).toISOString() }, at(10)),
      historyEvent(EventType.TaskFailed, { TaskScheduledId: 0, Reason: 'boom' }, at(260)),
      historyEvent(
        EventType.SubOrchestrationInstanceCreated,
        { EventId: 2, Name: 'C', InstanceId: 'kid' },
        at(300),
      ),
      historyEvent(EventType.EventRaised, { Name: 'go', Input: '{"ok":true}' }, at(400)),
      historyEvent(
        EventType.SubOrchestrationInstanceCompleted,
        { TaskScheduledId: 2, Result: '"r"' },
        at(1300),
      ),
      historyEvent(
        EventType.ExecutionCompleted,
        { OrchestrationStatus: 'Completed', Result: '"done"' },
        at(1300),
      ),
    ]);
    expect(timeline.map((i) => [i.kind, i.name, i.outcome, i.durationMs])).toEqual([
      ['started', 'Flow', 'done', undefined],
      ['activity', 'A', 'failed', 250],
      ['timer', '', 'pending', undefined],
      ['sub-orchestration', 'C', 'completed', 1000],
      ['event-raised', 'go', 'done', undefined],
      ['completed', 'Completed', 'done', undefined],
    ]);
    expect(timeline[1]?.reason).toBe('boom');
    expect(timeline[3]).toMatchObject({ instanceId: 'kid', result: '"r"' });
    expect([850, 1250, 65_000, 3_720_000, 90_000_000].map(formatDuration)).toEqual([
      '850 ms',
      '1.25 s',
      '1 min 5 s',
      '1 h 2 min',
      '1 d 1 h',
    ]);
  });

  const stores: [string, () => { store: DurableStore; done: () => void }][] = [
    ['memory', () => ({ store: new MemoryStore(), done: () => undefined })],
    [
      'sqlite',
      () => {
        const dir = mkdtempSync(path.join(tmpdir(), 'dashboard-store-'));
        const store = new SqliteStore(dir);
        return { store, done: () => rmSync(dir, { recursive: true, force: true }) };
      },
    ],
  ];
  describe.each(stores)('the %s store', (_kind, open) => {
    it('filters instances by name and pages them newest first', async () => {
      const { store, done } = open();
      const record = (instanceId: string, name: string, second: number): OrchestrationRecord => ({
        instanceId,
        name,
        executionId: 'e',
        runtimeStatus: 'Running',
        input: null,
        output: null,
        customStatus: null,
        createdTime: `2030-01-01T00:00:0${second}.000Z`,
        lastUpdatedTime: `2030-01-01T00:00:0${second}.000Z`,
        nextEventId: 0,
        actionCursor: 0,
        retries: {},
        openTimers: {},
      });
      for (let i = 0; i < 5; i++)
        await store.createInstance(record(`i${i}`, i % 2 === 0 ? 'Even' : 'Odd', i));
      const seen: string[] = [];
      let token: string | undefined;
      do {
        const page = await store.queryInstances({
          name: 'Even',
          newestFirst: true,
          pageSize: 2,
          ...(token ? { continuationToken: token } : {}),
        });
        seen.push(...page.items.map((i) => i.instanceId));
        token = page.continuationToken;
      } while (token);
      expect(seen).toEqual(['i4', 'i2', 'i0']);
      expect((await store.queryInstances({})).items.map((i) => i.instanceId)).toEqual([
        'i0',
        'i1',
        'i2',
        'i3',
        'i4',
      ]);
      await store.close();
      done();
    });
  });
});

// What a model might write: markup that would run if it were ever parsed as HTML.
const hostile = '<script>window.__owned = 1</script><img src=x onerror="window.__owned = 2">';

describe('the dashboard over HTTP', () => {
  let host: DevHostProcess;
  const webhook = (p: string) => `${host.baseUrl}/runtime/webhooks/durabletask${p}`;
  const dash = (p: string) => `${host.baseUrl}/_devhost${p}`;
  const start = (name: string, id: string, input: unknown) =>
    call(webhook(`/orchestrators/${name}/${id}`), { body: JSON.stringify(input) });
  const until = (id: string, runtimeStatus: string) =>
    pollUntil(
      async () => (await call<Status>(webhook(`/instances/${id}`))).body,
      (s) => s.runtimeStatus === runtimeStatus,
    );

  beforeAll(async () => {
    host = await startDevHostProcess({ appDir: fixture('dashboard-app'), args: ['--log', 'quiet'] });
    expect((await start('Steps', 'http-steps', 'hello')).status).toBe(202);
    expect((await start('WaitForApproval', 'http-wait', { text: hostile })).status).toBe(202);
    expect((await start('Fails', 'http-fails', null)).status).toBe(202);
    await until('http-steps', 'Completed');
    await until('http-fails', 'Failed');
    await pollUntil(
      async () => (await call<Status>(webhook('/instances/http-wait'))).body,
      (s) => s.customStatus !== null,
    );
  });
  afterAll(async () => {
    await host.stop();
  });

  it('lists instances newest first with filters and continuation paging', async () => {
    type List = { items: Status[]; continuationToken: string | null };
    const all = await call<List>(dash('/api/instances'));
    expect(all.status).toBe(200);
    const ids = all.body.items.map((i) => i.instanceId);
    // The sub-orchestration of Steps is listed too, with its generated id.
    expect(ids).toEqual(expect.arrayContaining(['http-steps', 'http-wait', 'http-fails']));
    expect(ids.indexOf('http-fails')).toBeLessThan(ids.indexOf('http-steps'));

    const failed = await call<List>(dash('/api/instances?status=Failed'));
    expect(failed.body.items.map((i) => i.instanceId)).toEqual(['http-fails']);
    const byName = await call<List>(dash('/api/instances?name=WaitForApproval'));
    expect(byName.body.items.map((i) => [i.instanceId, i.customStatus])).toEqual([
      ['http-wait', { waitingFor: 'Approve' }],
    ]);
    const byPrefix = await call<List>(dash('/api/instances?prefix=http-&status=Running,Completed'));
    expect(byPrefix.body.items.map((i) => i.instanceId).sort()).toEqual(['http-steps', 'http-wait']);
    const future = await call<List>(dash('/api/instances?createdFrom=2999-01-01T00:00'));
    expect(future.body.items).toEqual([]);

    const paged: string[] = [];
    let token: string | null = null;
    do {
      const page: { body: List } = await call<List>(
        dash(`/api/instances?prefix=http-&top=1${token ? `&continuation=${token}` : ''}`),
      );
      paged.push(...page.body.items.map((i) => i.instanceId));
      token = page.body.continuationToken;
    } while (token);
    expect(paged).toEqual(['http-fails', 'http-wait', 'http-steps']);
  });

  it('refuses bad filters with problem+json naming the field', async () => {
    for (const [query, field] of [
      ['status=Bogus', 'status'],
      ['top=0', 'top'],
      ['createdFrom=yesterday', 'createdFrom'],
      ['continuation=not%20a%20token', 'continuation'],
    ] as const) {
      const answer = await call<{ field: string; status: number }>(dash(`/api/instances?${query}`));
      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toBe('application/problem+json');
      expect(answer.body).toMatchObject({ status: 400, field });
    }
    const page = await call(dash('/?top=9999'), { headers: { accept: 'text/html' } });
    expect(page.status).toBe(400);
    expect(page.text).toContain('top: must be a whole number');
  });

  it('gives an instance its timeline with durations', async () => {
    const answer = await call<{
      instance: Status;
      historyLength: number;
      timeline: { kind: string; name: string; outcome: string; durationMs?: number; instanceId?: string }[];
    }>(dash('/api/instances/http-steps'));
    expect(answer.status).toBe(200);
    expect(answer.body.instance).toMatchObject({ runtimeStatus: 'Completed', input: 'hello' });
    const kinds = answer.body.timeline.map((i) => [i.kind, i.name, i.outcome]);
    expect(kinds).toEqual([
      ['started', 'Steps', 'done'],
      ['activity', 'Echo', 'completed'],
      ['timer', '', 'completed'],
      ['sub-orchestration', 'Child', 'completed'],
      ['event-sent', 'signal add', 'done'],
      ['completed', 'Completed', 'done'],
    ]);
    const timer = answer.body.timeline[2];
    expect(timer?.durationMs).toBeGreaterThanOrEqual(40);
    expect(answer.body.timeline[3]?.instanceId).toMatch(/:2$/);
    expect((await call(dash('/api/instances/nope'))).status).toBe(404);

    const failed = await call<{ timeline: { kind: string; outcome: string; reason?: string }[] }>(
      dash('/api/instances/http-fails'),
    );
    expect(failed.body.timeline.find((i) => i.kind === 'activity')).toMatchObject({
      outcome: 'failed',
      reason: expect.stringContaining('the activity failed on purpose') as unknown,
    });
  });

  it('serves pages with a strict CSP and escapes what instances hold', async () => {
    const page = await call(dash('/instances/http-wait'));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(page.text).toContain('Local development host — not Azure');
    expect(page.text).toContain('&lt;script&gt;window.__owned = 1&lt;/script&gt;&lt;img src=x onerror=');
    expect(page.text).not.toContain('<script>window');
    expect(page.text).not.toContain('<img');
    // The only script is the fixed file, carrying this answer's nonce; no inline handlers.
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1] ?? '';
    expect([...page.text.matchAll(/<script\b[^>]*>/g)].map((m) => m[0])).toEqual([
      `<script nonce="${nonce}" src="/_devhost/app.js">`,
    ]);
    expect(page.text).not.toMatch(/<[a-z][^>]*\son[a-z]+=/i);

    const script = await call(dash('/app.js'));
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.text).toContain('textContent');
    expect((await call(dash('/app.css'))).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await call(dash('/instances/nope'))).status).toBe(404);
    const redirect = await fetch(dash(''), { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([308, '/_devhost/']);
    expect((await call(dash('/'), { method: 'POST', body: '{}' })).status).toBe(405);
  });

  it('lists entities and shows one entity state', async () => {
    // Steps signals the entity as it ends; the signal is handled after the orchestration completes.
    await pollUntil(
      async () => (await call(webhook('/entities/Tally/steps'))).status,
      (code) => code === 200,
    );
    const list = await call(dash('/entities'));
    expect(list.status).toBe(200);
    expect(list.text).toContain('href="/_devhost/entity?id=%40tally%40steps"');
    const one = await call(dash('/entity?id=%40tally%40steps'));
    expect(one.status).toBe(200);
    expect(one.text).toMatch(/<pre class="value" id="entity-state">1<\/pre>/);
    expect((await call(dash('/entity?id=%40tally%40none'))).status).toBe(404);
  });

  it('refuses management calls a browser sends from another site, and takes the same call from the dashboard', async () => {
    expect((await start('WaitForApproval', 'csrf-wait', { text: 'x' })).status).toBe(202);
    await until('csrf-wait', 'Running');
    const terminate = (headers: Record<string, string>) =>
      call(webhook('/instances/csrf-wait/terminate?reason=csrf'), { method: 'POST', headers });
    const foreign = await terminate({ origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('content-type')).toBe('application/problem+json');
    expect((await terminate({ 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect(
      (await call(`${host.baseUrl}/admin/functions/anything`, { body: {}, headers: { origin: 'null' } }))
        .status,
    ).toBe(403);
    expect((await call<Status>(webhook('/instances/csrf-wait'))).body.runtimeStatus).toBe('Running');
    expect((await terminate({ origin: host.baseUrl, 'sec-fetch-site': 'same-origin' })).status).toBe(202);
    await until('csrf-wait', 'Terminated');
  });

  it('refuses a Host header that is not loopback (a DNS-rebinding page), and serves the same page otherwise', async () => {
    const get = (hostHeader: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: host.port, path: '/_devhost/', headers: { host: hostHeader } },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const refused = await get(`evil.example:${host.port}`);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('only loopback');
    expect((await get(`localhost:${host.port}`)).status).toBe(200);
  });
});
