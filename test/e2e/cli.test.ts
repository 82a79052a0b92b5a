import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { call, projectRoot, startProduct, type Product } from '../support/product';

// The command-line client, compiled, against the whole product: through --json as scripts use it, and
// through a pseudo-terminal (util-linux `script`) as a person does, with the progress bar and the
// approval question answered by keystrokes.

const cli = path.join(projectRoot, 'dist', 'cli', 'src', 'main.js');
let product: Product;

beforeAll(async () => {
  if (!existsSync(cli)) throw new Error(`${cli} does not exist: run "npm run build" first.`);
  product = await startProduct();
});

afterAll(async () => {
  await product?.stop();
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the client to its end, with no terminal: stdin is closed, stdout and stderr are pipes. */
function agent(args: string[], baseUrl = product.baseUrl): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, '--base-url', baseUrl, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AGENT_RUNS_BASE_URL: '', AGENT_RUNS_SCOPE: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

type Line = Record<string, unknown> & { type: string };

/** The NDJSON lines of --json output; each must be JSON on its own. */
function lines(out: string): Line[] {
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);
}

const resultOf = (out: string) => {
  const last = lines(out).at(-1);
  expect(last?.type).toBe('result');
  return last as Line & {
    exitCode: number;
    run: Record<string, unknown> & { links: Record<string, string> };
  };
};

async function runCount(): Promise<number> {
  const page = await call<{ items: unknown[] }>(`${product.baseUrl}/api/agent-runs?limit=100`);
  return page.body.items.length;
}

describe('agent --json', () => {
  it('runs through approval with --approve: events as lines, then the cited answer and exit 0', async () => {
    const ran = await agent([
      '--json',
      '--approval',
      '--approve',
      '--tool',
      'calculator',
      'What is 12 * 7 + 5? Then research the latest news on Azure Durable Functions.',
    ]);
    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    const all = lines(ran.stdout);
    expect(all[0]).toMatchObject({ type: 'started', runId: expect.any(String) as string });
    const runId = all[0]?.runId as string;
    const events = all.filter((l) => l.type === 'event');
    expect(events.map((e) => e.event)).toEqual(
      expect.arrayContaining(['stage', 'subtask', 'usage', 'draft', 'end']),
    );
    const ids = events.map((e) => Number(e.id));
    expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] ?? 0))).toBe(true);
    const draftAt = all.findIndex((l) => l.type === 'event' && l.event === 'draft');
    const decision = all.findIndex((l) => l.type === 'decision');
    expect(decision).toBeGreaterThan(draftAt);
    expect(all[decision]).toMatchObject({
      decision: 'approve',
      round: 0,
      draftId: expect.stringMatching(/^[0-9a-f]{16}$/) as unknown,
      state: 'taken',
    });

    const result = resultOf(ran.stdout);
    expect(result.exitCode).toBe(0);
    expect(result.run).toMatchObject({ id: runId, status: 'completed' });
    expect(String(result.run.answer)).toContain('89');
    expect((result.run.citations as unknown[]).length).toBeGreaterThan(0);
    expect(result.run.links.approval).toBe(`${product.baseUrl}/api/agent-runs/${runId}/approval`);
    expect((result.run.usage as { totalTokens: number }).totalTokens).toBeGreaterThan(0);
  });

  it('stops with 10 at a draft nobody here decides; a rejection then ends the run and follow exits 4', async () => {
    const waiting = await agent(['--json', '--approval', 'What is 2 + 2?']);
    expect(waiting.code).toBe(10);
    const atDraft = resultOf(waiting.stdout);
    expect(atDraft.exitCode).toBe(10);
    expect(atDraft.run.status).toBe('awaiting-approval');
    const runId = atDraft.run.id as string;

    const shown = await agent(['show', runId]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('Waiting for approval');
    expect(shown.stdout).toContain(`npm run agent -- approve ${runId} --round 0`);
    expect(shown.stdout).toMatch(/Draft \(round 0, draft [0-9a-f]{16}\)/);
    expect(shown.stdout).toContain(`Approval: ${product.baseUrl}/api/agent-runs/${runId}/approval`);

    // A decision names the round it decides: without one nothing is sent (exit 2), and a round not on
    // offer is refused by the API (exit 1).
    const bare = await agent(['reject', runId]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("required option '--round <n>' not specified");
    const wrongRound = await agent(['reject', runId, '--round', '1']);
    expect(wrongRound.code).toBe(1);
    expect(wrongRound.stderr).toMatch(/HTTP 409 Not the draft on offer/);

    const rejected = await agent(['reject', runId, '--round', '0', '--json']);
    expect(rejected.code).toBe(0);
    expect(JSON.parse(rejected.stdout)).toMatchObject({
      state: 'taken',
      decision: { decision: 'reject', round: 0 },
    });

    const followed = await agent(['follow', runId, '--json']);
    expect(followed.code).toBe(4);
    expect(resultOf(followed.stdout).run.status).toBe('rejected');
    const asText = await agent(['follow', runId]);
    expect(asText.code).toBe(4);
    expect(asText.stdout).toContain(`Rejected (run ${runId})`);

    // Deciding on a run that has ended says so, and exits 1.
    const late = await agent(['approve', runId, '--round', '0']);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain('HTTP 410');
  });

  it('refuses bad options with exit 2 and a message naming the option, and starts nothing', async () => {
    const before = await runCount();
    const badModel = await agent(['--json', '--model', 'huge', 'What is 1 + 1?']);
    expect(badModel.code).toBe(2);
    expect(badModel.stderr).toContain("option '--model <model>' argument 'huge' is invalid");
    expect(badModel.stderr).toContain('auto, fast, strong');
    const badTokens = await agent(['--max-tokens', '12', 'What is 1 + 1?']);
    expect(badTokens.code).toBe(2);
    expect(badTokens.stderr).toContain('--max-tokens must be at least 256');
    const unknown = await agent(['--frobnicate', 'What is 1 + 1?']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--frobnicate'");
    const noPrompt = await agent(['run']);
    expect(noPrompt.code).toBe(2);
    expect(noPrompt.stderr).toContain("missing required argument 'prompt'");
    const badUrl = await agent(['What is 1 + 1?'], 'ftp://example.com');
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('--base-url must be an http(s) URL');
    const help = await agent(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: agent [options] [command]');
    expect(help.stdout).toContain('Exit codes: 0 completed');
    const version = await agent(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string })
        .version,
    );
    // A deployed app needs a scope to sign in for: said before anything is sent.
    const noScope = await agent(['What is 1 + 1?'], 'https://agent-runs.example.invalid');
    expect(noScope.code).toBe(2);
    expect(noScope.stderr).toContain('needs a scope: pass --scope');
    expect(await runCount()).toBe(before);
  });

  it('passes the API refusal on with the field named and exit 1', async () => {
    const tooMany = await agent(['--json', '--tool', 'calculator', '--tool', 'calculator', 'What is 1 + 1?']);
    expect(tooMany.code).toBe(1);
    expect(tooMany.stderr).toContain('HTTP 400');
    expect(tooMany.stderr).toContain('tools');
    const error = lines(tooMany.stdout).at(-1);
    expect(error).toMatchObject({ type: 'error', exitCode: 1, problem: { status: 400 } });
  });

  it('exits 3 for a run whose every subtask failed, and names the failures in the text', async () => {
    await call(`${product.emulatorUrl}/_emulator/faults`, {
      body: { status: 500, count: 1000, service: 'agents' },
    });
    try {
      // The Agent Service fails every call: the research subtask gives up after its retries.
      const ran = await agent(['--research', 'Research the latest Azure news.']);
      expect(ran.code).toBe(3);
      expect(ran.stdout).toMatch(/^Failed \(run [0-9a-f-]{36}\)/);
      expect(ran.stdout).toContain('Failed subtasks:');
      expect(ran.stdout).toMatch(/Usage: \d+ tokens/);
      // Without a terminal the progress is one line per stage and subtask, on stderr.
      expect(ran.stderr).toMatch(/^Started run [0-9a-f-]{36}$/m);
      expect(ran.stderr).toMatch(/^subtask s1 failed: /m);
    } finally {
      await call(`${product.emulatorUrl}/_emulator/reset`, { body: {} });
    }
  });

  it('says how to decide when it cannot ask, and exits 10 while the run waits', async () => {
    const ran = await agent(['--approval', 'What is 5 + 5?']);
    expect(ran.code).toBe(10);
    const runId = /^Started run ([0-9a-f-]{36})$/m.exec(ran.stderr)?.[1] ?? '';
    expect(ran.stderr).toContain(`Run ${runId} waits for approval of round 0.`);
    expect(ran.stderr).toContain(`  ${product.baseUrl}/api/agent-runs/${runId}/approval`);
    expect(ran.stderr).toContain(`npm run agent -- approve ${runId} --round 0`);
    expect(ran.stdout).toBe('');
    const view = await call<{ status: string }>(`${product.baseUrl}/api/agent-runs/${runId}`);
    expect(view.body.status).toBe('awaiting-approval');
    const approved = await agent(['approve', runId, '--round', '0', '--comment', 'fine']);
    expect(approved.code).toBe(0);
    const followed = await agent(['follow', runId]);
    expect(followed.code).toBe(0);
    expect(followed.stdout).toContain('Approved by local-user: "fine"');
    expect(followed.stdout).toContain('5 + 5 = 10');
  });

  it('starts with --no-wait, lists, cancels, and follow exits 6 for the cancelled run', async () => {
    const started = await agent(['--no-wait', '--approval', 'What is 3 + 4?']);
    expect(started.code).toBe(0);
    const runId = started.stdout.split('\n')[0] ?? '';
    expect(started.stdout).toContain(`Approval: ${product.baseUrl}/api/agent-runs/${runId}/approval`);

    const listed = await agent(['list', '--limit', '100']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+STATUS\s+CREATED\s+TOKENS\s+PROMPT/);
    expect(listed.stdout).toContain(runId);
    const listedJson = await agent(['list', '--json', '--status', 'running,awaiting-approval']);
    const page = JSON.parse(listedJson.stdout) as { items: { id: string }[] };
    expect(page.items.map((r) => r.id)).toContain(runId);

    const cancelled = await agent(['cancel', runId]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toContain(`Cancelled run ${runId}.`);
    const followed = await agent(['follow', runId, '--json']);
    expect(followed.code).toBe(6);
    expect(resultOf(followed.stdout).run.status).toBe('terminated');
  });

  it('reconnects a dropped event stream with Last-Event-ID and misses nothing', async () => {
    const proxy = await startDroppingProxy(new URL(product.baseUrl).port);
    try {
      const ran = await agent(['--json', '--approval', '--approve', 'What is 6 * 7?'], proxy.url);
      expect(ran.code).toBe(0);
      const all = lines(ran.stdout);
      const reconnect = all.find((l) => l.type === 'reconnect');
      expect(reconnect).toBeDefined();
      // The second request for the stream carried the id of the last event the client had.
      expect(proxy.eventRequests.length).toBeGreaterThanOrEqual(2);
      expect(proxy.eventRequests[0]?.lastEventId).toBeUndefined();
      expect(proxy.eventRequests[1]?.lastEventId).toBe(reconnect?.lastEventId ?? undefined);
      const ids = all.filter((l) => l.type === 'event').map((e) => Number(e.id));
      expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] ?? 0))).toBe(true);
      expect(resultOf(ran.stdout).run.status).toBe('completed');
    } finally {
      await proxy.stop();
    }
  });
});

