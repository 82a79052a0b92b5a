/**
 * `--auth azure`: the Functions host's key checks by authLevel and App Service Authentication from its
 * settings, as in Azure (devhost/src/http/keys.ts and easyauth.ts cite where each rule comes from).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EasyAuth, isExcludedPath, parseEasyAuthSettings } from '../src/http/easyauth';
import { type DevHostProcess, startDevHostProcess } from './harness';
import { type Status, fixture, pollUntil } from './support';

const keys = {
  masterKey: 'master-key-0123456789abcdefghij',
  functionKeys: { default: 'host-function-key-0123456789ab' },
  systemKeys: { durabletask_extension: 'durable-system-key-0123456789' },
  functions: { keyed: { own: 'keyed-own-key-0123456789abcdef' } },
};
const browser =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: () => unknown;
}

/** One request, redirects not followed (the test looks at them). */
async function request(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    json: () => JSON.parse(text) as unknown,
  };
}

describe('the devhost with --auth azure', () => {
  let host: DevHostProcess;
  let dir: string;
  let token: string;
  const url = (p: string) => `${host.baseUrl}${p}`;
  const bearer = () => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'devhost-azure-auth-'));
    writeFileSync(path.join(dir, 'keys.json'), JSON.stringify(keys));
    host = await startDevHostProcess({
      appDir: fixture('auth-app'),
      args: [
        '--auth',
        'azure',
        '--keys',
        path.join(dir, 'keys.json'),
        '--easy-auth',
        path.join(fixture('auth-app'), 'easyauth.json'),
      ],
    });
    const issued = await request(url('/.auth/local/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ oid: 'user-a', username: 'a@contoso.example', name: 'A', roles: ['Reader'] }),
    });
    expect(issued.status).toBe(200);
    token = (issued.json() as { access_token: string }).access_token;
  });
  afterAll(async () => {
    await host?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('function keys, as the Functions host checks them', () => {
    const get = (p: string, headers: Record<string, string> = {}) =>
      request(url(p), { headers: { ...bearer(), ...headers } });

    it('opens a function-level route with a host key or its own key, by header or ?code=, and nothing else', async () => {
      const noKey = await get('/api/keyed');
      expect([noKey.status, noKey.text]).toEqual([401, '']);
      expect((await get('/api/keyed', { 'x-functions-key': keys.functionKeys.default })).status).toBe(200);
      expect((await get(`/api/keyed?code=${keys.functionKeys.default}`)).status).toBe(200);
      expect((await get('/api/keyed', { 'x-functions-key': keys.functions.keyed.own })).status).toBe(200);
      expect((await get('/api/keyed', { 'x-functions-key': keys.masterKey })).status).toBe(200);
      // Another function's own key, a system key, a wrong header with a right ?code=: all refused.
      expect((await get('/api/otherKeyed', { 'x-functions-key': keys.functions.keyed.own })).status).toBe(
        401,
      );
      expect(
        (await get('/api/keyed', { 'x-functions-key': keys.systemKeys.durabletask_extension })).status,
      ).toBe(401);
      expect(
        (await get(`/api/keyed?code=${keys.functionKeys.default}`, { 'x-functions-key': 'wrong' })).status,
      ).toBe(401);
    });

    it('keeps admin routes, /admin and the management webhook for the master and the system key', async () => {
      expect((await get('/api/adminOnly', { 'x-functions-key': keys.functionKeys.default })).status).toBe(
        401,
      );
      expect((await get('/api/adminOnly', { 'x-functions-key': keys.masterKey })).status).toBe(200);
      expect((await get('/admin/host/status', { 'x-functions-key': keys.functionKeys.default })).status).toBe(
        401,
      );
      expect((await get('/admin/host/status', { 'x-functions-key': keys.masterKey })).status).toBe(200);
      const webhook = '/runtime/webhooks/durabletask/instances';
      expect((await get(webhook, { 'x-functions-key': keys.functionKeys.default })).status).toBe(401);
      expect((await get(`${webhook}?code=${keys.systemKeys.durabletask_extension}`)).status).toBe(200);
      expect((await get(webhook, { 'x-functions-key': keys.masterKey })).status).toBe(200);
      // The rpc base the app's own client uses is not on the public port.
      expect((await get('/durabletask/instances', { 'x-functions-key': keys.masterKey })).status).toBe(404);
    });

    it("hands the app's durable client the system key in its URLs and a private rpc base", async () => {
      const started = await request(url('/api/start'), {
        method: 'POST',
        headers: { ...bearer(), 'x-functions-key': keys.functionKeys.default },
      });
      expect(started.status).toBe(202);
      const links = started.json() as { id: string; statusQueryGetUri: string };
      expect(new URL(links.statusQueryGetUri).searchParams.get('code')).toBe(
        keys.systemKeys.durabletask_extension,
      );
      const done = await pollUntil(
        async () => (await request(links.statusQueryGetUri, { headers: bearer() })).json() as Status,
        (s) => s.runtimeStatus === 'Completed',
      );
      expect(done.output).toBe('hello');
    });
  });

  describe('App Service Authentication, from its settings', () => {
    it('sends browsers to sign in and answers 401 to API clients, except on excluded paths', async () => {
      const fromBrowser = await request(url('/api/whoami?x=1'), { headers: { 'user-agent': browser } });
      expect(fromBrowser.status).toBe(302);
      expect(fromBrowser.headers.get('location')).toBe(
        `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent('/api/whoami?x=1')}`,
      );
      expect((await request(url('/api/whoami'), { headers: { 'user-agent': 'node' } })).status).toBe(401);
      expect((await request(url('/api/public/page'), { headers: { 'user-agent': browser } })).status).toBe(
        200,
      );
      expect((await request(url('/api/health'))).status).toBe(200);
      // A token that is there but not valid is refused, from a browser too.
      const forged = await request(url('/api/whoami'), {
        headers: { 'user-agent': browser, authorization: `Bearer ${token.slice(0, -2)}xx` },
      });
      expect(forged.status).toBe(401);
    });

    it('drops principal headers the client sent and passes its own, shaped as App Service does', async () => {
      const forged = {
        'x-ms-client-principal-id': 'someone-else',
        'x-ms-client-principal': Buffer.from(
          JSON.stringify({ claims: [{ typ: 'roles', val: 'Admin' }] }),
        ).toString('base64'),
      };
      const anonymous = (await request(url('/api/health'), { headers: forged })).json();
      expect(anonymous).toMatchObject({ principal: null, id: null });

      const seen = (await request(url('/api/whoami'), { headers: { ...forged, ...bearer() } })).json();
      expect(seen).toMatchObject({
        id: 'user-a',
        name: 'a@contoso.example',
        idp: 'aad',
        principal: {
          auth_typ: 'aad',
          name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
          role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
        },
      });
      const claims = (seen as { principal: { claims: { typ: string; val: string }[] } }).principal.claims;
      expect(claims).toEqual(
        expect.arrayContaining([
          { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'user-a' },
          { typ: 'preferred_username', val: 'a@contoso.example' },
          { typ: 'name', val: 'A' },
          { typ: 'roles', val: 'Reader' },
        ]),
      );
      expect(claims.filter((c) => c.typ === 'roles')).toEqual([{ typ: 'roles', val: 'Reader' }]);
    });

    it('signs a browser in through the local identity provider and keeps it signed in with a cookie', async () => {
      const form = await request(url('/.auth/login/aad?post_login_redirect_uri=%2Fapi%2Fwhoami'));
      expect(form.status).toBe(200);
      expect(form.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(form.text).toContain('name="post_login_redirect_uri" value="/api/whoami"');

      const signIn = (redirect: string) =>
        request(url('/.auth/login/aad/callback'), {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': browser },
          body: new URLSearchParams({
            oid: 'user-b',
            username: 'b@contoso.example',
            name: 'B <b>',
            roles: 'AgentRuns.Approve, AgentRuns.Approve',
            post_login_redirect_uri: redirect,
          }).toString(),
        });
      const signedIn = await signIn('/api/whoami');
      expect(signedIn.status).toBe(302);
      expect(signedIn.headers.get('location')).toBe('/api/whoami');
      const cookie = (signedIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      expect(cookie).toMatch(/^AppServiceAuthSession=.+/);
      expect((await signIn('//elsewhere.example/')).headers.get('location')).toBe('/');

      const seen = (await request(url('/api/whoami'), { headers: { cookie, 'user-agent': browser } })).json();
      expect(seen).toMatchObject({ id: 'user-b', name: 'b@contoso.example', idp: 'aad' });

      const me = await request(url('/.auth/me'), { headers: { cookie } });
      expect(me.status).toBe(200);
      expect(me.json()).toMatchObject([{ provider_name: 'aad', user_id: 'b@contoso.example' }]);
      expect((await request(url('/.auth/me'))).status).toBe(401);

      // A state-changing request on the session cookie from a browser needs a Referer from this host.
      const post = (headers: Record<string, string>) =>
        request(url('/api/whoami'), { method: 'POST', headers: { 'user-agent': browser, ...headers } });
      expect((await post({ cookie })).status).toBe(403);
      expect((await post({ cookie, referer: url('/api/somewhere') })).status).toBe(200);
      expect((await post({ cookie, referer: 'https://elsewhere.example/' })).status).toBe(403);
      expect((await post(bearer())).status).toBe(200);

      const out = await request(url('/.auth/logout?post_logout_redirect_uri=/api/health'), {
        headers: { cookie },
      });
      expect(out.status).toBe(302);
      expect(out.headers.get('location')).toBe('/api/health');
      expect(out.headers.get('set-cookie')).toMatch(/^AppServiceAuthSession=;.*Max-Age=0/);
    });
  });
});

describe('App Service Authentication settings', () => {
  const settings = (action: string, extra: Record<string, unknown> = {}) =>
    parseEasyAuthSettings(
      { globalValidation: { unauthenticatedClientAction: action, excludedPaths: ['/api/health'], ...extra } },
      'test settings',
    );

  /** A server that answers what the module let through with 200. */
  async function serve(easyAuth: EasyAuth): Promise<{ url: string; server: Server }> {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? ''}`);
      if (easyAuth.admit(req, res, url)) return;
      res.end(req.headers['x-ms-client-principal-id'] ?? 'anonymous');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
  }

  it.each([
    ['Return401', 401],
    ['Return403', 403],
    ['AllowAnonymous', 200],
    ['RedirectToLoginPage', 302],
  ])('%s: a browser without a session gets %i', async (action, status) => {
    const { url, server } = await serve(new EasyAuth(settings(action), 'master-key-0123456789abcdef'));
    try {
      expect((await request(`${url}/api/x`, { headers: { 'user-agent': browser } })).status).toBe(status);
      expect((await request(`${url}/api/health`, { headers: { 'user-agent': browser } })).status).toBe(200);
    } finally {
      server.close();
    }
  });

  it('lets unauthenticated requests through when authentication is not required', async () => {
    const { url, server } = await serve(
      new EasyAuth(settings('Return401', { requireAuthentication: false }), 'master-key-0123456789abcdef'),
    );
    try {
      const reply = await request(`${url}/api/x`, { headers: { 'x-ms-client-principal-id': 'forged' } });
      expect([reply.status, reply.text]).toEqual([200, 'anonymous']);
    } finally {
      server.close();
    }
  });

  it('matches excluded paths exactly or under a /folder/* entry, ignoring case', () => {
    const excluded = ['/api/health', '/static/*'];
    expect(isExcludedPath(excluded, '/API/Health')).toBe(true);
    expect(isExcludedPath(excluded, '/api/health/more')).toBe(false);
    expect(isExcludedPath(excluded, '/static/a/b.css')).toBe(true);
    expect(isExcludedPath(excluded, '/staticx')).toBe(false);
  });

  it('refuses settings it cannot play, naming the field', () => {
    expect(() => settings('Redirect')).toThrow(/unauthenticatedClientAction must be one of/);
    expect(() =>
      parseEasyAuthSettings({ globalValidation: { excludedPaths: ['api/health'] } }, 'file.json'),
    ).toThrow(/file\.json: globalValidation\.excludedPaths/);
  });
});
