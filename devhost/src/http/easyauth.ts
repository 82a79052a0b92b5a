/**
 * App Service Authentication ("Easy Auth") as it stands in front of a Function App, played locally from
 * the same settings Bicep writes (`authsettingsV2` properties, read from a JSON file: `--easy-auth FILE`),
 * with a small local stand-in for the identity provider. Used by the devhost's `--auth azure`.
 *
 * What it does, and where the behaviour comes from:
 * - Strips every `x-ms-client-principal*` and `x-ms-token-*` header a client sent: "External requests
 *   aren't allowed to set these headers, so they're present only if set by App Service" (Learn, "Work with
 *   user identities in Azure App Service authentication").
 * - Knows the caller from its `AppServiceAuthSession` cookie (a browser that signed in at
 *   `/.auth/login/aad`) or an `Authorization: Bearer` token, and passes the caller on as
 *   `x-ms-client-principal` (base64 JSON `{auth_typ, claims: [{typ, val}], name_typ, role_typ}`, claim
 *   names mapped as for Microsoft Entra tokens), `x-ms-client-principal-id` (the object id),
 *   `-name` (the sign-in name) and `-idp` (`aad`).
 * - An unauthenticated request takes `globalValidation.unauthenticatedClientAction` (one value for the
 *   whole app): Return401, Return403, AllowAnonymous, or RedirectToLoginPage, which redirects browsers to
 *   `/.auth/login/<provider>` and answers 401 to other clients. A browser is told by its User-Agent:
 *   with the redirect configured, a non-browser User-Agent gets 401 (microsoft/azure-container-apps#1193,
 *   the same authentication middleware; Learn's older overview: "If the anonymous request comes from a
 *   native mobile app, the returned response is an HTTP 401 Unauthorized").
 * - `excludedPaths` take no action for unauthenticated requests (Azure/azure-sdk-for-net#51569); a caller
 *   who is signed in still arrives with the principal headers. An entry is an exact path or ends in `/*`
 *   for everything under a folder (MicrosoftDocs/azure-docs#86514, answered by the product team).
 * - A token that is presented but not valid is refused with 401 whatever the action.
 * - Cross-site request forgery: a state-changing request (not GET, HEAD or OPTIONS) that is authenticated
 *   by the session cookie and comes from a browser User-Agent is refused with 403 unless its `Referer`
 *   names this host. The module does this without documenting it (Azure/azure-functions-host#1602,
 *   MicrosoftDocs/azure-docs#104705; voxel51/fiftyone#4539 shows a same-origin POST without a Referer
 *   refused), so a page must not strip the Referer from its own requests.
 * - `/.auth/me` answers only with the token store on ("If the token store is enabled for your app, you
 *   can also obtain other details on the authenticated user by calling /.auth/me"); `/.auth/logout` ends
 *   the session.
 *
 * The identity provider is a stand-in for Microsoft Entra ID: `/.auth/login/aad` shows a form to pick a
 * user id, names and roles (no password: it is a local development host), and `POST /.auth/local/token`
 * gives an API client a bearer token for such a user. Both are signed with a key derived from the host's
 * master key, so sessions survive a restart that keeps the keys file.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import escapeHtml from 'escape-html';
import { readBody, send } from '../httpIo';

export type UnauthenticatedAction = 'RedirectToLoginPage' | 'AllowAnonymous' | 'Return401' | 'Return403';

/** The parts of `authsettingsV2` the devhost plays. */
export interface EasyAuthSettings {
  enabled: boolean;
  requireAuthentication: boolean;
  unauthenticatedClientAction: UnauthenticatedAction;
  /** The provider alias browsers are sent to sign in with: `aad` (Microsoft Entra ID). */
  provider: string;
  excludedPaths: string[];
  tokenStore: boolean;
  /** `login.cookieExpiration.timeToExpiration`; Easy Auth's default is 8 hours. */
  sessionLifetimeMs: number;
}

const actions: readonly UnauthenticatedAction[] = [
  'RedirectToLoginPage',
  'AllowAnonymous',
  'Return401',
  'Return403',
];