/**
 * A TCP proxy to the product that cuts the first event stream once its first events went through, as a
 * dropped connection would. It records each stream request's Last-Event-ID.
 */
async function startDroppingProxy(port: string): Promise<{
  url: string;
  eventRequests: { lastEventId?: string }[];
  stop(): Promise<void>;
}> {
  const eventRequests: { lastEventId?: string }[] = [];
  const sockets = new Set<Socket>();
  let dropped = false;
  const server: Server = createServer((client) => {
    sockets.add(client);
    const upstream = connect({ host: '127.0.0.1', port: Number(port) });
    sockets.add(upstream);
    let isFirstStream = false;
    // Connections are kept alive, so a stream request may come on a connection that served others.
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      if (/^GET \/api\/agent-runs\/[^/ ]+\/events /m.test(text)) {
        const id = /\r\nlast-event-id: *([^\r]*)\r\n/i.exec(text)?.[1];
        eventRequests.push(id === undefined ? {} : { lastEventId: id });
        isFirstStream = eventRequests.length === 1;
      }
      upstream.write(chunk);
    });
    let seen = '';
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      if (!isFirstStream || dropped) return;
      seen += chunk.toString('latin1');
      if (/\nevent: subtask\n/.test(seen)) {
        dropped = true;
        client.destroy();
        upstream.destroy();
      }
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxyPort = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    eventRequests,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

// util-linux `script` gives the client a real pseudo-terminal; it ships with Debian (bsdutils).
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasScript)
  console.warn('cli.test: util-linux `script` is not installed; the pseudo-terminal test is skipped.');
