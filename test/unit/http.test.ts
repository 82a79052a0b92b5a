import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { problem, readJsonBody, withProblemAnswers, zodProblem } from '../../src/lib/http';

const schema = z.strictObject({
  prompt: z.string({ error: 'is required and must be a string' }).min(1, { error: 'must not be empty' }),
  approval: z
    .strictObject({
      required: z.boolean({ error: 'must be true or false' }),
      timeoutMinutes: z.number({ error: 'must be a number of minutes' }).positive().optional(),
      approvers: z.array(z.string({ error: 'must be a string' })).optional(),
    })
    .optional(),
  maxTokens: z.number().int().optional(),
});

function post(body: string | Uint8Array | undefined, headers: Record<string, string> = {}) {
  return new HttpRequest({
    method: 'POST',
    url: 'http://localhost/api/agent-runs',
    headers: { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? { string: body } : { bytes: body } }),
  });
}

async function refusal(request: HttpRequest, maxBytes = 1024) {
  const result = await readJsonBody(request, schema, { maxBytes });
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.value)}`);
  return result.response;
}

type ProblemBody = {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { field: string; message: string }[];
  [key: string]: unknown;
};
const bodyOf = (response: HttpResponseInit) => response.jsonBody as ProblemBody;
const headersOf = (response: HttpResponseInit) => new Headers(response.headers);

describe('problem', () => {
  it('answers application/problem+json with the RFC 9457 fields, extras and headers', () => {
    const response = problem(
      429,
      'Token quota exceeded',
      'Too much.',
      { remaining: 3 },
      { 'Retry-After': '60' },
    );
    expect(response.status).toBe(429);
    expect(headersOf(response).get('content-type')).toBe('application/problem+json');
    expect(headersOf(response).get('retry-after')).toBe('60');
    expect(response.jsonBody).toEqual({
      type: 'about:blank',
      title: 'Token quota exceeded',
      status: 429,
      detail: 'Too much.',
      remaining: 3,
    });
  });

  it('does not let extras contradict the status or title', () => {
    expect(problem(404, 'Run not found', undefined, { status: 200, title: 'OK' }).jsonBody).toEqual({
      type: 'about:blank',
      title: 'Run not found',
      status: 404,
    });
  });
});

describe('readJsonBody', () => {
  it('returns the parsed value for a valid body', async () => {
    const result = await readJsonBody(post('{"prompt":"hi","approval":{"required":true}}'), schema, {
      maxBytes: 1024,
    });
    expect(result).toEqual({ ok: true, value: { prompt: 'hi', approval: { required: true } } });
  });

  it.each(['application/json; charset=utf-8', 'application/merge-patch+json', 'Application/JSON'])(
    'accepts the JSON media type %s',
    async (contentType) => {
      const result = await readJsonBody(post('{"prompt":"hi"}', { 'content-type': contentType }), schema, {
        maxBytes: 1024,
      });
      expect(result.ok).toBe(true);
    },
  );

  it.each([
    ['text/plain', /Content-Type text\/plain is not JSON/],
    ['application/x-www-form-urlencoded', /is not JSON/],
    ['application/jsonx', /is not JSON/],
    ['', /has no Content-Type/],
    ['application/json; charset=latin1', /charset latin1 is not supported/],
    ['application/json; charset=utf-8; charset=utf-16', /names a charset 2 times/],
  ])('answers 415 for content type "%s"', async (contentType, detail) => {
    const response = await refusal(post('{"prompt":"hi"}', { 'content-type': contentType }));
    expect(response.status).toBe(415);
    expect(bodyOf(response).detail).toMatch(detail);
    expect(headersOf(response).get('content-type')).toBe('application/problem+json');
  });

  it('answers 413 from the Content-Length header before reading anything', async () => {
    const request = post('{"prompt":"hi"}', { 'content-length': '5000' });
    const response = await refusal(request, 1024);
    expect(response.status).toBe(413);
    expect(bodyOf(response).maxBytes).toBe(1024);
    expect(bodyOf(response).detail).toContain('1024 bytes');
    expect(request.bodyUsed).toBe(false);
  });

  it('answers 413 from the bytes actually read when no Content-Length says so', async () => {
    const big = JSON.stringify({ prompt: 'x'.repeat(5000) });
    const response = await refusal(post(big), 1024);
    expect(response.status).toBe(413);
  });

  it('counts bytes, not characters', async () => {
    // 400 three-byte characters: 400 characters, 1200+ bytes.
    const response = await refusal(post(JSON.stringify({ prompt: '€'.repeat(400) })), 1024);
    expect(response.status).toBe(413);
  });

  it('accepts a body of exactly maxBytes', async () => {
    const body = JSON.stringify({ prompt: 'x'.repeat(1024 - 13) });
    expect(Buffer.byteLength(body)).toBe(1024);
    expect((await readJsonBody(post(body), schema, { maxBytes: 1024 })).ok).toBe(true);
  });

  it.each([
    ['{"prompt": "hi",}', /not valid JSON/],
    ['{"prompt": "hi"', /not valid JSON.*\(line 1, column \d+\)/],
    ['{\n  "prompt": \'hi\'\n}', /not valid JSON/],
    ['{"prompt":"hi"} trailing', /not valid JSON/],
  ])('answers 400 for malformed JSON %j, saying where', async (body, detail) => {
    const response = await refusal(post(body));
    expect(response.status).toBe(400);
    expect(bodyOf(response).title).toBe('Malformed request body');
    expect(bodyOf(response).detail).toMatch(detail);
    expect(JSON.stringify(response.jsonBody)).not.toMatch(/\bat .*\.(js|ts):\d+/);
  });

  it('names the line and column of a JSON error on a later line', async () => {
    const response = await refusal(post('{\n  "prompt": "hi",\n  oops\n}'));
    expect(bodyOf(response).detail).toMatch(/line 3, column 3/);
  });

  it('answers 400 for an empty body', async () => {
    const response = await refusal(post(''));
    expect(response.status).toBe(400);
    expect(bodyOf(response).detail).toMatch(/empty/);
  });

  it('answers 400 for bytes that are not UTF-8', async () => {
    const response = await refusal(post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])));
    expect(response.status).toBe(400);
    expect(bodyOf(response).detail).toMatch(/UTF-8/);
  });

  it('names every bad field, nested ones by their path', async () => {
    const response = await refusal(
      post(
        JSON.stringify({
          prompt: 42,
          approval: { required: 'yes', timeoutMinutes: 'soon', approvers: ['a', 7] },
        }),
      ),
    );
    expect(response.status).toBe(400);
    expect(bodyOf(response).errors).toEqual(
      expect.arrayContaining([
        { field: 'prompt', message: 'is required and must be a string' },
        { field: 'approval.required', message: 'must be true or false' },
        { field: 'approval.timeoutMinutes', message: 'must be a number of minutes' },
        { field: 'approval.approvers[1]', message: 'must be a string' },
      ]),
    );
    expect(bodyOf(response).detail).toMatch(/4 fields are invalid/);
  });

  it('refuses unknown fields by name, listing the known ones, also inside nested objects', async () => {
    const response = await refusal(
      post(JSON.stringify({ prompt: 'hi', promt: 'typo', approval: { required: true, who: 'x' } })),
    );
    expect(response.status).toBe(400);
    expect(bodyOf(response).errors).toHaveLength(2);
    expect(bodyOf(response).errors).toEqual(
      expect.arrayContaining([
        {
          field: 'promt',
          message:
            'is not a known field; remove it or check its spelling. Known fields here: prompt, approval, maxTokens.',
        },
        {
          field: 'approval.who',
          message:
            'is not a known field; remove it or check its spelling. Known fields here: required, timeoutMinutes, approvers.',
        },
      ]),
    );
  });

  it('says a required field is required', async () => {
    const bare = z.strictObject({ prompt: z.string() });
    const result = await readJsonBody(post('{}'), bare, { maxBytes: 1024 });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(bodyOf(result.response).errors).toEqual([
        { field: 'prompt', message: 'is required (expected string)' },
      ]);
    }
  });

  it.each(['gzip', 'br', 'deflate, gzip'])(
    'answers 415 for a body sent with Content-Encoding %s, which it does not decompress',
    async (encoding) => {
      const response = await refusal(post('{"prompt":"hi"}', { 'content-encoding': encoding }));
      expect(response.status).toBe(415);
      expect(bodyOf(response).detail).toMatch(
        /Content-Encoding .* is not supported; send the JSON body uncompressed/,
      );
      expect(headersOf(response).get('accept-encoding')).toBe('identity');
    },
  );

  it('accepts Content-Encoding identity', async () => {
    const result = await readJsonBody(post('{"prompt":"hi"}', { 'content-encoding': 'identity' }), schema, {
      maxBytes: 1024,
    });
    expect(result.ok).toBe(true);
  });

  it('refuses a field given twice instead of letting the last copy win', async () => {
    const response = await refusal(post('{"prompt":"hi","approval":{"required":false,"required":true}}'));
    expect(response.status).toBe(400);
    expect(bodyOf(response).errors).toEqual([
      { field: 'approval.required', message: expect.stringMatching(/appears more than once/) as string },
    ]);
  });

  it.each([
    ['a number that overflows', '{"prompt":"hi","maxTokens":1e309}', 'maxTokens', /too large/],
    ['an unpaired surrogate', '{"prompt":"\\udc00 hi"}', 'prompt', /unpaired surrogate/],
    ['a NUL', '{"prompt":"hi\\u0000"}', 'prompt', /NUL/],
  ])('refuses %s by field, before the schema sees it', async (_case, body, field, says) => {
    const response = await refusal(post(body));
    expect(response.status).toBe(400);
    expect(bodyOf(response).errors).toEqual([{ field, message: expect.stringMatching(says) as string }]);
  });

  it('cuts a very long unknown field name short in the answer', async () => {
    const response = await refusal(post(JSON.stringify({ prompt: 'hi', ['k'.repeat(900)]: 1 })));
    const field = bodyOf(response).errors?.[0]?.field ?? '';
    expect(field.length).toBeLessThanOrEqual(203);
    expect(field).toMatch(/^k+\.\.\.$/);
  });

  it.each(['[]', '"hello"', 'null', '42'])('answers 400 when the body %s is not an object', async (body) => {
    const response = await refusal(post(body));
    expect(response.status).toBe(400);
    expect(bodyOf(response).errors).toEqual([{ field: '(body)', message: 'must be a JSON object' }]);
  });
});

describe('zodProblem', () => {
  it('turns any zod error into a 400 with the given title', () => {
    const parsed = z.object({ n: z.number({ error: 'must be a number' }) }).safeParse({ n: 'x' });
    if (parsed.success) throw new Error('expected a failure');
    const response = zodProblem(parsed.error, 'Invalid query');
    expect(response.status).toBe(400);
    expect(response.jsonBody).toMatchObject({
      title: 'Invalid query',
      detail: 'n: must be a number',
      errors: [{ field: 'n', message: 'must be a number' }],
    });
  });
});

describe('withProblemAnswers', () => {
  it('answers a fault the handler did not expect with a 500 problem that carries no stack or message', async () => {
    const logged: unknown[][] = [];
    const context = new InvocationContext({
      invocationId: 'inv-123',
      logHandler: (_level, ...args) => logged.push(args),
    });
    const failing = withProblemAnswers(() => {
      throw new Error('connect ECONNREFUSED AccountKey=c2VjcmV0 at /app/dist/src/functions/quota.js:12:3');
    });
    const response = (await failing(post('{}'), context)) as HttpResponseInit;
    expect(response.status).toBe(500);
    expect(headersOf(response).get('content-type')).toBe('application/problem+json');
    expect(response.jsonBody).toMatchObject({
      status: 500,
      title: 'Internal error',
      invocationId: 'inv-123',
    });
    expect(JSON.stringify(response.jsonBody)).not.toMatch(/ECONNREFUSED|AccountKey|\.js:\d+/);
    expect(String(logged[0]?.[1])).toContain('ECONNREFUSED');
  });

  it('passes answers through unchanged', async () => {
    const ok = withProblemAnswers(() => ({ status: 204 }));
    expect(await ok(post('{}'), new InvocationContext())).toEqual({ status: 204 });
  });
});
