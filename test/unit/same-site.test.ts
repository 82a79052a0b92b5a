import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { crossSiteProblem, sameSiteOnly, type StateChangeBody } from '../../src/lib/sameSite';

const url = 'http://127.0.0.1:7071/api/agent-runs/run-12345678/cancel';

function request(headers: Record<string, string>, body?: string): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url,
    headers,
    ...(body === undefined ? {} : { body: { string: body } }),
  });
}

function refusal(headers: Record<string, string>, kind: StateChangeBody = 'none', body?: string) {
  const answer = crossSiteProblem(request(headers, body), kind);
  return (
    answer && { status: answer.status, ...(answer.jsonBody as { refusedBecause: string; detail: string }) }
  );
}

describe('sameSiteOnly: state-changing routes refuse cross-site browser requests', () => {
  it.each([
    [
      'a page on another site (Sec-Fetch-Site: cross-site)',
      { 'sec-fetch-site': 'cross-site' },
      'sec-fetch-site',
    ],
    ['a sibling origin of the same site', { 'sec-fetch-site': 'same-site' }, 'sec-fetch-site'],
    ['another origin', { origin: 'http://127.0.0.1:8080' }, 'origin'],
    ['another host name for the same machine', { origin: 'http://localhost:7071' }, 'origin'],
    ['an opaque origin (sandboxed frame, redirect)', { origin: 'null' }, 'origin'],
    ['a text/plain form', { 'content-type': 'text/plain' }, 'form-body'],
    [
      'an urlencoded form',
      { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
      'form-body',
    ],
    ['a multipart form', { 'content-type': 'multipart/form-data; boundary=x' }, 'form-body'],
  ])('refuses %s with 403 naming why', (_name, headers, why) => {
    expect(refusal(headers)).toMatchObject({
      status: 403,
      refusedBecause: why,
      title: 'Cross-site request refused',
    });
  });

  it('refuses a form type with no body at all on a route that reads none', () => {
    expect(refusal({ 'content-type': 'text/plain' }, 'none', '')).toMatchObject({
      refusedBecause: 'form-body',
    });
  });

  it.each([
    ['curl, the CLI and Durable clients: no Origin, no Sec-Fetch-*, no body', {}],
    ['a script that sends JSON', { 'content-type': 'application/json' }],
    [
      "the app's own page (same origin)",
      { origin: 'http://127.0.0.1:7071', 'sec-fetch-site': 'same-origin' },
    ],
    ['a request the user made by hand', { 'sec-fetch-site': 'none' }],
  ])('lets through %s', (_name, headers) => {
    expect(refusal(headers)).toBeUndefined();
  });

  it('leaves form media types on JSON routes to the body reader (415), which refuses everything but JSON', () => {
    expect(refusal({ 'content-type': 'text/plain' }, 'json')).toBeUndefined();
    expect(refusal({ 'content-type': 'text/plain', origin: 'http://evil.example' }, 'json')).toMatchObject({
      refusedBecause: 'origin',
    });
  });

  it('runs the handler only for requests it lets through', async () => {
    let ran = 0;
    const handler = sameSiteOnly(() => {
      ran++;
      return Promise.resolve({ status: 202 } satisfies HttpResponseInit);
    }, 'none');
    const context = new InvocationContext();
    expect((await handler(request({ 'sec-fetch-site': 'cross-site' }), context)).status).toBe(403);
    expect(ran).toBe(0);
    expect((await handler(request({}), context)).status).toBe(202);
    expect(ran).toBe(1);
  });
});