/** Reads the `properties` of an `authsettingsV2` resource (as JSON); `source` names it in errors. */
export function parseEasyAuthSettings(json: unknown, source: string): EasyAuthSettings {
  const fail = (what: string) => new Error(`${source}: ${what}.`);
  const object = (value: unknown, where: string): Record<string, unknown> => {
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw fail(`${where} must be an object`);
    return value as Record<string, unknown>;
  };
  const root = object(json, 'the settings');
  const platform = object(root.platform, 'platform');
  const global = object(root.globalValidation, 'globalValidation');
  const login = object(root.login, 'login');
  const providers = object(root.identityProviders, 'identityProviders');
  const aad = object(providers.azureActiveDirectory, 'identityProviders.azureActiveDirectory');

  const action = global.unauthenticatedClientAction ?? 'RedirectToLoginPage';
  const known = actions.find((a) => typeof action === 'string' && a.toLowerCase() === action.toLowerCase());
  if (!known) throw fail(`globalValidation.unauthenticatedClientAction must be one of ${actions.join(', ')}`);
  const excluded = global.excludedPaths ?? [];
  if (!Array.isArray(excluded) || excluded.some((p) => typeof p !== 'string' || !p.startsWith('/')))
    throw fail('globalValidation.excludedPaths must be a list of paths starting with /');
  const redirectTo = global.redirectToProvider;
  if (
    redirectTo !== undefined &&
    !(typeof redirectTo === 'string' && /^(aad|azureactivedirectory)$/i.test(redirectTo))
  )
    throw fail('globalValidation.redirectToProvider: the devhost plays only azureActiveDirectory (aad)');
  if (aad.enabled === false) throw fail('the devhost plays only identityProviders.azureActiveDirectory');
  const lifetime = object(login.cookieExpiration, 'login.cookieExpiration').timeToExpiration;
  return {
    enabled: platform.enabled !== false,
    requireAuthentication: global.requireAuthentication !== false,
    unauthenticatedClientAction: known,
    provider: 'aad',
    excludedPaths: excluded as string[],
    tokenStore: object(login.tokenStore, 'login.tokenStore').enabled === true,
    sessionLifetimeMs: lifetime === undefined ? 8 * 3600_000 : timeSpanMs(lifetime, source),
  };
}

/** `hh:mm:ss` or `d.hh:mm:ss`, as .NET writes a TimeSpan. */
function timeSpanMs(value: unknown, source: string): number {
  const match = typeof value === 'string' ? /^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$/.exec(value) : null;
  if (!match) throw new Error(`${source}: login.cookieExpiration.timeToExpiration must look like 08:00:00.`);
  const [, days, hours, minutes, seconds] = match;
  return ((Number(days ?? 0) * 24 + Number(hours)) * 3600 + Number(minutes) * 60 + Number(seconds)) * 1000;
}

/** Whether `pathname` is one of `excludedPaths` (exact, or under a `/folder/*` entry; case ignored). */
export function isExcludedPath(excludedPaths: readonly string[], pathname: string): boolean {
  const path = pathname.toLowerCase();
  return excludedPaths.some((entry) => {
    const e = entry.toLowerCase();
    return e.endsWith('/*') ? path.startsWith(e.slice(0, -1)) : path === e;
  });
}

/** Someone the stand-in identity provider signed in. */
export interface LocalUser {
  /** The Entra object id: `x-ms-client-principal-id`. */
  oid: string;
  /** Display name (`name`). */
  name?: string;
  /** Sign-in name (`preferred_username`): `x-ms-client-principal-name`. */
  username?: string;
  roles: string[];
}

interface SignedUser extends LocalUser {
  kind: 'session' | 'access';
  iat: number;
  exp: number;
}

export const sessionCookieName = 'AppServiceAuthSession';
const tenantId = '00000000-0000-0000-0000-00000000de00';
const nameClaimType = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name';
const roleClaimType = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';
const unauthorizedText = 'You do not have permission to view this directory or page.';

