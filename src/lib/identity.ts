import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { problem } from './http';
import { isValidUserId, userIdRule } from './ids';

/**
 * Who is calling, from App Service Authentication (Easy Auth) headers.
 *
 * Trust: in Azure with App Service Authentication on (AUTH_MODE=appservice), the platform validates the
 * token, strips any `x-ms-client-principal*` headers the client sent, and adds its own, so these headers
 * can be believed. Nothing strips them anywhere else: with AUTH_MODE=dev anyone can claim to be anyone,
 * which is the point (testing other users and roles locally) and why dev mode must never face a network.
 */

export interface Caller {
  userId: string;
  /** For display and logs only: anyone can choose their display name, so it never grants anything. */
  name?: string;
  /**
   * Sign-in names the identity provider vouches for (`preferred_username`, `upn`, `email`), lower-cased.
   * An approver list entry matches one of these or the user id.
   */
  handles: readonly string[];
  roles: readonly string[];
  /** True only when App Service Authentication vouched for the caller (appservice mode). */
  authenticated: boolean;
}

export const roles = { approve: 'AgentRuns.Approve', admin: 'AgentRuns.Admin' } as const;

/** The user a dev-mode request without principal headers acts as. */
export const localUserId = 'local-user';

export type CallerResult = { ok: true; caller: Caller } | { ok: false; response: HttpResponseInit };

const roleClaimTypes = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];
const nameClaimTypes = [
  'name',
  'preferred_username',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
  'emails',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
];
/** Claims that name the account (unique per tenant), unlike `name`, which the user may set freely. */
const handleClaimTypes = [
  'preferred_username',
  'upn',
  'email',
  'emails',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn',
  'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
];
const idClaimTypes = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'];

/** A principal header larger than this is not something App Service would send. */
const maxPrincipalHeaderChars = 64 * 1024;

export function resolveCaller(request: HttpRequest, authMode: 'dev' | 'appservice'): CallerResult {
  const encoded = request.headers.get('x-ms-client-principal');
  const idHeader = request.headers.get('x-ms-client-principal-id');
  const nameHeader = request.headers.get('x-ms-client-principal-name');

  if (encoded === null && idHeader === null) {
    if (authMode === 'dev')
      return { ok: true, caller: { userId: localUserId, handles: [], roles: [], authenticated: false } };
    return unauthorized(
      'The request carries no App Service Authentication principal; sign in and send the token.',
    );
  }

  if (encoded === null && authMode === 'appservice') {
    // App Service sends both headers together; an id on its own was written by the client.
    return unauthorized(
      'x-ms-client-principal-id arrived without x-ms-client-principal, so it did not come from App Service Authentication.',
    );
  }

  let principal: Principal | undefined;
  if (encoded !== null) {
    const decoded = decodePrincipal(encoded);
    if (!decoded.ok) return unauthorized(`The x-ms-client-principal header is malformed: ${decoded.reason}.`);
    principal = decoded.principal;
  }

  const objectIds = [...new Set(principal?.claimValues(idClaimTypes).map((id) => id.toLowerCase()))];
  if (objectIds.length > 1) {
    return unauthorized('The principal carries more than one object id claim, and they differ.');
  }
  const objectId = principal?.claimValues(idClaimTypes)[0];
  const headerId = idHeader?.trim() ?? null;
  if (objectId !== undefined && headerId !== null && objectId.toLowerCase() !== headerId.toLowerCase()) {
    return unauthorized("x-ms-client-principal-id does not match the principal's object id claim.");
  }
  // The claim is the user id when there is one, so the header's spelling (case) of the same id cannot
  // make a second user, with a second quota, out of one person.
  const userId = objectId ?? headerId ?? '';
  if (userId === '') {
    return unauthorized('The principal has no user id: send x-ms-client-principal-id (App Service sets it).');
  }
  if (!isValidUserId(userId)) {
    return unauthorized(`The principal's user id is not usable here. ${userIdRule}`);
  }

  const name = (nameHeader?.trim() || principal?.name()) ?? undefined;
  return {
    ok: true,
    caller: {
      userId,
      ...(name ? { name } : {}),
      handles: [...new Set(principal?.claimValues(handleClaimTypes).map((v) => v.toLowerCase()))],
      roles: principal?.roles() ?? [],
      authenticated: authMode === 'appservice',
    },
  };
}

