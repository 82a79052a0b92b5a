import net from 'node:net';
import { gzipSync } from 'node:zlib';
import type { Product } from '../support/product';
import { call, pollUntil, principalHeaders } from '../support/product';
import {
  admin,
  encode,
  expectProblem,
  json,
  maxBodyBytes,
  owner,
  startWithWaitingRun,
  stranger,
  world as worldOf,
  type BadInput,
  type Problem,
} from '../support/badInputs';

/**
 * Issue #6, second table: bad inputs nobody listed in bad-inputs.test.ts. Each gets its status, a
 * problem+json answer that names what was wrong and carries no stack or secret, and changes nothing:
 * no instance started or advanced, no quota changed, no event raised on the waiting run. The app runs
 * with AUTH_MODE=appservice, as in Azure.
 */

const oidClaim = 'http://schemas.microsoft.com/identity/claims/objectidentifier';

let product: Product;
/** A run of owner-1 waiting for approval, with Boss@Example.com as a listed approver. */
let waitingRunId: string;

beforeAll(async () => {
  ({ product, waitingRunId } = await startWithWaitingRun({ approvers: ['Boss@Example.com'] }));
});

afterAll(async () => {
  await product?.stop();
});

const world = () => worldOf(product, waitingRunId);

/** One HTTP/1.1 request written by hand, for what fetch will not send; answers the first status line. */
function rawRequest(head: string, body: Buffer | string): Promise<{ status: number; text: string }> {
  const url = new URL(product.baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(head);
      socket.end(body);
    });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => {
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      if (status === undefined) reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      else resolve({ status: Number(status), text });
    });
    // A reset after the answer arrived is the transport's, not the answer's.
    socket.on('error', (error) => (/^HTTP\/1\.1 \d{3}/.test(text) ? socket.destroy() : reject(error)));
    socket.setTimeout(20_000, () => socket.destroy(new Error('no answer within 20 s')));
  });
}

function headerLines(headers: Record<string, string>): string {
  return Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
}

const runs = '/api/agent-runs';
const runOf = () => `${runs}/${waitingRunId}`;
const approvalOf = () => `${runs}/${waitingRunId}/approval`;
const body = (text: string) => text;

