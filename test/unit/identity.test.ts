import { HttpRequest } from '@azure/functions';
import { canApprove, canView, isAdmin, resolveCaller, roles, type Caller } from '../../src/lib/identity';

function request(headers: Record<string, string> = {}) {
  return new HttpRequest({ method: 'GET', url: 'http://localhost/api/quota', headers });
}

const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

/** A principal as App Service Authentication sends it for an Entra ID sign-in. */
function easyAuth(userId: string, options: { roles?: string[]; name?: string; roleTyp?: string } = {}) {
  const roleTyp = options.roleTyp ?? 'roles';
  return {
    'x-ms-client-principal': encode({
      auth_typ: 'aad',
      name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
      role_typ: roleTyp,
      claims: [
        {
          typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
          val: options.name ?? `${userId}@contoso.com`,
        },
        { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: userId },
        ...(options.roles ?? []).map((val) => ({ typ: roleTyp, val })),
      ],
    }),
    'x-ms-client-principal-id': userId,
    'x-ms-client-principal-name': options.name ?? `${userId}@contoso.com`,
  };
}

function caller(headers: Record<string, string>, mode: 'dev' | 'appservice' = 'appservice'): Caller {
  const result = resolveCaller(request(headers), mode);
  if (!result.ok) throw new Error(`expected a caller, got ${JSON.stringify(result.response.jsonBody)}`);
  return result.caller;
}

