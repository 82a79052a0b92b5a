import { spawn } from 'node:child_process';
import path from 'node:path';
import { ActionType, actionInputJson, flattenActions } from '../src/durable/actions';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { EventType, historyEvent } from '../src/durable/history';
import { SqliteStore } from '../src/durable/sqlite-store';
import { type DurableStore, MemoryStore, type OrchestrationRecord } from '../src/durable/store';
import { expandGlob } from '../src/functions/loader';
import { compareRouteSpecificity, matchRoute, parseRouteTemplate } from '../src/http/routes';
import { fixture } from './support';

jest.setTimeout(30_000);

describe('route templates', () => {
  const match = (template: string, path: string) =>
    matchRoute(
      parseRouteTemplate(template),
      path.split('/').filter((s) => s !== ''),
    );

  it('matches literals case-insensitively and binds parameters', () => {
    expect(match('api/Items/{id}', 'api/items/7')).toEqual({ id: '7' });
    expect(match('api/items/{id}', 'api/items')).toBeUndefined();
    expect(match('api/items/{id}', 'api/items/7/extra')).toBeUndefined();
  });

  it('supports optional, default, constrained and catch-all parameters', () => {
    expect(match('api/items/{id?}', 'api/items')).toEqual({});
    expect(match('api/items/{page=1}', 'api/items')).toEqual({ page: '1' });
    expect(match('api/items/{id:int}', 'api/items/x')).toBeUndefined();
    expect(match('api/items/{id:guid}', 'api/items/3f2504e0-4f89-11d3-9a0c-0305e82c3301')).toBeDefined();
    expect(match('api/files/{*rest}', 'api/files/a/b')).toEqual({ rest: 'a/b' });
  });

  it('orders literal segments before parameters and catch-alls last', () => {
    const templates = ['api/{*all}', 'api/{name}', 'api/fixed'].map(parseRouteTemplate);
    expect(templates.sort(compareRouteSpecificity).map((t) => t.template)).toEqual([
      'api/fixed',
      'api/{name}',
      'api/{*all}',
    ]);
  });

  it('refuses a catch-all that is not the last segment', () => {
    expect(() => parseRouteTemplate('api/{*rest}/more')).toThrow('must be the last segment');
  });
});

describe('package.json main globs', () => {
  it('expands *, ** and {a,b} and skips node_modules', () => {
    expect(expandGlob(fixture('http-app'), 'src/{functions/*,hooks}.js')).toEqual([
      'src/functions/basics.js',
      'src/hooks.js',
    ]);
    expect(expandGlob(fixture('http-app'), 'src/**/*.js')).toEqual([
      'src/functions/basics.js',
      'src/hooks.js',
    ]);
    expect(expandGlob(fixture('http-app'), 'dist/*.js')).toEqual([]);
  });
});

describe('orchestrator actions', () => {
  it('numbers Task.all / Task.any children depth-first, as the SDK does', () => {
    const flat = flattenActions([
      { actionType: ActionType.CallActivity, functionName: 'a' },
      {
        actionType: ActionType.WhenAny,
        compoundActions: [
          {
            actionType: ActionType.WhenAll,
            compoundActions: [{ actionType: ActionType.CallActivity, functionName: 'b' }],
          },
          { actionType: ActionType.CreateTimer, fireAt: '2030-01-01T00:00:00Z' },
        ],
      },
    ]);
    expect(flat.map((a) => a.functionName ?? a.actionType)).toEqual(['a', 'b', ActionType.CreateTimer]);
  });

  it('keeps pre-encoded activity inputs and encodes raw ones', () => {
    expect(actionInputJson({ actionType: ActionType.CallActivity, input: '"text"' })).toBe('"text"');
    expect(actionInputJson({ actionType: ActionType.CallSubOrchestrator, input: 'text' })).toBe('"text"');
    expect(actionInputJson({ actionType: ActionType.CallActivity, input: { a: 1 } })).toBe('{"a":1}');
    expect(actionInputJson({ actionType: ActionType.CallActivity })).toBeNull();
  });
});