const cases: BadInput[] = [
  // Media types and encodings.
  {
    name: 'a JSON body with no Content-Type at all',
    path: () => runs,
    headers: owner,
    body: new TextEncoder().encode('{"prompt":"hi"}'),
    status: 415,
    says: /no Content-Type/,
  },
  {
    name: 'a multipart body',
    path: () => runs,
    headers: { ...owner, 'content-type': 'multipart/form-data; boundary=x' },
    body: body('--x\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhi\r\n--x--'),
    status: 415,
    says: /multipart\/form-data.* is not JSON/,
  },
  {
    name: 'two media types in one Content-Type',
    path: () => runs,
    headers: { ...owner, 'content-type': 'application/json, text/plain' },
    body: body('{"prompt":"hi"}'),
    status: 415,
    says: /is not JSON/,
  },
  {
    name: 'a charset given twice',
    path: () => runs,
    headers: { ...owner, 'content-type': 'application/json; charset=utf-8; charset=utf-16' },
    body: body('{"prompt":"hi"}'),
    status: 415,
    says: /charset 2 times/,
  },
  {
    name: 'a gzip-compressed body',
    path: () => runs,
    headers: { ...owner, ...json, 'content-encoding': 'gzip' },
    body: gzipSync('{"prompt":"hi"}'),
    status: 415,
    says: /Content-Encoding gzip is not supported/,
  },
  {
    name: 'a plain body that claims to be compressed',
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: { ...admin, ...json, 'content-encoding': 'br' },
    body: { monthlyTokenLimit: 5 },
    status: 415,
    says: /Content-Encoding br/,
  },
  {
    name: 'UTF-16 bytes labelled as JSON without a charset',
    path: () => runs,
    headers: { ...owner, ...json },
    body: Buffer.from('{"prompt":"hi"}', 'utf16le'),
    status: 400,
    says: /not valid JSON/,
  },
  {
    name: 'a form body on an approval',
    path: approvalOf,
    headers: { ...owner, 'content-type': 'application/x-www-form-urlencoded' },
    body: body('decision=approve'),
    status: 415,
  },
  // JSON that is not an object.
  ...['"hi"', '42', 'true', '[]'].map((text): BadInput => ({
    name: `the JSON ${text} as a run`,
    path: () => runs,
    headers: { ...owner, ...json },
    body: body(text),
    status: 400,
    says: /\(body\): must be a JSON object/,
  })),
  {
    name: 'a JSON string as an approval',
    path: approvalOf,
    headers: { ...owner, ...json },
    body: body('"approve"'),
    status: 400,
    says: /JSON object/,
  },
  {
    name: 'a JSON number as a quota',
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: { ...admin, ...json },
    body: body('5000'),
    status: 400,
    says: /JSON object/,
  },
  // Keys given twice: JSON readers disagree on which copy counts.
  {
    name: 'the prompt given twice',
    path: () => runs,
    headers: { ...owner, ...json },
    body: body('{"prompt":"harmless","prompt":"something else"}'),
    status: 400,
    says: /prompt: appears more than once/,
  },
  {
    name: 'approval.required given twice',
    path: () => runs,
    headers: { ...owner, ...json },
    body: body('{"prompt":"hi","approval":{"required":true,"required":false}}'),
    status: 400,
    says: /approval\.required: appears more than once/,
  },
  {
    name: 'an approval decision given twice',
    path: approvalOf,
    headers: { ...owner, ...json },
    body: body('{"decision":"approve","round":0,"decision":"reject"}'),
    status: 400,
    says: /decision: appears more than once/,
  },
  {
    name: 'a quota limit given twice',
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: { ...admin, ...json },
    body: body('{"monthlyTokenLimit":5,"monthlyTokenLimit":6}'),
    status: 400,
    says: /monthlyTokenLimit: appears more than once/,
  },
  // Prototype keys at any depth.
  {
    name: 'a constructor field',
    path: () => runs,
    headers: { ...owner, ...json },
    body: body('{"prompt":"hi","constructor":{"prototype":{"owner":"mallory"}}}'),
    status: 400,
    says: /constructor/,
  },
  {
    name: 'a __proto__ field inside approval',
    path: () => runs,
    headers: { ...owner, ...json },
    body: body('{"prompt":"hi","approval":{"required":true,"__proto__":{"approvers":["mallory"]}}}'),
    status: 400,
    says: /approval\.__proto__/,
  },
  {
    name: 'a prototype field on an approval',
    path: approvalOf,
    headers: { ...owner, ...json },
    body: body('{"decision":"approve","round":0,"prototype":{"by":"boss"}}'),
    status: 400,
    says: /prototype/,
  },
  {
    name: 'a __proto__ field on a quota',
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: { ...admin, ...json },
    body: body('{"monthlyTokenLimit":5,"__proto__":{"used":0}}'),
    status: 400,
    says: /__proto__/,
  },
  // Numbers.
  {
    name: 'a maxTokens that overflows to infinity',
    path: () => runs,
    headers: { ...owner, ...json },
    body: body('{"prompt":"hi","maxTokens":1e309}'),
    status: 400,
    says: /maxTokens: is a number too large/,
  },
  {
    name: 'a maxTokens of negative zero',
    path: () => runs,
    headers: { ...owner, ...json },
    body: body('{"prompt":"hi","maxTokens":-0}'),
    status: 400,
    says: /maxTokens: must be at least 256/,
  },
  {
    name: 'a maxTokens as a tiny fraction',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', maxTokens: 256.0001 },
    status: 400,
    says: /maxTokens: must be a whole number/,
  },
  {
    name: 'an approval timeout over a week',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: true, timeoutMinutes: 7 * 24 * 60 + 1 } },
    status: 400,
    says: /approval\.timeoutMinutes: must be at most 10080/,
  },
  {
    name: 'an approval timeout as a string',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: true, timeoutMinutes: '30' } },
    status: 400,
    says: /approval\.timeoutMinutes/,
  },
  {
    name: 'a quota limit that overflows to infinity',
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: { ...admin, ...json },
    body: body('{"monthlyTokenLimit":1e309}'),
    status: 400,
    says: /monthlyTokenLimit: is a number too large/,
  },
  ...(
    [
      ['fractional', 5.5, /whole number/],
      ['negative', -5, /greater than 0/],
      ['over the maximum', 1e11, /at most 10000000000/],
      ['null', null, /^monthlyTokenLimit: must be a whole number/],
      ['true', true, /must be a whole number/],
      ['a list', [5], /must be a whole number/],
    ] as const
  ).map(([what, limit, says]): BadInput => ({
    name: `a quota limit that is ${what}`,
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: admin,
    body: { monthlyTokenLimit: limit },
    status: 400,
    says,
  })),
  // Unicode.
  {
    name: 'a prompt with an unpaired surrogate',
    path: () => runs,
    headers: { ...owner, ...json },
    body: body('{"prompt":"hi \\ud800 there"}'),
    status: 400,
    says: /prompt: contains an unpaired surrogate/,
  },
  {
    name: 'a prompt with a NUL',
    path: () => runs,
    headers: { ...owner, ...json },
    body: body('{"prompt":"hi\\u0000"}'),
    status: 400,
    says: /prompt: contains a NUL/,
  },
  {
    name: 'a field name with a NUL',
    path: () => runs,
    headers: { ...owner, ...json },
    body: body('{"prompt":"hi","\\u0000":1}'),
    status: 400,
    says: /has a name that contains a NUL/,
  },
  {
    name: 'a prompt of zero-width spaces only',
    path: () => runs,
    headers: owner,
    body: { prompt: '\u200b\u200b\u2060' },
    status: 400,
    says: /prompt: must contain visible text/,
  },
  {
    name: 'a prompt of ideographic and no-break spaces only',
    path: () => runs,
    headers: owner,
    body: { prompt: '\u3000\u00a0\t\n' },
    status: 400,
    says: /prompt: must not be empty/,
  },
  {
    name: 'an approver name with a right-to-left override',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: true, approvers: ['\u202emoc.elpmaxe@ssob'] } },
    status: 400,
    says: /approval\.approvers\[0\]: must not contain control or invisible/,
  },
  {
    name: 'an approver name with a zero-width space',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: true, approvers: ['boss@exam\u200bple.com'] } },
    status: 400,
    says: /approval\.approvers\[0\]/,
  },
  {
    name: 'an approval comment with an unpaired surrogate',
    path: approvalOf,
    headers: { ...owner, ...json },
    body: body('{"decision":"reject","round":0,"comment":"\\udfff"}'),
    status: 400,
    says: /comment: contains an unpaired surrogate/,
  },
  // Approval settings that say two things.
  {
    name: 'approvers with approval not required',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: false, approvers: ['boss'] } },
    status: 400,
    says: /approval\.approvers: applies only when approval\.required is true/,
  },
  {
    name: 'a timeout and escalation with approval not required',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: false, timeoutMinutes: 5, escalateTo: ['boss'] } },
    status: 400,
    says: /approval\.timeoutMinutes, approval\.escalateTo/,
  },
  {
    name: 'an approver listed twice in different case',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: true, approvers: ['Boss@Example.com', 'boss@example.com'] } },
    status: 400,
    says: /approval\.approvers\[1\]: repeats/,
  },
  {
    name: 'an escalation target listed twice',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: true, escalateTo: ['boss', 'boss'] } },
    status: 400,
    says: /approval\.escalateTo\[1\]: repeats/,
  },
  {
    name: 'an approver name longer than 256 characters',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: { required: true, approvers: ['b'.repeat(257)] } },
    status: 400,
    says: /approval\.approvers\[0\]: must be at most 256/,
  },
  {
    name: 'approval as a bare true',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', approval: true },
    status: 400,
    says: /approval: must be an object/,
  },
  {
    name: 'a tool listed twice',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', tools: ['calculator', 'calculator'] },
    status: 400,
    says: /tools\[1\]: repeats "calculator"/,
  },
  {
    name: 'tools as one string',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', tools: 'calculator' },
    status: 400,
    says: /^tools: must be a list of tool names/,
  },
  {
    name: 'a decision in capitals',
    path: approvalOf,
    headers: owner,
    body: { decision: 'APPROVE', round: 0 },
    status: 400,
    says: /decision: must be approve or reject/,
  },
  {
    name: 'a null comment',
    path: approvalOf,
    headers: owner,
    body: { decision: 'reject', round: 0, comment: null },
    status: 400,
    says: /comment: must be a string/,
  },
  {
    name: 'a comment over 4000 characters',
    path: approvalOf,
    headers: owner,
    body: { decision: 'reject', round: 0, comment: 'c'.repeat(4001) },
    status: 400,
    says: /comment: must be at most 4000/,
  },
  {
    name: 'an unknown field with a 3000-character name, named short',
    path: () => runs,
    headers: owner,
    body: { prompt: 'hi', ['k'.repeat(3000)]: 1 },
    status: 400,
    says: /k{200}\.\.\./,
  },
  // Ids.
  {
    name: 'a subtask child id as a run id',
    path: () => `${runs}/${waitingRunId}-s1`,
    headers: owner,
    status: 404,
  },
  {
    name: 'an approval of a subtask child',
    path: () => `${runs}/${waitingRunId}-s1/approval`,
    headers: owner,
    body: { decision: 'approve', round: 0 },
    status: 404,
  },
  {
    name: 'the run id in capitals',
    path: () => `${runs}/${waitingRunId.toUpperCase()}`,
    headers: owner,
    status: 404,
  },
  {
    name: 'a run id with an encoded slash',
    path: () => `${runs}/${waitingRunId}%2F..%2F..`,
    headers: owner,
    status: 400,
    says: /run id is 8 to 64/,
  },
  { name: 'a 65-character run id', path: () => `${runs}/${'a'.repeat(65)}`, headers: owner, status: 400 },
  { name: 'a 4000-character run id', path: () => `${runs}/${'a'.repeat(4000)}`, headers: owner, status: 400 },
  {
    name: 'a run id with an encoded NUL',
    path: () => `${runs}/${waitingRunId}%00`,
    headers: owner,
    status: 400,
  },
  {
    name: 'a quota user id that climbs out',
    method: 'PUT',
    path: () => `/api/quota/..%2Fowner-1`,
    headers: admin,
    body: { monthlyTokenLimit: 5 },
    status: 400,
    says: /user id is 1 to 128/,
  },
  {
    name: 'the quota entity id as a user id',
    method: 'PUT',
    path: () => `/api/quota/${encodeURIComponent('@tokenquota@victim')}`,
    headers: admin,
    body: { monthlyTokenLimit: 5 },
    status: 400,
  },
  {
    name: 'a 129-character quota user id',
    path: () => `/api/quota/${'u'.repeat(129)}`,
    headers: admin,
    status: 400,
  },
  {
    name: 'a quota user id with non-ASCII letters',
    path: () => `/api/quota/${encodeURIComponent('vîctim')}`,
    headers: admin,
    status: 400,
  },
  {
    name: 'a trailing slash does not skip the body check',
    method: 'PUT',
    path: () => '/api/quota/victim/',
    headers: admin,
    body: { monthlyTokenLimit: 0 },
    status: 400,
    says: /monthlyTokenLimit/,
  },
  {
    name: 'a query string naming another user does not change whose quota is set',
    method: 'PUT',
    path: () => '/api/quota/mallory?userId=victim',
    headers: stranger,
    body: { monthlyTokenLimit: 10 ** 9 },
    status: 403,
  },
  // Identity.
  {
    name: 'a principal that is base64 of a JSON string',
    path: () => '/api/quota',
    headers: { 'x-ms-client-principal': encode('owner-1'), 'x-ms-client-principal-id': 'owner-1' },
    status: 401,
    says: /does not decode to a JSON object/,
  },
  {
    name: 'a principal whose claims are not a list',
    path: () => runs,
    headers: {
      'x-ms-client-principal': encode({ claims: { roles: 'AgentRuns.Admin' } }),
      'x-ms-client-principal-id': 'owner-1',
    },
    body: { prompt: 'hi' },
    status: 401,
    says: /claims is not a list/,
  },
  {
    name: 'a principal with a null claim',
    path: approvalOf,
    headers: { 'x-ms-client-principal': encode({ claims: [null] }), 'x-ms-client-principal-id': 'owner-1' },
    body: { decision: 'approve', round: 0 },
    status: 401,
    says: /claim is not an object/,
  },
  {
    name: 'a principal with two different object ids',
    path: approvalOf,
    headers: {
      'x-ms-client-principal': encode({
        claims: [
          { typ: oidClaim, val: 'mallory' },
          { typ: 'oid', val: 'owner-1' },
        ],
      }),
      'x-ms-client-principal-id': 'owner-1',
    },
    body: { decision: 'approve', round: 0 },
    status: 401,
    says: /more than one object id/,
  },
  {
    name: 'a principal with bytes after its base64 padding',
    path: () => '/api/quota',
    headers: {
      'x-ms-client-principal': `${encode({ claims: [] })}=x`,
      'x-ms-client-principal-id': 'owner-1',
    },
    status: 401,
    says: /not base64/,
  },
  {
    name: 'an empty principal header',
    path: () => '/api/quota',
    headers: { 'x-ms-client-principal': '', 'x-ms-client-principal-id': 'owner-1' },
    status: 401,
  },
  {
    name: 'an admin role smuggled in through __proto__',
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: {
      'x-ms-client-principal': Buffer.from(
        '{"claims":[],"__proto__":{"claims":[{"typ":"roles","val":"AgentRuns.Admin"}]}}',
      ).toString('base64'),
      'x-ms-client-principal-id': 'mallory',
    },
    body: { monthlyTokenLimit: 10 ** 9 },
    status: 403,
  },
  {
    name: 'the admin role spelled in lower case',
    method: 'PUT',
    path: () => '/api/quota/victim',
    headers: principalHeaders('mallory', ['agentruns.admin']),
    body: { monthlyTokenLimit: 10 ** 9 },
    status: 403,
  },
  // Other people's runs.
  {
    name: "a stranger carrying the owner's display name",
    path: runOf,
    headers: principalHeaders('mallory', [], 'owner-1@example.com'),
    status: 404,
  },
  {
    name: "a stranger's malformed approval gets 404, not a hint that the run exists",
    path: approvalOf,
    headers: { ...stranger, ...json },
    body: body('{"decision":"approve","decision":"reject"}'),
    status: 404,
  },
  {
    name: 'a stranger reading the run with a query string naming the owner',
    path: () => `${runOf()}?owner=owner-1&userId=owner-1`,
    headers: stranger,
    status: 404,
  },
];