/** App Service Authentication for one host. */
export class EasyAuth {
  readonly #signingKey: Buffer;

  constructor(
    readonly settings: EasyAuthSettings,
    /** The host's master key: sessions and tokens are signed with a key derived from it. */
    masterKey: string,
  ) {
    this.#signingKey = createHmac('sha256', masterKey).update('devhost App Service Authentication').digest();
  }

  /** Whether `/.auth/...` belongs to this module (it does whenever the platform is on). */
  handles(pathname: string): boolean {
    return this.settings.enabled && (pathname === '/.auth' || pathname.startsWith('/.auth/'));
  }

  /** Serves `/.auth/...`: sign-in, callback, token, me, logout. */
  async serveAuthPath(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname.toLowerCase().replace(/\/+$/, '');
    if (path === `/.auth/login/${this.settings.provider}` && method === 'GET') {
      return this.#signInForm(res, url.searchParams.get('post_login_redirect_uri') ?? '/');
    }
    if (path === `/.auth/login/${this.settings.provider}/callback` && method === 'POST') {
      return this.#signInCallback(req, res);
    }
    if (path === '/.auth/local/token' && method === 'POST') return this.#issueToken(req, res);
    if (path === '/.auth/me' && method === 'GET') {
      if (!this.settings.tokenStore) {
        return send(res, 404, 'The token store is off (login.tokenStore.enabled), so /.auth/me has nothing.');
      }
      const user = this.#authenticate(req).user;
      if (!user) return send(res, 401, unauthorizedText);
      return send(res, 200, [
        {
          provider_name: this.settings.provider,
          user_id: user.username ?? user.oid,
          user_claims: claimsOf(user, url.origin),
        },
      ]);
    }
    if (path === '/.auth/logout' && method === 'GET') {
      const target = sameOriginPath(url.searchParams.get('post_logout_redirect_uri')) ?? '/.auth/logout/done';
      return send(res, 302, undefined, {
        location: target,
        'set-cookie': `${sessionCookieName}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`,
      });
    }
    if (path === '/.auth/logout/done' && method === 'GET') {
      return page(res, 200, 'Signed out', '<p>You have signed out of the local host.</p>');
    }
    send(res, 404);
  }

  /**
   * Every request that is not `/.auth/...`: removes the principal headers the client sent, adds the
   * caller's, and answers in the module's place when the request may not pass. True when it answered.
   */
  admit(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    for (const name of Object.keys(req.headers)) {
      if (name.startsWith('x-ms-client-principal') || name.startsWith('x-ms-token-'))
        delete req.headers[name];
    }
    if (!this.settings.enabled) return false;
    const excluded = isExcludedPath(this.settings.excludedPaths, url.pathname);
    const { user, by, invalid } = this.#authenticate(req);
    if (invalid && !excluded) {
      send(res, 401, unauthorizedText, { 'www-authenticate': `Bearer realm="${url.host}"` });
      return true;
    }
    if (user) {
      const method = (req.method ?? 'GET').toUpperCase();
      if (by === 'cookie' && !['GET', 'HEAD', 'OPTIONS'].includes(method) && isBrowser(req)) {
        if (!sameHostReferer(req)) {
          send(res, 403, unauthorizedText);
          return true;
        }
      }
      const principal = {
        auth_typ: this.settings.provider,
        claims: claimsOf(user, url.origin),
        name_typ: nameClaimType,
        role_typ: roleClaimType,
      };
      req.headers['x-ms-client-principal'] = Buffer.from(JSON.stringify(principal)).toString('base64');
      req.headers['x-ms-client-principal-id'] = user.oid;
      req.headers['x-ms-client-principal-name'] = user.username ?? user.name ?? user.oid;
      req.headers['x-ms-client-principal-idp'] = this.settings.provider;
      return false;
    }
    if (excluded || !this.settings.requireAuthentication) return false;
    switch (this.settings.unauthenticatedClientAction) {
      case 'AllowAnonymous':
        return false;
      case 'Return403':
        send(res, 403, unauthorizedText);
        return true;
      case 'Return401':
        send(res, 401, unauthorizedText, { 'www-authenticate': `Bearer realm="${url.host}"` });
        return true;
      case 'RedirectToLoginPage':
        if (!isBrowser(req)) {
          send(res, 401, unauthorizedText, { 'www-authenticate': `Bearer realm="${url.host}"` });
          return true;
        }
        send(res, 302, undefined, {
          location: `/.auth/login/${this.settings.provider}?post_login_redirect_uri=${encodeURIComponent(
            `${url.pathname}${url.search}`,
          )}`,
        });
        return true;
    }
  }

