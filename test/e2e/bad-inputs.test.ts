import type { Product } from '../support/product';
import { call, pollUntil, principalHeaders } from '../support/product';
import {
  admin,
  encode,
  expectProblem,
  json,
  maxBodyBytes,
  maxPromptChars,
  owner,
  startWithWaitingRun,
  stranger,
  world as worldOf,
  type BadInput,
  type Problem,
} from '../support/badInputs';

/**
 * Issue #6: bad inputs, each with the status it must get, and nothing started or changed by any of
 * them. The app runs with AUTH_MODE=appservice, as in Azure, so principal headers are checked the way
 * they are behind App Service Authentication (which would also strip client-sent ones).
 */

let product: Product;
/** A run of owner-1 waiting for approval: the target of the approval and visibility cases. */
let waitingRunId: string;

beforeAll(async () => {
  ({ product, waitingRunId } = await startWithWaitingRun());
});

afterAll(async () => {
  await product?.stop();
});

const world = () => worldOf(product, waitingRunId);

const runs = '/api/agent-runs';
const approvalOf = () => `/api/agent-runs/${waitingRunId}/approval`;

const cases: BadInput[] = [
  // Malformed and wrongly typed bodies.
  {
    name: 'malformed JSON',
    path: () => runs,
    headers: { ...owner, ...json },
    body: '{"prompt": "hi",',
    status: 400,
    says: /not valid JSON/,
  },
  {
    name: 'JSON with a trailing comma',
    path: () => runs,
    headers: { ...owner, ...json },
    body: '{"prompt": "hi",}',
    status: 400,
  },
  {
    name: 'an empty body',
    path: () => runs,
    headers: { ...owner, ...json },
    body: '',
    status: 400,
    says: /empty/,
  },
  {
    name: 'a JSON array',
    path: () => runs,
    headers: owner,
    body: [{ prompt: 'hi' }],
    status: 400,
    says: /JSON object/,
  },
  { name: 'JSON null', path: () => runs, headers: { ...owner, ...json }, body: 'null', status: 400 },
  {
    name: 'a number prompt',
    path: () => runs,
    headers: owner,
    body: { prompt: 42 },
    status: 400,
    says: /prompt/,
  },
  {
    name: 'an empty prompt',
    path: () => runs,
    headers: owner,
    body: { prompt: '   ' },
    status: 400,
    says: /prompt/,
  },
  {
    name: 'a missing prompt',
    path: () => runs,
    headers: owner,
    body: { maxTokens: 1000 },
    status: 400,
    says: /prompt/,
  },
  {
    name: 'maxTokens as a string',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', maxTokens: '1000' },
    status: 400,
    says: /maxTokens/,
  },
  {
    name: 'fractional maxTokens',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', maxTokens: 1000.5 },
    status: 400,
    says: /maxTokens/,
  },
  {
    name: 'a huge maxTokens',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', maxTokens: 1e300 },
    status: 400,
    says: /maxTokens/,
  },
  {
    name: 'approval.required as a string',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: 'yes' } },
    status: 400,
    says: /approval\.required/,
  },
  {
    name: 'a negative approval timeout',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: true, timeoutMinutes: -1 } },
    status: 400,
    says: /approval\.timeoutMinutes/,
  },
  {
    name: 'an unknown tool',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', tools: ['shell'] },
    status: 400,
    says: /tools\[0\]/,
  },
  {
    name: 'an unknown model',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', model: 'gpt-5' },
    status: 400,
    says: /model/,
  },
  {
    name: 'deeply nested arrays',
    path: () => runs,
    headers: { ...owner, ...json },
    body: `{"prompt":"hi","tools":${'['.repeat(1500)}${']'.repeat(1500)}}`,
    status: 400,
  },
  // Unknown fields.
  {
    name: 'an unknown top-level field',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', promt: 'typo' },
    status: 400,
    says: /promt/,
  },
  {
    name: 'an unknown nested field',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: true, approver: 'x' } },
    status: 400,
    says: /approval\.approver/,
  },
  {
    name: 'a __proto__ field',
    path: () => runs,
    headers: { ...owner, ...json },
    body: '{"prompt":"hi","__proto__":{"owner":"mallory"}}',
    status: 400,
    says: /__proto__/,
  },
  {
    name: 'an owner field',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', owner: 'mallory' },
    status: 400,
    says: /owner/,
  },
  // Sizes and media types.
  {
    name: 'an oversized body',
    path: () => runs,
    headers: owner,
    body: { prompt: 'x'.repeat(maxBodyBytes) },
    status: 413,
  },
  {
    name: 'a prompt over the character limit',
    path: () => runs,
    headers: owner,
    body: { prompt: 'x'.repeat(maxPromptChars + 1) },
    status: 400,
    says: /prompt/,
  },
  {
    name: 'a text/plain body',
    path: () => runs,
    headers: { ...owner, 'content-type': 'text/plain' },
    body: '{"prompt":"hi"}',
    status: 415,
  },
  {
    name: 'a form body',
    path: () => runs,
    headers: { ...owner, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'prompt=hi',
    status: 415,
  },
  {
    name: 'a UTF-16 charset',
    path: () => runs,
    headers: { ...owner, 'content-type': 'application/json; charset=utf-16' },
    body: '{"prompt":"hi"}',
    status: 415,
  },
  // Ids.
  { name: 'a short run id', path: () => `${runs}/abc`, headers: owner, status: 400 },
  {
    name: 'a run id with odd characters',
    path: () => `${runs}/${encodeURIComponent('abcdefgh;drop')}`,
    headers: owner,
    status: 400,
  },
  {
    name: 'an entity id as a run id',
    path: () => `${runs}/${encodeURIComponent('@tokenquota@owner-1')}`,
    headers: owner,
    status: 400,
  },
  {
    name: 'an unknown run id',
    path: () => `${runs}/00000000000040008000000000000000`,
    headers: owner,
    status: 404,
  },
  {
    name: 'approval of a bad run id',
    path: () => `${runs}/abc/approval`,
    headers: owner,
    body: { decision: 'approve', round: 0 },
    status: 400,
  },
  {
    name: 'a quota user id with odd characters',
    path: () => `/api/quota/${encodeURIComponent('a b')}`,
    headers: admin,
    status: 400,
  },
  {
    name: 'setting a quota for a bad user id',
    method: 'PUT',
    path: () => `/api/quota/${encodeURIComponent('-x')}`,
    headers: admin,
    body: { monthlyTokenLimit: 5 },
    status: 400,
  },
  // Cross-site browser requests: every route that changes state refuses them before anything else.
  ...(
    [
      ['starting a run', 'POST', () => runs, { prompt: 'hi' }],
      ['an approval', 'POST', approvalOf, { decision: 'approve', round: 0 }],
      [
        'the event URL',
        'POST',
        () => `${runs}/${waitingRunId}/events/approval`,
        { decision: 'approve', round: 0 },
      ],
      ['a cancel', 'POST', () => `${runs}/${waitingRunId}/cancel`, undefined],
      ['a terminate', 'POST', () => `${runs}/${waitingRunId}/terminate`, undefined],
      ['a suspend', 'POST', () => `${runs}/${waitingRunId}/suspend`, undefined],
      ['a resume', 'POST', () => `${runs}/${waitingRunId}/resume`, undefined],
      ['a purge', 'DELETE', () => `${runs}/${waitingRunId}/purge`, undefined],
    ] as const
  ).map(([what, method, path, body], i): BadInput =>
    // Half by the Origin a browser sends, half by its Sec-Fetch-Site (the unit tests try every rule).
    i % 2 === 0
      ? {
          name: `${what} from a page on another site (Origin)`,
          method,
          path,
          headers: { ...owner, origin: 'https://evil.example' },
          ...(body === undefined ? {} : { body }),
          status: 403,
          says: /comes from https:\/\/evil\.example/,
        }
      : {
          name: `${what} that the browser marks cross-site`,
          method,
          path,
          headers: { ...owner, 'sec-fetch-site': 'cross-site' },
          ...(body === undefined ? {} : { body }),
          status: 403,
          says: /Sec-Fetch-Site: cross-site/,
        },
  ),
  {
    name: 'setting a quota from a page on another site',
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: { ...admin, origin: 'null' },
    body: { monthlyTokenLimit: 10 ** 9 },
    status: 403,
    says: /comes from null/,
  },
  {
    name: 'a cancel with a body type a plain form sends, even an empty one',
    method: 'POST',
    path: () => `${runs}/${waitingRunId}/cancel`,
    headers: { ...owner, 'content-type': 'text/plain' },
    body: '',
    status: 403,
    says: /what an HTML form sends/,
  },
  // Identity.
  { name: 'no principal', path: () => runs, body: { prompt: 'hi' }, status: 401 },
  { name: 'no principal on the quota', path: () => '/api/quota', status: 401 },
  {
    name: 'a spoofed id header alone',
    path: () => `${runs}/${waitingRunId}`,
    headers: { 'x-ms-client-principal-id': 'owner-1' },
    status: 401,
  },
  {
    name: 'a spoofed id header alone on approval',
    path: approvalOf,
    headers: { 'x-ms-client-principal-id': 'owner-1' },
    body: { decision: 'approve', round: 0 },
    status: 401,
  },
  {
    name: 'an id header that contradicts the principal',
    path: approvalOf,
    headers: {
      'x-ms-client-principal': encode({
        claims: [{ typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'mallory' }],
      }),
      'x-ms-client-principal-id': 'owner-1',
    },
    body: { decision: 'approve', round: 0 },
    status: 401,
  },
  {
    name: 'a principal that is not base64',
    path: () => runs,
    headers: { 'x-ms-client-principal': '<script>', 'x-ms-client-principal-id': 'owner-1' },
    body: { prompt: 'hi' },
    status: 401,
  },
  {
    name: 'a principal that is not JSON',
    path: () => runs,
    headers: {
      'x-ms-client-principal': Buffer.from('admin').toString('base64'),
      'x-ms-client-principal-id': 'owner-1',
    },
    body: { prompt: 'hi' },
    status: 401,
  },
  {
    name: 'a principal id that cannot be a user',
    path: () => '/api/quota',
    headers: { 'x-ms-client-principal': encode({ claims: [] }), 'x-ms-client-principal-id': '../owner-1' },
    status: 401,
  },
  // Other people's things.
  {
    name: "a stranger reading someone else's run",
    path: () => `${runs}/${waitingRunId}`,
    headers: stranger,
    status: 404,
  },
  {
    name: 'approval by a stranger',
    path: approvalOf,
    headers: stranger,
    body: { decision: 'approve', round: 0 },
    status: 404,
  },
  {
    // Admins may read every run, so the run is no secret to them; deciding is for approvers.
    name: 'approval by an admin who is not an approver',
    path: approvalOf,
    headers: admin,
    body: { decision: 'approve', round: 0 },
    status: 403,
  },
  {
    name: 'an approval that names no round',
    path: approvalOf,
    headers: owner,
    body: { decision: 'approve' },
    status: 400,
    says: /round: is required/,
  },
  {
    name: 'an approval for a round not on offer',
    path: approvalOf,
    headers: owner,
    body: { decision: 'approve', round: 3 },
    status: 409,
    says: /offers round 0/,
  },
  {
    name: 'an approval decision that is not one',
    path: approvalOf,
    headers: owner,
    body: { decision: 'maybe', round: 0 },
    status: 400,
    says: /decision/,
  },
  {
    name: 'an approval with an unknown field',
    path: approvalOf,
    headers: owner,
    body: { decision: 'approve', round: 0, by: 'boss' },
    status: 400,
    says: /by/,
  },
  {
    name: 'an approval that is not JSON',
    path: approvalOf,
    headers: { ...owner, 'content-type': 'text/plain' },
    body: 'approve',
    status: 415,
  },
  {
    name: "a stranger reading someone else's quota",
    path: () => '/api/quota/owner-1',
    headers: stranger,
    status: 403,
  },
  {
    name: 'a non-admin setting a quota',
    method: 'PUT',
    path: () => '/api/quota/mallory',
    headers: stranger,
    body: { monthlyTokenLimit: 10 ** 9 },
    status: 403,
  },
  {
    name: 'an approver role setting a quota',
    method: 'PUT',
    path: () => '/api/quota/mallory',
    headers: principalHeaders('mallory', ['AgentRuns.Approve']),
    body: { monthlyTokenLimit: 10 ** 9 },
    status: 403,
  },
  {
    name: 'a quota limit of zero',
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: admin,
    body: { monthlyTokenLimit: 0 },
    status: 400,
    says: /monthlyTokenLimit/,
  },
  {
    name: 'a quota limit as a string',
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: admin,
    body: { monthlyTokenLimit: '5' },
    status: 400,
    says: /monthlyTokenLimit/,
  },
  {
    name: 'a quota body with an unknown field',
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: admin,
    body: { monthlyTokenLimit: 5, used: 0 },
    status: 400,
    says: /used/,
  },
];

