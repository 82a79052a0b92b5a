import { EmulatorState, maxLoggedRequests, type RequestRecord } from '../src/control';
import { emulatorAgentsClient } from './loopbackAgents';
import { emulatorsForThisFile } from './support';

const emulated = emulatorsForThisFile({ agentRunDurationMs: 200 });

beforeEach(async () => {
  await control('POST', '/_emulator/reset');
});

async function control<T = Record<string, unknown>>(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${emulated.server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function requests(query = ''): Promise<RequestRecord[]> {
  return (await control<{ requests: RequestRecord[] }>('GET', `/_emulator/requests${query}`)).body.requests;
}

const ask = (deployment = 'gpt-4o-mini', client = emulated.openai) =>
  client.chat.completions.create({
    model: deployment,
    messages: [{ role: 'user', content: 'What is 2 + 2?' }],
  });

describe('faults', () => {
  it('makes the openai SDK retry a 429 no sooner than retry-after-ms, then succeed', async () => {
    await control('POST', '/_emulator/faults', { status: 429, count: 1, retryAfterMs: 700 });

    const completion = await ask();

    expect(completion.choices[0]?.message.content).toContain('4');
    const log = await requests();
    expect(log.map((r) => r.status)).toEqual([429, 200]);
    expect(log[0]?.fault).toBe(429);
    expect((log[1]?.timeMs ?? 0) - (log[0]?.timeMs ?? 0)).toBeGreaterThanOrEqual(700);
    expect(Date.parse(log[1]?.time ?? '')).toBe(log[1]?.timeMs);
  });

  it('sends retry-after-ms, retry-after and the Azure error body with a 429', async () => {
    await control('POST', '/_emulator/faults', { status: 429, count: 1, retryAfterMs: 2500 });
    const response = await fetch(
      `${emulated.server.openaiEndpoint}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'api-key': emulated.server.apiKey },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
      },
    );
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after-ms')).toBe('2500');
    expect(response.headers.get('retry-after')).toBe('3');
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('429');
    expect(body.error.message).toMatch(/exceeded call rate limit.*retry after 3 seconds/);
  });

  it('makes the Agent Service SDK retry a 429 no sooner than retry-after-ms', async () => {
    const agents = emulatorAgentsClient(emulated.server.projectEndpoint);
    await control('POST', '/_emulator/faults', {
      status: 429,
      count: 1,
      retryAfterMs: 600,
      service: 'agents',
    });

    const agent = await agents.createAgent('gpt-4o');

    expect(agent.id).toMatch(/^asst_/);
    const log = await requests('?service=agents');
    expect(log.map((r) => [r.operation, r.status])).toEqual([
      ['createAgent', 429],
      ['createAgent', 200],
    ]);
    expect((log[1]?.timeMs ?? 0) - (log[0]?.timeMs ?? 0)).toBeGreaterThanOrEqual(600);
  });

  it('applies to the next n matching requests only, and only to the named deployment', async () => {
    await control('POST', '/_emulator/faults', { status: 503, count: 2, deployment: 'gpt-4o' });
    const noRetry = emulated.openai.withOptions({ maxRetries: 0 });

    await expect(ask('gpt-4o', noRetry)).rejects.toMatchObject({ status: 503 });
    await expect(ask('gpt-4o-mini', noRetry)).resolves.toBeDefined();
    await expect(ask('gpt-4o', noRetry)).rejects.toMatchObject({ status: 503 });
    await expect(ask('gpt-4o', noRetry)).resolves.toBeDefined();

    expect((await requests()).map((r) => `${r.deployment} ${r.status}`)).toEqual([
      'gpt-4o 503',
      'gpt-4o-mini 200',
      'gpt-4o 503',
      'gpt-4o 200',
    ]);
    expect((await control<{ faults: unknown[] }>('GET', '/_emulator/faults')).body.faults).toEqual([]);
  });

  it('matches by service, so an Agent Service fault leaves chat completions alone', async () => {
    await control('POST', '/_emulator/faults', { status: 500, count: 5, service: 'agents' });
    await expect(ask('gpt-4o-mini', emulated.openai.withOptions({ maxRetries: 0 }))).resolves.toBeDefined();
    expect(
      (await control<{ faults: { remaining: number }[] }>('GET', '/_emulator/faults')).body.faults,
    ).toEqual([expect.objectContaining({ remaining: 5, service: 'agents' })]);
  });

  it('delays an answer by delayMs without failing it when no status is given', async () => {
    await control('POST', '/_emulator/faults', { delayMs: 300, count: 1 });
    const started = Date.now();
    await ask();
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  it('answers with canned content instead of the model, for the next matching requests only', async () => {
    await control('POST', '/_emulator/faults', {
      content: 'not a plan at all',
      count: 1,
      deployment: 'gpt-4o-mini',
    });
    const canned = await emulated.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    expect(canned.choices[0]?.message.content).toBe('not a plan at all');
    expect(canned.usage?.completion_tokens).toBeGreaterThan(0);
    const real = await emulated.openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello.' }],
    });
    expect(real.choices[0]?.message.content).not.toBe('not a plan at all');
  });

  it('refuses a fault it cannot apply, naming the field', async () => {
    const response = await control<{ error: { message: string } }>('POST', '/_emulator/faults', {
      status: 418,
      count: 1,
    });
    expect(response.status).toBe(400);
    expect(response.body.error.message).toMatch(/"status" must be 429, 500 or 503/);
  });
});

describe('latency, the request log and reset', () => {
  it('adds latency to every answer until changed', async () => {
    expect((await control('POST', '/_emulator/latency', { ms: 250 })).body).toEqual({ latencyMs: 250 });
    const started = Date.now();
    await ask();
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect((await requests())[0]?.durationMs).toBeGreaterThanOrEqual(240);
  });

  it('records what was asked and what was answered, filterable by deployment', async () => {
    await emulated.openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'What is 6 * 7?' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'calculator',
            parameters: { type: 'object', properties: { expression: { type: 'string' } } },
          },
        },
      ],
    });
    await ask('gpt-4o-mini');

    const strong = await requests('?deployment=gpt-4o');
    expect(strong).toHaveLength(1);
    expect(strong[0]).toMatchObject({
      method: 'POST',
      path: '/openai/deployments/gpt-4o/chat/completions',
      apiVersion: '2024-10-21',
      service: 'openai',
      deployment: 'gpt-4o',
      status: 200,
      chat: {
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'What is 6 * 7?' },
        ],
        tools: ['calculator'],
        responseFormat: { type: 'text' },
        stream: false,
        reply: {
          content: null,
          toolCalls: [{ name: 'calculator', arguments: '{"expression":"6 * 7"}' }],
          finishReason: 'tool_calls',
        },
      },
    });
    expect(new Date(strong[0]?.time ?? '').toISOString()).toBe(strong[0]?.time);
    expect((await requests()).map((r) => r.deployment)).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('reset clears faults, latency and the log', async () => {
    await control('POST', '/_emulator/faults', { status: 500, count: 3 });
    await control('POST', '/_emulator/latency', { ms: 300 });
    await ask('gpt-4o-mini', emulated.openai.withOptions({ maxRetries: 0 })).catch(() => undefined);

    expect((await control('POST', '/_emulator/reset')).body).toEqual({ reset: true, latencyMs: 0 });

    expect(await requests()).toEqual([]);
    expect((await control<{ faults: unknown[] }>('GET', '/_emulator/faults')).body.faults).toEqual([]);
    const started = Date.now();
    await ask();
    expect(Date.now() - started).toBeLessThan(250);
  });
});

describe('the control API stays out of reach of web pages', () => {
  it.each([
    ['text/plain', 'text/plain'],
    ['a form', 'application/x-www-form-urlencoded'],
    ['no content type', undefined],
  ])('refuses a POST sent as %s, and changes nothing', async (_what, contentType) => {
    const response = await fetch(`${emulated.server.url}/_emulator/faults`, {
      method: 'POST',
      ...(contentType ? { headers: { 'content-type': contentType } } : {}),
      body: contentType ? JSON.stringify({ status: 500, count: 1 }) : null,
    });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain(
      'application/json',
    );
    expect((await control<{ faults: unknown[] }>('GET', '/_emulator/faults')).body.faults).toEqual([]);
  });

  it('keeps only the latest requests in its log', () => {
    const state = new EmulatorState(0);
    const record = (seq: number): RequestRecord => ({
      seq,
      method: 'GET',
      path: '/x',
      service: 'unknown',
      time: '',
      timeMs: 0,
      status: 200,
      durationMs: 0,
    });
    for (let seq = 1; seq <= 12; seq++) state.logRequest(record(seq), 10);
    expect(state.requests.map((r) => r.seq)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(state.droppedRequests).toBe(2);
    expect(maxLoggedRequests).toBeGreaterThan(0);
  });
});