  /** The caller, from a bearer token or else the session cookie; `invalid` when a token was bad. */
  #authenticate(req: IncomingMessage): { user?: SignedUser; by?: 'bearer' | 'cookie'; invalid?: boolean } {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      const bearer = /^Bearer\s+(\S+)$/i.exec(authorization);
      const user = bearer?.[1] ? this.#verify(bearer[1], 'access') : undefined;
      return user ? { user, by: 'bearer' } : { invalid: true };
    }
    const cookie = cookieValue(req.headers.cookie, sessionCookieName);
    if (cookie === undefined || cookie === '') return {};
    const user = this.#verify(cookie, 'session');
    // An expired or foreign session cookie is no session: the browser is sent to sign in again.
    return user ? { user, by: 'cookie' } : {};
  }

  #sign(user: LocalUser, kind: SignedUser['kind'], lifetimeMs: number): string {
    const now = Math.floor(Date.now() / 1000);
    const body: SignedUser = { ...user, kind, iat: now, exp: now + Math.floor(lifetimeMs / 1000) };
    const payload = Buffer.from(JSON.stringify(body)).toString('base64url');
    return `${payload}.${this.#mac(payload)}`;
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#signingKey).update(payload).digest('base64url');
  }

  #verify(token: string, kind: SignedUser['kind']): SignedUser | undefined {
    const [payload, mac, extra] = token.split('.');
    if (!payload || !mac || extra !== undefined) return undefined;
    const expected = Buffer.from(this.#mac(payload));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const user = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as SignedUser;
      if (user.kind !== kind || user.exp * 1000 <= Date.now()) return undefined;
      return user;
    } catch {
      return undefined;
    }
  }

  #signInForm(res: ServerResponse, redirect: string): void {
    const body = [
      '<p class="note">Local stand-in for Microsoft Entra ID (devhost <code>--auth azure</code>): no password;',
      'pick who you are. In Azure this is the tenant&#39;s sign-in page.</p>',
      `<form method="post" action="/.auth/login/${escapeHtml(this.settings.provider)}/callback">`,
      `<input type="hidden" name="post_login_redirect_uri" value="${escapeHtml(redirect)}">`,
      '<label for="oid">User id (object id)</label><input id="oid" name="oid" required maxlength="128">',
      '<label for="username">Sign-in name (preferred_username)</label><input id="username" name="username" maxlength="256">',
      '<label for="name">Display name</label><input id="name" name="name" maxlength="256">',
      '<label for="roles">Roles (comma-separated)</label><input id="roles" name="roles" maxlength="1024">',
      '<p><button type="submit">Sign in</button></p>',
      '</form>',
    ].join('\n');
    page(res, 200, 'Sign in', body);
  }

  async #signInCallback(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const form = new URLSearchParams((await readBody(req)).toString('utf8'));
    const user = localUser({
      oid: form.get('oid'),
      username: form.get('username'),
      name: form.get('name'),
      roles: form.get('roles'),
    });
    if (typeof user === 'string') return page(res, 400, 'Sign-in refused', `<p>${escapeHtml(user)}</p>`);
    const cookie = this.#sign(user, 'session', this.settings.sessionLifetimeMs);
    const target = sameOriginPath(form.get('post_login_redirect_uri')) ?? '/';
    // Secure in Azure (https only); the local host speaks plain http on loopback.
    send(res, 302, undefined, {
      location: target,
      'set-cookie': `${sessionCookieName}=${cookie}; Path=/; HttpOnly; SameSite=Lax`,
    });
  }

  async #issueToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse((await readBody(req)).toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return send(res, 400, {
        error: 'invalid_request',
        error_description: 'Send JSON: {"oid", "username"?, "name"?, "roles"?: []}.',
      });
    }
    const user = localUser({
      oid: body.oid,
      username: body.username,
      name: body.name,
      roles: Array.isArray(body.roles) ? body.roles.join(',') : body.roles,
    });
    if (typeof user === 'string')
      return send(res, 400, { error: 'invalid_request', error_description: user });
    const lifetimeMs = 3600_000;
    send(res, 200, {
      token_type: 'Bearer',
      access_token: this.#sign(user, 'access', lifetimeMs),
      expires_in: lifetimeMs / 1000,
    });
  }
}