describe('bad inputs get their status and change nothing', () => {
  it('can see what it compares: the waiting run and the quotas', async () => {
    const seen = await world();
    expect(seen.instances).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: waitingRunId, status: 'Running' })]),
    );
    expect(seen.quotas['owner-1']).toMatchObject({
      userId: 'owner-1',
      reserved: expect.any(Number) as number,
    });
  });

  it('sees a change that was only queued when its request was answered', async () => {
    // Both answer 202 before they are applied; the barrier in world() waits for them.
    const before = await world();
    const durable = `${product.baseUrl}/runtime/webhooks/durabletask`;
    const signalled = await call(`${durable}/entities/tokenQuota/mallory?op=reserve`, {
      body: { runId: 'seen-by-the-barrier', tokens: 1, now: new Date().toISOString() },
    });
    expect(signalled.status).toBe(202);
    const raised = await call(`${durable}/instances/${waitingRunId}/raiseEvent/approval`, {
      body: { decision: 'approve', by: 'owner-1', round: 0 },
    });
    expect(raised.status).toBe(202);
    const after = await world();
    expect(after.quotas.mallory).toMatchObject({ reserved: 1 });
    expect(after.waitingRun.events).toEqual(expect.arrayContaining(['EventRaised approval']));
    expect(after.waitingRun.events.length).toBeGreaterThan(before.waitingRun.events.length);
    // The unproven event decided nothing: the run still waits.
    expect(after.instances).toEqual(before.instances);
  });

  it.each(cases)('$name -> $status', async (c) => {
    const before = await world();
    const response = await call<Problem>(`${product.baseUrl}${c.path()}`, {
      method: c.method ?? (c.body === undefined ? 'GET' : 'POST'),
      headers: c.headers ?? {},
      ...(c.body === undefined ? {} : { body: c.body }),
    });
    expectProblem(response, c.status, c.says);
    expect(await world()).toEqual(before);
  });

  it('answers a second approval of a finished run with 410 and changes nothing', async () => {
    const first = await call(`${product.baseUrl}${approvalOf()}`, {
      body: { decision: 'approve', round: 0 },
      headers: owner,
    });
    expect(first.status).toBe(200);
    await pollUntil(
      () => call<{ status: string }>(`${product.baseUrl}/api/agent-runs/${waitingRunId}`, { headers: owner }),
      (r) => r.status === 200 && r.body.status === 'completed',
    );
    const before = await world();
    const second = await call<Problem>(`${product.baseUrl}${approvalOf()}`, {
      body: { decision: 'reject', round: 0 },
      headers: owner,
    });
    expect(second.status).toBe(410);
    expect(second.headers.get('content-type')).toContain('application/problem+json');
    expect(await world()).toEqual(before);
  });
});