function refused(headers: Record<string, string>, mode: 'dev' | 'appservice' = 'appservice') {
  const result = resolveCaller(request(headers), mode);
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.caller)}`);
  return result.response;
}

describe('resolveCaller', () => {
  it('reads the user, name and roles App Service Authentication sends', () => {
    expect(
      caller(easyAuth('3f2a9c1e-0000-4000-8000-000000000001', { roles: [roles.admin, roles.approve] })),
    ).toEqual({
      userId: '3f2a9c1e-0000-4000-8000-000000000001',
      name: '3f2a9c1e-0000-4000-8000-000000000001@contoso.com',
      handles: [],
      roles: [roles.admin, roles.approve],
      authenticated: true,
    });
  });

  it.each(['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', 'custom/role'])(
    'takes roles from claims of type %s when the principal names it as role_typ',
    (roleTyp) => {
      expect(caller(easyAuth('alice', { roles: [roles.approve], roleTyp })).roles).toEqual([roles.approve]);
    },
  );

  it('takes roles from the standard role claim types even when role_typ names another', () => {
    const headers = {
      'x-ms-client-principal': encode({
        role_typ: 'custom',
        claims: [
          { typ: 'roles', val: roles.admin },
          { typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', val: roles.approve },
          { typ: 'groups', val: 'not-a-role' },
        ],
      }),
      'x-ms-client-principal-id': 'alice',
    };
    expect(caller(headers).roles).toEqual([roles.admin, roles.approve]);
  });

  it('falls back to the object id claim when the id header is missing', () => {
    const headers = easyAuth('bob');
    delete (headers as Partial<typeof headers>)['x-ms-client-principal-id'];
    expect(caller(headers).userId).toBe('bob');
  });

  it('answers 401 problem+json in appservice mode when there is no principal', () => {
    const response = refused({});
    expect(response.status).toBe(401);
    expect(new Headers(response.headers).get('content-type')).toBe('application/problem+json');
    const body = response.jsonBody as { status: number; detail: string };
    expect(body.status).toBe(401);
    expect(body.detail).toMatch(/no App Service Authentication principal/);
  });

  it.each([
    [
      'not base64',
      { 'x-ms-client-principal': '%%%not base64%%%', 'x-ms-client-principal-id': 'alice' },
      /not base64/,
    ],
    [
      'base64 of non-JSON',
      { 'x-ms-client-principal': Buffer.from('{oops').toString('base64') },
      /does not decode to JSON/,
    ],
    ['a JSON array', { 'x-ms-client-principal': encode([1, 2]) }, /not .*JSON object/],
    [
      'claims that are not a list',
      { 'x-ms-client-principal': encode({ claims: 'admin' }) },
      /claims is not a list/,
    ],
    [
      'a claim without strings',
      { 'x-ms-client-principal': encode({ claims: [{ typ: 'roles', val: 7 }] }) },
      /claim lacks/,
    ],
    [
      'a claim that is null',
      { 'x-ms-client-principal': encode({ claims: [null] }) },
      /claim is not an object/,
    ],
    ['no user id anywhere', { 'x-ms-client-principal': encode({ claims: [] }) }, /no user id/],
    [
      'an id that cannot be a key',
      { 'x-ms-client-principal': encode({ claims: [] }), 'x-ms-client-principal-id': '../etc/passwd' },
      /user id is not usable/,
    ],
    [
      'an empty id',
      { 'x-ms-client-principal': encode({ claims: [] }), 'x-ms-client-principal-id': '' },
      /no user id/,
    ],
    ['a huge header', { 'x-ms-client-principal': 'A'.repeat(70_000) }, /too long/],
  ])('answers 401, never throwing, for a principal with %s', (_case, headers, detail) => {
    for (const mode of ['appservice', 'dev'] as const) {
      const response = refused(headers, mode);
      expect(response.status).toBe(401);
      expect((response.jsonBody as { detail: string }).detail).toMatch(detail);
    }
  });

  it('answers 401 in appservice mode to an id header sent without the principal, as only a client would', () => {
    const response = refused({ 'x-ms-client-principal-id': 'victim' });
    expect(response.status).toBe(401);
    expect((response.jsonBody as { detail: string }).detail).toMatch(/without x-ms-client-principal/);
  });

  it("answers 401 when the id header contradicts the principal's object id", () => {
    const headers = { ...easyAuth('alice'), 'x-ms-client-principal-id': 'admin-1' };
    for (const mode of ['appservice', 'dev'] as const) {
      expect(refused(headers, mode).status).toBe(401);
    }
  });

  it("takes the user id from the principal's object id claim when the id header spells it in another case", () => {
    const id = '3f2a9c1e-0000-4000-8000-00000000000a';
    const headers = { ...easyAuth(id), 'x-ms-client-principal-id': id.toUpperCase() };
    expect(caller(headers).userId).toBe(id);
  });

  it('answers 401 to a principal with two different object id claims', () => {
    const headers = {
      'x-ms-client-principal': encode({
        claims: [
          { typ: 'http://schemas.microsoft.com/identity/claims/objectidentifier', val: 'alice' },
          { typ: 'oid', val: 'mallory' },
        ],
      }),
      'x-ms-client-principal-id': 'mallory',
    };
    expect((refused(headers).jsonBody as { detail: string }).detail).toMatch(/more than one object id/);
  });

  it.each([
    ['a request without principal headers', {}, 'local-user'],
    ['only an id header', { 'x-ms-client-principal-id': 'carol' }, 'carol'],
  ])('takes %s in dev mode as %s, with no roles, unauthenticated', (_case, headers, userId) => {
    expect(caller(headers, 'dev')).toEqual({ userId, handles: [], roles: [], authenticated: false });
  });

  it('lets a dev-mode caller act as another user with roles by sending the headers, marked unauthenticated', () => {
    expect(caller(easyAuth('mallory', { roles: [roles.admin] }), 'dev')).toMatchObject({
      userId: 'mallory',
      roles: [roles.admin],
      authenticated: false,
    });
  });

  it('takes the name from the principal when the name header is missing', () => {
    const headers = easyAuth('dave', { name: 'dave@contoso.com' });
    delete (headers as Partial<typeof headers>)['x-ms-client-principal-name'];
    expect(caller(headers).name).toBe('dave@contoso.com');
  });

  it('takes sign-in names from preferred_username, upn and email claims, never from the display name', () => {
    const headers = {
      'x-ms-client-principal': encode({
        claims: [
          { typ: 'name', val: 'boss@contoso.com' },
          { typ: 'preferred_username', val: 'Mallory@Contoso.com' },
          { typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn', val: 'mallory@contoso.com' },
          { typ: 'email', val: 'm@example.org' },
        ],
      }),
      'x-ms-client-principal-id': 'mallory',
      'x-ms-client-principal-name': 'boss@contoso.com',
    };
    const who = caller(headers);
    expect(who.handles).toEqual(['mallory@contoso.com', 'm@example.org']);
    expect(who.name).toBe('boss@contoso.com');
  });
});

describe('canApprove, canView and isAdmin', () => {
  // approversOf lists the owner first, as the run view and the endpoints pass it.
  const run = {
    owner: 'owner-1',
    approvers: ['owner-1', 'Boss@Contoso.com', 'reviewer-7'],
    approvalRequired: true,
  };
  const who = (userId: string, extra: Partial<Caller> = {}): Caller => ({
    userId,
    handles: [],
    roles: [],
    authenticated: true,
    ...extra,
  });

  it('lets the owner approve', () => expect(canApprove(who('owner-1'), run)).toBe(true));
  it('lets a listed approver approve by user id', () =>
    expect(canApprove(who('reviewer-7'), run)).toBe(true));
  it('matches user ids exactly: an id that differs only in case is another user', () => {
    expect(canApprove(who('REVIEWER-7'), run)).toBe(false);
    expect(canApprove(who('Owner-1'), run)).toBe(false);
    expect(canView(who('Owner-1'), run)).toBe(false);
  });
  it("never matches the owner's id by a sign-in name", () =>
    expect(canApprove(who('u-8', { handles: ['owner-1'] }), run)).toBe(false));
  it('lets a listed approver approve by a sign-in name (preferred_username, upn, email), ignoring case', () =>
    expect(canApprove(who('u-9', { handles: ['boss@contoso.com'] }), run)).toBe(true));
  it('refuses a display-name impostor: a name claim equal to an approver address grants nothing', () =>
    expect(canApprove(who('mallory', { name: 'Boss@Contoso.com' }), run)).toBe(false));
  it('lets anyone with the Approve role approve a run that asked for approval, and no other', () => {
    expect(canApprove(who('u-10', { roles: [roles.approve] }), run)).toBe(true);
    const unapproved = { owner: 'owner-1', approvers: ['owner-1'], approvalRequired: false };
    expect(canApprove(who('u-10', { roles: [roles.approve] }), unapproved)).toBe(false);
    expect(canView(who('u-10', { roles: [roles.approve] }), unapproved)).toBe(false);
  });
  it('refuses a stranger', () =>
    expect(canApprove(who('mallory', { name: 'mallory@contoso.com' }), run)).toBe(false));
  it('lets an admin view every run but decide none', () => {
    expect(canApprove(who('admin', { roles: [roles.admin] }), run)).toBe(false);
    expect(canView(who('admin', { roles: [roles.admin] }), run)).toBe(true);
    expect(canView(who('admin', { roles: [roles.admin] }), { ...run, approvalRequired: false })).toBe(true);
  });
  it('knows an admin by the Admin role only', () => {
    expect(isAdmin(who('a', { roles: [roles.admin] }))).toBe(true);
    expect(isAdmin(who('a', { roles: [roles.approve, 'admin'] }))).toBe(false);
  });
});