/** The claims App Service would put in `x-ms-client-principal` for a Microsoft Entra ID token. */
function claimsOf(user: SignedUser, origin: string): { typ: string; val: string }[] {
  return [
    { typ: 'aud', val: 'devhost-local-app' },
    { typ: 'iss', val: `${origin}/.auth/local/v2.0` },
    { typ: 'iat', val: String(user.iat) },
    { typ: 'exp', val: String(user.exp) },
    { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: user.oid },
    { typ: 'http://schemas.microsoft.com/identity/claims/tenantid', val: tenantId },
    ...(user.name ? [{ typ: 'name', val: user.name }] : []),
    ...(user.username ? [{ typ: 'preferred_username', val: user.username }] : []),
    ...user.roles.map((val) => ({ typ: 'roles', val })),
    { typ: 'ver', val: '2.0' },
  ];
}

function localUser(fields: {
  oid: unknown;
  username: unknown;
  name: unknown;
  roles: unknown;
}): LocalUser | string {
  const text = (value: unknown, what: string, max: number): string | undefined | Error => {
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') return new Error(`${what} must be text`);
    const trimmed = value.trim();
    // Control characters would end up in a header.
    if (trimmed.length > max || [...trimmed].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f))
      return new Error(`${what} must be at most ${max} characters, without control characters`);
    return trimmed === '' ? undefined : trimmed;
  };
  const oid = text(fields.oid, 'the user id', 128);
  const username = text(fields.username, 'the sign-in name', 256);
  const name = text(fields.name, 'the display name', 256);
  const roles = text(fields.roles, 'the roles', 1024);
  for (const value of [oid, username, name, roles]) if (value instanceof Error) return value.message;
  if (typeof oid !== 'string') return 'A user id is required.';
  return {
    oid,
    ...(typeof username === 'string' ? { username } : {}),
    ...(typeof name === 'string' ? { name } : {}),
    roles:
      typeof roles === 'string'
        ? [
            ...new Set(
              roles
                .split(',')
                .map((r) => r.trim())
                .filter((r) => r !== ''),
            ),
          ]
        : [],
  };
}

function isBrowser(req: IncomingMessage): boolean {
  return /^Mozilla\//.test(req.headers['user-agent'] ?? '');
}

function sameHostReferer(req: IncomingMessage): boolean {
  const referer = req.headers.referer;
  if (referer === undefined) return false;
  try {
    return new URL(referer).host === req.headers.host;
  } catch {
    return false;
  }
}

/** A path on this host to go back to, or undefined for anything that would leave it. */
function sameOriginPath(value: string | null): string | undefined {
  if (value === null || !value.startsWith('/') || value.startsWith('//') || value.includes('\\'))
    return undefined;
  return value;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

function page(res: ServerResponse, status: number, title: string, body: string): void {
  const css = `body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem}
label{display:block;margin-top:.75rem}input{width:100%;font-size:1rem}.note{color:#555}`;
  send(
    res,
    status,
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
      `<style>${css}</style></head><body><h1>${escapeHtml(title)}</h1>\n${body}\n</body></html>`,
    {
      'content-type': 'text/html; charset=utf-8',
      // No script at all; the only inline content is the fixed style block, and every value is escaped.
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      'cache-control': 'no-store',
    },
  );
}