const onTerminal = hasScript ? it : it.skip;

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The client on a pseudo-terminal: what it has shown, waiting for text, and typing keys. */
function onPty(args: string[]) {
  const command = [process.execPath, cli, '--base-url', product.baseUrl, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, TERM: 'xterm', COLUMNS: '100', LINES: '40', AGENT_RUNS_BASE_URL: '' },
  });
  let screen = '';
  const waiters: { pattern: RegExp; count: number; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if ((screen.match(new RegExp(w.pattern.source, 'g')) ?? []).length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.on('data', (chunk: Buffer) => {
    screen += chunk.toString();
    check();
  });
  child.stderr.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  return {
    exited,
    screen: () => screen,
    /** Resolves once the screen has shown `pattern` `count` times; fails if the client ends first. */
    seen: (pattern: RegExp, count = 1) =>
      Promise.race([
        new Promise<void>((resolve) => {
          waiters.push({ pattern, count, resolve });
          check();
        }),
        exited.then(() => {
          throw new Error(`the client ended before showing ${String(pattern)}:\n${screen}`);
        }),
      ]),
    type: (keys: string) => child.stdin.write(keys),
    kill: () => child.kill(),
  };
}

describe('agent on a terminal', () => {
  onTerminal('draws the progress bar, asks about each draft and takes the answers typed', async () => {
    const pty = onPty(['--approval', 'What is 12 * 7 + 5?']);
    const { seen, type, exited } = pty;
    try {
      await seen(/Approve this draft\?/);
      expect(pty.screen()).toMatch(/awaiting-approval +#+ \d+\/\d+ subtasks \| \d+ tokens/);
      expect(pty.screen()).toContain('12 * 7 + 5 = 89');
      type('\u001b[B'); // down: "Reject and ask for a revision"
      type('\r');
      await seen(/What should change\?/);
      type('Add a summary line\r');
      await seen(/Revised draft \(round 1, draft [0-9a-f]{16}\)/);
      await seen(/Approve this draft\?/, 2);
      type('\r'); // Approve
      await seen(/Comment \(optional/);
      type('Looks right\r');
      expect(await exited).toBe(0);
    } finally {
      pty.kill();
    }
    expect(pty.screen()).toContain('Asked for a revision of draft round 0.');
    expect(pty.screen()).toContain('Approved draft round 1.');
    expect(pty.screen()).toMatch(/Completed \(run [0-9a-f-]{36}\)/);
    expect(pty.screen()).toContain('Approved by local-user after 1 revision: "Looks right"');
    expect(pty.screen()).toMatch(/Usage: \d+ tokens/);
    expect(pty.screen()).toMatch(
      /Approval: http:\/\/127\.0\.0\.1:\d+\/api\/agent-runs\/[0-9a-f-]{36}\/approval/,
    );
  });

  onTerminal('stops following on Ctrl-C at the question, with exit 130, and the run goes on', async () => {
    const pty = onPty(['--approval', 'What is 4 + 4?']);
    try {
      await pty.seen(/Approve this draft\?/);
      pty.type('\u0003');
      expect(await pty.exited).toBe(130);
    } finally {
      pty.kill();
    }
    const runId = /Stopped following run ([0-9a-f-]{36}); it goes on\./.exec(pty.screen())?.[1] ?? '';
    expect(pty.screen()).toContain(`npm run agent -- follow ${runId}`);
    const view = await call<{ status: string }>(`${product.baseUrl}/api/agent-runs/${runId}`);
    expect(view.body.status).toBe('awaiting-approval');
  });
});