/** Answers from the host before the app runs: not problem+json, but they must change nothing either. */
const hostAnswers: {
  name: string;
  method: string;
  path: () => string;
  headers?: Record<string, string>;
  status: number;
}[] = [
  { name: 'DELETE on a run', method: 'DELETE', path: runOf, headers: owner, status: 404 },
  { name: 'PUT on the runs collection', method: 'PUT', path: () => runs, headers: owner, status: 404 },
  { name: 'PATCH on a quota', method: 'PATCH', path: () => '/api/quota/victim', headers: admin, status: 404 },
  { name: 'POST on a quota', method: 'POST', path: () => '/api/quota/victim', headers: admin, status: 404 },
  {
    name: 'OPTIONS on the runs collection',
    method: 'OPTIONS',
    path: () => runs,
    headers: owner,
    status: 404,
  },
  {
    name: 'a principal header larger than the host takes',
    method: 'GET',
    path: () => '/api/quota',
    headers: {
      'x-ms-client-principal': encode({ claims: [], pad: 'p'.repeat(20_000) }),
      'x-ms-client-principal-id': 'owner-1',
    },
    status: 431,
  },
];

describe('more bad inputs get their status and change nothing', () => {
  it('can see what it compares: the waiting run, its history and the quotas', async () => {
    const seen = await world();
    expect(seen.instances).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: waitingRunId, status: 'Running' })]),
    );
    expect(seen.waitingRun.events.length).toBeGreaterThan(0);
    expect(seen.quotas['owner-1']).toMatchObject({
      userId: 'owner-1',
      reserved: expect.any(Number) as number,
    });
  });

  it.each(cases)('$name -> $status', async (c) => {
    const before = await world();
    const response = await fetch(`${product.baseUrl}${c.path()}`, {
      method: c.method ?? (c.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(c.body === undefined || typeof c.body === 'string' || c.body instanceof Uint8Array ? {} : json),
        ...c.headers,
      },
      ...(c.body === undefined
        ? {}
        : {
            body:
              typeof c.body === 'string' || c.body instanceof Uint8Array ? c.body : JSON.stringify(c.body),
          }),
    });
    const text = await response.text();
    expectProblem(
      { status: response.status, headers: response.headers, body: JSON.parse(text) as Problem },
      c.status,
      c.says,
    );
    expect(await world()).toEqual(before);
  });

  it.each(hostAnswers)('the host answers $name with $status', async (c) => {
    const before = await world();
    const response = await fetch(`${product.baseUrl}${c.path()}`, {
      method: c.method,
      headers: c.headers ?? {},
    });
    expect(response.status).toBe(c.status);
    await response.arrayBuffer();
    expect(await world()).toEqual(before);
  });

  it('answers 413 to a chunked body over the limit, which has no Content-Length to judge by', async () => {
    const before = await world();
    const payload = JSON.stringify({ prompt: 'x'.repeat(maxBodyBytes) });
    const chunked = `${payload.length.toString(16)}\r\n${payload}\r\n0\r\n\r\n`;
    const answer = await rawRequest(
      `POST ${runs} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headerLines({ ...owner, ...json })}` +
        'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
      chunked,
    );
    expect(answer.status).toBe(413);
    expect(answer.text).toMatch(/application\/problem\+json/i);
    expect(answer.text).toMatch(/at most 4096 bytes/);
    expect(await world()).toEqual(before);
  });

  it('starts nothing when Content-Length says less than was sent', async () => {
    const before = await world();
    // The host reads the declared 10 bytes ({"prompt":) as the body and the rest as a broken request.
    const answer = await rawRequest(
      `POST ${runs} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headerLines({ ...owner, ...json })}` +
        'Content-Length: 10\r\nConnection: close\r\n\r\n',
      '{"prompt":"a second request"}',
    );
    expect(answer.status).toBe(400);
    expect(await world()).toEqual(before);
  });

  it('starts nothing when Content-Length is not a number', async () => {
    const before = await world();
    const answer = await rawRequest(
      `POST ${runs} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headerLines({ ...owner, ...json })}` +
        'Content-Length: 99999999999999999999999\r\nConnection: close\r\n\r\n',
      '{"prompt":"hi"}',
    );
    expect(answer.status).toBe(400);
    expect(await world()).toEqual(before);
  });

  it("reads the caller's own quota under the object id claim even when the id header is in another case", async () => {
    const id = '3f2a9c1e-0000-4000-8000-00000000000b';
    const headers = {
      'x-ms-client-principal': encode({ claims: [{ typ: oidClaim, val: id }] }),
      'x-ms-client-principal-id': id.toUpperCase(),
    };
    const quota = await call<{ userId: string }>(`${product.baseUrl}/api/quota`, { headers });
    expect(quota.status).toBe(200);
    expect(quota.body.userId).toBe(id);
  });

  it('lets an approver listed as Boss@Example.com approve as boss@example.com (sign-in names match ignoring case)', async () => {
    // The sign-in name (preferred_username) counts; the display name never does (see security.test.ts).
    const boss = principalHeaders('boss-1', [], 'The Boss', [
      { typ: 'preferred_username', val: 'boss@example.com' },
    ]);
    const approved = await call<{ decision: { by: string } }>(`${product.baseUrl}${approvalOf()}`, {
      body: { decision: 'approve', round: 0 },
      headers: boss,
    });
    expect(approved.status).toBe(200);
    expect(approved.body.decision.by).toBe('boss-1');
    await pollUntil(
      () => call<{ status: string }>(`${product.baseUrl}${runOf()}`, { headers: owner }),
      (r) => r.status === 200 && r.body.status === 'completed',
    );
  });
});
