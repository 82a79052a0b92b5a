import { emulatorsForThisFile } from './support';

describe('the lost-reply fault: the request is applied, the answer never arrives', () => {
  const emulated = emulatorsForThisFile({ log: () => undefined });
  beforeEach(() => fetch(`${emulated.server.url}/_emulator/reset`, { method: 'POST' }));

  const faults = (body: unknown) =>
    fetch(`${emulated.server.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const agents = (method: string, path: string, body?: unknown) =>
    fetch(`${emulated.server.projectEndpoint}/${path}?api-version=v1`, {
      method,
      headers: { 'content-type': 'application/json', authorization: 'Bearer local' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('creates the thread, then drops the connection; the next request answers normally', async () => {
    expect(
      (await faults({ lostReply: true, service: 'agents', path: '/threads', method: 'POST' })).status,
    ).toBe(201);
    await expect(agents('POST', 'threads', { metadata: { agentRunId: 'run-1' } })).rejects.toThrow();

    const list = (await (await agents('GET', 'threads')).json()) as { data: { metadata: unknown }[] };
    expect(list.data).toEqual([expect.objectContaining({ metadata: { agentRunId: 'run-1' } })]);

    const log = (await (await fetch(`${emulated.server.url}/_emulator/requests?service=agents`)).json()) as {
      requests: { operation: string; lostReply?: boolean }[];
    };
    expect(log.requests.map((r) => [r.operation, r.lostReply ?? false])).toEqual([
      ['createThread', true],
      ['listThreads', false],
    ]);
  });

  it('answers a chat completion, then drops it; the next one arrives', async () => {
    await faults({ lostReply: true, service: 'openai' });
    const ask = () =>
      fetch(`${emulated.server.openaiEndpoint}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'api-key': emulated.server.apiKey },
        body: JSON.stringify({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'What is 2 + 2?' }],
        }),
      });
    await expect(ask()).rejects.toThrow();
    expect((await ask()).status).toBe(200);
  });

  it.each([
    [{ lostReply: 'yes' }, /"lostReply" must be true/],
    [{ lostReply: true, status: 500 }, /cannot be combined/],
    [{ lostReply: true, content: 'x' }, /cannot be combined/],
  ])('refuses %j, naming the field', async (body, message) => {
    const response = await faults(body);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(message);
    const pending = (await (await fetch(`${emulated.server.url}/_emulator/faults`)).json()) as {
      faults: unknown[];
    };
    expect(pending.faults).toEqual([]);
  });
});
