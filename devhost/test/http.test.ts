import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { type DevHostProcess, devhostCli, startDevHostProcess } from './harness';
import { call, fixture, waitForLog } from './support';

jest.setTimeout(30_000);

describe('an HTTP app (CommonJS, glob main, routePrefix "v1", hooks)', () => {
  let host: DevHostProcess;
  const url = (path: string) => `${host.baseUrl}${path}`;

  beforeAll(async () => {
    host = await startDevHostProcess({
      appDir: fixture('http-app'),
      env: { OVERRIDDEN: 'from the environment' },
    });
  });
  afterAll(async () => {
    await host.stop();
  });

  it('lists every function at start: HTTP ones with methods and URL, others by trigger type', () => {
    expect(host.logs()).toContain(`hello: [GET,POST] ${host.baseUrl}/v1/hello`);
    expect(host.logs()).toContain(`products: [GET] ${host.baseUrl}/v1/products/{category:alpha}/{id:int?}`);
    expect(host.logs()).toContain('nightly: timerTrigger');
  });

  it('serves a function under its name when it has no route, below the host.json routePrefix', async () => {
    expect(await call(url('/v1/hello?name=Ada'))).toMatchObject({ status: 200, text: 'Hello, Ada!' });
    expect(await call(url('/v1/hello'), { method: 'POST', body: 'Grace' })).toMatchObject({
      status: 200,
      text: 'Hello, Grace!',
    });
    expect((await call(url('/api/hello'))).status).toBe(404);
  });

  it('answers 404 for unknown routes and for methods a function does not accept', async () => {
    expect((await call(url('/v1/nope'))).status).toBe(404);
    expect((await call(url('/v1/hello'), { method: 'DELETE' })).status).toBe(404);
  });

  it('binds route parameters, honours constraints and optional segments, and prefers literals', async () => {
    expect((await call(url('/v1/products/books/42'))).body).toEqual({ category: 'books', id: '42' });
    expect((await call(url('/v1/products/books'))).body).toEqual({ category: 'books', id: null });
    expect((await call(url('/v1/products/featured'))).body).toEqual({ featured: true });
    expect((await call(url('/v1/products/123'))).status).toBe(404);
    expect((await call(url('/v1/products/books/abc'))).status).toBe(404);
  });

  it('gives a catch-all parameter the rest of the path', async () => {
    expect((await call(url('/v1/files/a/b/c.txt'))).body).toEqual({ path: 'a/b/c.txt' });
    expect((await call(url('/v1/files'))).body).toEqual({ path: null });
  });

  it('returns the status code, headers, cookies and binary body the function set', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255, 13, 10]);
    const response = await fetch(url('/v1/echo'), {
      method: 'POST',
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(response.status).toBe(201);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(bytes);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('x-echo-length')).toBe('7');
    expect(response.headers.get('set-cookie')).toBe(
      'session=abc123; Path=/; Max-Age=60; HttpOnly; SameSite=Lax',
    );

    expect(await call(url('/v1/status/418'))).toMatchObject({ status: 418, body: { method: 'GET' } });
    expect(await call(url('/v1/status/409'), { method: 'DELETE' })).toMatchObject({
      status: 409,
      body: { method: 'DELETE' },
    });
  });

  it('passes request headers and cookies to the function', async () => {
    const answer = await call(url('/v1/headers'), { headers: { 'x-custom': 'yes', cookie: 'a=1; b=2' } });
    expect(answer.body).toEqual({ custom: 'yes', cookie: 'a=1; b=2' });
  });

  it('runs authLevel "function" endpoints without a key and ignores code=, as func start does', async () => {
    expect(await call(url('/v1/secure'))).toMatchObject({ status: 200, text: 'secret stuff' });
    expect(await call(url('/v1/secure?code=anything'))).toMatchObject({ status: 200, text: 'secret stuff' });
  });

  it('answers 400 to a request whose Host header is not a host, and keeps serving', async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: host.port }, () => {
        socket.end('GET /v1/hello HTTP/1.1\r\nHost: exa mple\r\nConnection: close\r\n\r\n');
      });
      let answer = '';
      socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect((await call(url('/v1/boom'))).status).toBe(500); // still serving
  });

  it("answers what Node's parser refuses with Node's status, and closes without resetting the connection", async () => {
    const raw = (request: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: host.port }, () => {
          const [head = '', body = ''] = request.split('\r\n\r\n');
          socket.write(`${head}\r\n\r\n`);
          socket.end(body);
        });
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.on('close', () => resolve(answer));
        socket.on('error', reject);
      });
    const badLength = await raw(
      'POST /v1/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 99999999999999999999999\r\n\r\nGrace',
    );
    expect(badLength).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const hugeHeaders = await raw(
      `GET /v1/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(hugeHeaders).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(await call(url('/v1/hello?name=Ada'))).toMatchObject({ status: 200, text: 'Hello, Ada!' });
  });

  it('logs a request the client abandons mid-body as aborted, not as a host failure, and keeps serving', async () => {
    const socket = connect({ host: '127.0.0.1', port: host.port }, () => {
      socket.write(
        'POST /v1/hello HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nGra',
      );
      setTimeout(() => socket.destroy(), 50);
    });
    socket.on('error', () => undefined);
    await waitForLog(() => host.logs(), /POST \/v1\/hello aborted by the client before its body arrived/);
    expect(host.logs()).not.toMatch(/POST \/v1\/hello failed/);
    expect(await call(url('/v1/hello?name=Ada'))).toMatchObject({ status: 200, text: 'Hello, Ada!' });
  });

  it('answers 500 when the handler throws, and logs the error', async () => {
    expect((await call(url('/v1/boom'))).status).toBe(500);
    expect(host.logs()).toContain('handler exploded');
  });

  it('puts local.settings.json Values into the environment, with existing variables winning', async () => {
    expect((await call(url('/v1/settings'))).body).toEqual({
      greeting: 'hello from local.settings.json',
      overridden: 'from the environment',
      websiteHostname: `127.0.0.1:${host.port}`,
    });
  });

  it('runs appStart once and the invocation hooks around every invocation; postInvocation can replace the result', async () => {
    await call(url('/v1/hello'));
    const hooked = await call(url('/v1/hooked'));
    expect(hooked.body).toEqual({ replacedBy: 'postInvocation', original: { from: 'handler' } });
    const calls = (await call<string[]>(url('/v1/hookCalls'))).body;
    expect(calls.filter((c) => c === 'appStart')).toHaveLength(1);
    expect(calls).toEqual(
      expect.arrayContaining(['pre:hello', 'post:hello:true', 'pre:hooked', 'post:hooked:true']),
    );
  });

  it('logs one line per request and the invocation lines', async () => {
    await call(url('/v1/hello?name=log'));
    await waitForLog(() => host.logs(), /GET \/v1\/hello\?name=log 200 \d+ms/);
    expect(host.logs()).toMatch(
      /Executing 'Functions\.hello' \(Reason='This function was programmatically called via the host APIs\.', Id=[0-9a-f-]+\)/,
    );
    expect(host.logs()).toMatch(/Executed 'Functions\.hello' \(Succeeded, Id=[0-9a-f-]+, Duration=\d+ms\)/);
    expect(host.logs()).toMatch(/Executed 'Functions\.boom' \(Failed, Id=[0-9a-f-]+, Duration=\d+ms\)/);
  });
});

describe('an ES module app', () => {
  it('loads with import() and runs its orchestration through the real durable client', async () => {
    const host = await startDevHostProcess({ appDir: fixture('esm-app'), args: ['--log', 'quiet'] });
    try {
      const answer = await call(`${host.baseUrl}/api/shout`, { method: 'POST', body: 'hey' });
      expect(answer).toMatchObject({ status: 200, body: 'HEY!!' });
      expect(host.logs()).not.toContain("Executing 'Functions.Shout'");
    } finally {
      await host.stop();
    }
  });
});

describe('the devhost command', () => {
  it('stops cleanly with exit code 0 on SIGINT', async () => {
    const child = spawn(
      process.execPath,
      [devhostCli, 'start', '--app', fixture('http-app'), '--port', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready: ${output}`)), 20_000);
      child.stdout.on('data', () => {
        if (output.includes('Listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(output).toContain('SIGINT: stopping the host.');
  });

  it('fails with a message that names the problem when the app folder has no package.json', async () => {
    const child = spawn(
      process.execPath,
      [devhostCli, 'start', '--app', fixture('missing-app'), '--port', '0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(output).toContain('No package.json in');
    expect(output).toContain('missing-app');
  });
});