/** Every instance a store lists, read page by page with its continuation tokens. */
async function everyPage(store: DurableStore, pageSize: number): Promise<OrchestrationRecord[]> {
  const all: OrchestrationRecord[] = [];
  let token: string | undefined;
  do {
    const page = await store.queryInstances({ pageSize, ...(token ? { continuationToken: token } : {}) });
    all.push(...page.items);
    token = page.continuationToken;
  } while (token);
  return all;
}

describe('the in-memory store', () => {
  const record = (instanceId: string, createdTime: string): OrchestrationRecord => ({
    instanceId,
    name: 'X',
    executionId: 'e',
    runtimeStatus: 'Running',
    input: null,
    output: null,
    customStatus: null,
    createdTime,
    lastUpdatedTime: createdTime,
    nextEventId: 0,
    actionCursor: 0,
    retries: {},
    openTimers: {},
  });

  it('refuses a second non-terminal instance with the same id, and replaces a finished one', async () => {
    const store = new MemoryStore();
    await store.createInstance(record('a', '2030-01-01T00:00:00.000Z'));
    await expect(store.createInstance(record('a', '2030-01-01T00:00:01.000Z'))).rejects.toThrow(
      'already exists',
    );
    await store.updateInstance({ ...record('a', '2030-01-01T00:00:00.000Z'), runtimeStatus: 'Completed' });
    await expect(store.createInstance(record('a', '2030-01-01T00:00:02.000Z'))).resolves.toBeUndefined();
  });

  it('pages queries with a continuation token until every match was returned once', async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 5; i++) await store.createInstance(record(`i${i}`, `2030-01-01T00:00:0${i}.000Z`));
    const seen = (await everyPage(store, 2)).map((i) => i.instanceId);
    expect(seen).toEqual(['i0', 'i1', 'i2', 'i3', 'i4']);
  });

  it('pages instances and entities in the same order as the SQLite store, and hands out copies', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'store-order-'));
    const stores: DurableStore[] = [new MemoryStore(), new SqliteStore(dir)];
    const time = '2030-01-01T00:00:00.000Z';
    // Ids that a locale-aware order sorts differently from the byte order SQLite uses.
    const ids = ['b', 'B', 'a', 'A', '_x', 'Z9', 'z1'];
    const orders: { instances: string[]; entities: string[] }[] = [];
    try {
      for (const store of stores) {
        for (const id of ids) {
          await store.createInstance(record(id, time));
          await store.commitEntityBatch(
            { entityId: `@e@${id}`, name: 'e', key: id, exists: true, state: '1', lastOperationTime: time },
            [],
            [],
          );
        }
        const page = await everyPage(store, 3);
        const instances = page.map((i) => i.instanceId);
        for (const item of page) item.runtimeStatus = 'Failed';
        const entities = (await store.listEntities({ pageSize: 100 })).items.map((e) => e.key);
        orders.push({ instances, entities });
        expect((await store.queryInstances({ runtimeStatus: ['Failed'] })).items).toEqual([]);
      }
    } finally {
      for (const store of stores) await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const byteOrder = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    expect(orders).toEqual([
      { instances: byteOrder, entities: byteOrder },
      { instances: byteOrder, entities: byteOrder },
    ]);
  });

  // With room for every history, and with room for about two of them (the rest are evicted and read again).
  it.each([[undefined], [1200]])(
    'keeps running histories in memory only as committed: the same text as the file, purged or reset (cache %p)',
    async (historyCacheChars) => {
      const dir = mkdtempSync(path.join(tmpdir(), 'store-history-'));
      const store = new SqliteStore(dir, historyCacheChars === undefined ? {} : { historyCacheChars });
      const time = '2030-01-01T00:00:00.000Z';
      const event = (n: number) =>
        historyEvent(EventType.TaskScheduled, { EventId: n, Name: `step${String(n)}` });
      const ids = ['h0', 'h1', 'h2', 'h3', 'h4'];
      try {
        for (const id of ids) await store.createInstance(record(id, time));
        for (let round = 0; round < 4; round++) {
          for (const id of ids) {
            // Read as an episode does, then commit what it appends.
            await store.getHistoryText(id);
            await store.commitEpisode(id, {
              instance: record(id, time),
              append: [event(round)],
              consumed: [],
              send: [],
            });
          }
        }
        // A second instance created over a running one is refused and changes nothing.
        await expect(store.createInstance(record('h0', time))).rejects.toThrow('already exists');
        // Continue-as-new replaces the history; a purged and re-created instance starts empty.
        await store.commitEpisode('h1', {
          instance: record('h1', time),
          append: [event(9)],
          resetHistory: true,
          consumed: [],
          send: [],
        });
        await store.purgeInstance('h2');
        await store.createInstance(record('h2', time));
        await store.purgeInstance('h4');
        const fromStore = await Promise.all(ids.map((id) => store.getHistoryText(id)));
        const reopened = new SqliteStore(dir, { historyCacheChars: 0 });
        const fromFile = await Promise.all(ids.map((id) => reopened.getHistoryText(id)));
        await reopened.close();
        expect(fromStore).toEqual(fromFile);
        expect(fromStore.map((h) => h.count)).toEqual([4, 1, 0, 4, 0]);
        expect(
          (JSON.parse(`[${fromStore[1]?.text ?? ''}]`) as { Name: string }[]).map((e) => e.Name),
        ).toEqual(['step9']);
        expect((await store.getHistory('h3')).map((e) => e.Name)).toEqual([
          'step0',
          'step1',
          'step2',
          'step3',
        ]);
      } finally {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('returns copies, so callers cannot change stored state by accident', async () => {
    const store = new MemoryStore();
    await store.createInstance(record('c', '2030-01-01T00:00:00.000Z'));
    const copy = await store.getInstance('c');
    if (copy) copy.runtimeStatus = 'Failed';
    expect((await store.getInstance('c'))?.runtimeStatus).toBe('Running');
  });
});

describe('startDevHost (the library API, in a process of its own)', () => {
  it('starts an app in-process, reads process.env set before it, serves it and stops', async () => {
    const script = `
      const { startDevHost } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist', 'devhost', 'src', 'index.js'))});
      process.env.OVERRIDDEN = 'set by the calling script';
      (async () => {
        const lines = [];
        const host = await startDevHost({ appDir: ${JSON.stringify(fixture('http-app'))}, port: 0, log: (l) => lines.push(l) });
        const settings = await (await fetch(host.url + '/v1/settings')).json();
        await host.stop();
        console.log(JSON.stringify({ url: host.url, settings, listed: lines.some((l) => l.includes('hello: [GET,POST]')) }));
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    const result = JSON.parse(output.trim().split('\n').pop() ?? '{}') as {
      url: string;
      settings: Record<string, string>;
      listed: boolean;
    };
    expect(result.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(result.settings).toMatchObject({
      greeting: 'hello from local.settings.json',
      overridden: 'set by the calling script',
    });
    expect(result.listed).toBe(true);
  });

  it("lets the process end after stop, the library's HTTP stream proxy closed with the host", async () => {
    const script = `
      const { startDevHost } = require(${JSON.stringify(path.resolve(__dirname, '..', '..', 'dist', 'devhost', 'src', 'index.js'))});
      (async () => {
        const host = await startDevHost({ appDir: ${JSON.stringify(fixture('stream-app'))}, port: 0, log: () => undefined });
        const ticks = await (await fetch(host.url + '/ticks/1')).text();
        await host.stop();
        console.log(JSON.stringify({ ticks }));
      })().catch((e) => { console.error(e); process.exit(1); });
    `;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // A server left open keeps the process alive; after stop nothing may.
    const hung = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const exit = await new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    clearTimeout(hung);
    expect({ ...exit, output }).toMatchObject({ code: 0, signal: null });
    expect(output).toContain('"ticks"');
  });
});
