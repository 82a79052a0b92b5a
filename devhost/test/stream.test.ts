import { type DevHostProcess, startDevHostProcess } from './harness';
import { fixture } from './support';

jest.setTimeout(30_000);

describe('an app that streams HTTP (app.setup({ enableHttpStream: true }))', () => {
  let host: DevHostProcess;

  beforeAll(async () => {
    host = await startDevHostProcess({ appDir: fixture('stream-app') });
  });
  afterAll(async () => {
    await host.stop();
  });

  it('passes each chunk on to the client as the function writes it', async () => {
    const response = await fetch(`${host.baseUrl}/api/ticks/3`, { headers: { 'x-who': 'tester' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-who')).toBe('tester');
    expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
    const arrivals: { text: string; at: number }[] = [];
    const decoder = new TextDecoder();
    for (;;) {
      const next = await reader?.read();
      if (!next || next.done) break;
      arrivals.push({ text: decoder.decode(next.value), at: Date.now() });
    }
    const lines = arrivals
      .map((a) => a.text)
      .join('')
      .trim()
      .split('\n');
    expect(lines.map((l) => l.split(' at ')[0])).toEqual(['tick 1', 'tick 2', 'tick 3']);
    // Streamed, not buffered: the first tick arrived well before the last was written.
    expect(arrivals.length).toBeGreaterThanOrEqual(2);
    const firstWritten = Number(lines[0]?.split(' at ')[1]);
    const lastWritten = Number(lines[2]?.split(' at ')[1]);
    expect(arrivals[0]?.at).toBeLessThan(lastWritten);
    expect(lastWritten - firstWritten).toBeGreaterThanOrEqual(300);
  });

  it('streams the request body to the function and gives it the query', async () => {
    const response = await fetch(`${host.baseUrl}/api/echo?q=yes`, { method: 'POST', body: 'hello there' });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ got: 'hello there', query: 'yes' });
  });

  it('answers 500 when the function throws before it answers', async () => {
    const response = await fetch(`${host.baseUrl}/api/broken`);
    expect(response.status).toBe(500);
    expect(host.logs()).toContain('broken on purpose');
  });
});