/** What the access checks need to know about a run. */
export interface RunAccess {
  owner: string;
  /** Who may decide now: the owner, the listed approvers, and after an escalation those it went to. */
  approvers: readonly string[];
  /** Whether the run asked for a person's approval at all; the Approve role counts only then. */
  approvalRequired: boolean;
}

/**
 * May decide the run's approval: its owner, a listed approver, or (on a run that asked for approval) a
 * holder of the `AgentRuns.Approve` role, the organisation's approvers.
 *
 * User ids match exactly: an id that differs in case is another user (in dev mode anyone picks their
 * id, and `Alice` must not pass as `alice`). The owner is matched by id only. A list entry matches the
 * caller's user id exactly, or a sign-in name from the token (`preferred_username`, `upn`, `email`)
 * ignoring case, as sign-in names are; never the display name, which any user can set to someone
 * else's address.
 */
export function canApprove(caller: Caller, run: RunAccess): boolean {
  if (run.owner === '') return false;
  if (caller.userId === run.owner) return true;
  if (run.approvalRequired && caller.roles.includes(roles.approve)) return true;
  return run.approvers.some((entry) => {
    const approver = entry.trim();
    // The owner's own entry (approversOf lists the owner) is an id, matched above and nowhere else.
    if (approver === run.owner) return false;
    return approver === caller.userId || caller.handles.includes(approver.toLowerCase());
  });
}

/**
 * May read the run (its view, its event stream): whoever may decide it, and admins (`AgentRuns.Admin`),
 * who may read every run but decide none.
 */
export function canView(caller: Caller, run: RunAccess): boolean {
  if (run.owner === '') return false;
  return isAdmin(caller) || canApprove(caller, run);
}

export function isAdmin(caller: Caller): boolean {
  return caller.roles.includes(roles.admin);
}

interface Principal {
  claimValues(types: readonly string[]): string[];
  roles(): string[];
  name(): string | undefined;
}

function decodePrincipal(
  encoded: string,
): { ok: true; principal: Principal } | { ok: false; reason: string } {
  const trimmed = encoded.trim();
  if (trimmed.length > maxPrincipalHeaderChars) return { ok: false, reason: 'it is too long' };
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return { ok: false, reason: 'it is not base64' };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(trimmed, 'base64').toString('utf8'));
  } catch {
    return { ok: false, reason: 'it does not decode to JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, reason: 'it does not decode to a JSON object' };
  }
  const record = json as Record<string, unknown>;
  const rawClaims = record.claims ?? [];
  if (!Array.isArray(rawClaims)) return { ok: false, reason: 'claims is not a list' };
  const claims: { typ: string; val: string }[] = [];
  for (const claim of rawClaims as unknown[]) {
    if (typeof claim !== 'object' || claim === null) return { ok: false, reason: 'a claim is not an object' };
    const { typ, val } = claim as Record<string, unknown>;
    if (typeof typ !== 'string' || typeof val !== 'string') {
      return { ok: false, reason: 'a claim lacks a string typ or val' };
    }
    claims.push({ typ, val });
  }
  const roleTyp = typeof record.role_typ === 'string' ? record.role_typ : undefined;
  const nameTyp = typeof record.name_typ === 'string' ? record.name_typ : undefined;
  const claimValues = (types: readonly string[]) =>
    claims
      .filter((c) => types.includes(c.typ))
      .map((c) => c.val.trim())
      .filter((v) => v !== '');
  return {
    ok: true,
    principal: {
      claimValues,
      roles: () => [...new Set(claimValues(roleTyp ? [roleTyp, ...roleClaimTypes] : roleClaimTypes))],
      name: () => claimValues(nameTyp ? [nameTyp, ...nameClaimTypes] : nameClaimTypes)[0],
    },
  };
}

function unauthorized(detail: string): CallerResult {
  return {
    ok: false,
    response: problem(401, 'Unauthorized', detail, undefined, { 'WWW-Authenticate': 'Bearer' }),
  };
}
