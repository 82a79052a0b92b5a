/**
 * Function keys, checked as the Functions host checks them in Azure (the devhost's `--auth azure`).
 *
 * The rules, from Azure/azure-functions-host:
 * - A key comes from the `x-functions-key` header, or else the `code` query parameter; the header wins
 *   even when it is wrong (`Security/Authentication/Keys/AuthenticationLevelHandler.cs`).
 * - The master key grants Admin; a system key grants System under its name; a host function key, or one
 *   of the function's own keys, grants Function (`SecretManager.GetAuthorizationLevelAsync`).
 * - Admin passes every check; otherwise the level must be exactly the one required, and for a system
 *   route the key's name too (`Security/Authorization/AuthUtility.cs`, `PrincipalHasAuthLevelClaim`).
 *   So a system key does not open a function-level route, and a function key does not open the durable
 *   management webhook, which asks for the `durabletask_extension` system key.
 * - A request that fails answers 401 with an empty body.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type IncomingMessage } from 'node:http';
import path from 'node:path';

/** The keys of one app, in the shape of the keys file (`--keys FILE`). */
export interface HostKeys {
  /** Admin level: every route, `/admin/*` and the management webhook. */
  masterKey: string;
  /** Host-level function keys by name (`default` is the one `az functionapp keys list` shows first). */
  functionKeys: Record<string, string>;
  /** System keys by name; the Durable extension's is `durabletask_extension`. */
  systemKeys: Record<string, string>;
  /** Keys of single functions: function name -> key name -> value. */
  functions: Record<string, Record<string, string>>;
}

/** The name of the Durable Task extension's system key, which its management webhook asks for. */
export const durableSystemKeyName = 'durabletask_extension';

export type RequiredLevel = 'anonymous' | 'function' | 'admin' | { system: string };

type Granted =
  | { level: 'anonymous' }
  | { level: 'admin' }
  | { level: 'system'; name: string }
  | { level: 'function'; name: string };

const newKey = () => randomBytes(30).toString('base64url');

/**
 * The keys in `file` when it exists (missing entries are added and the file written back), or new random
 * keys, written to `file` when one is given so that a restart keeps them.
 */
export function loadOrCreateHostKeys(file?: string): { keys: HostKeys; source: string } {
  let keys: HostKeys = { masterKey: '', functionKeys: {}, systemKeys: {}, functions: {} };
  let existed = false;
  if (file !== undefined && existsSync(file)) {
    existed = true;
    keys = parseHostKeys(readFileSync(file, 'utf8'), file);
  }
  let added = false;
  if (keys.masterKey === '') {
    keys.masterKey = newKey();
    added = true;
  }
  if (Object.keys(keys.functionKeys).length === 0) {
    keys.functionKeys.default = newKey();
    added = true;
  }
  if (keys.systemKeys[durableSystemKeyName] === undefined) {
    keys.systemKeys[durableSystemKeyName] = newKey();
    added = true;
  }
  if (file !== undefined && added) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  }
  const source =
    file === undefined ? 'generated for this start' : existed ? `from ${file}` : `generated into ${file}`;
  return { keys, source };
}

function parseHostKeys(text: string, file: string): HostKeys {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}).`, { cause: error });
  }
  const problem = (what: string) =>
    new Error(
      `${file}: ${what}. Expected {"masterKey": "...", "functionKeys": {"default": "..."}, ` +
        `"systemKeys": {"${durableSystemKeyName}": "..."}, "functions": {"<function>": {"default": "..."}}}; ` +
        'delete the file to have new keys generated.',
    );
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw problem('not a JSON object');
  const record = json as Record<string, unknown>;
  const strings = (value: unknown, where: string): Record<string, string> => {
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw problem(`${where} is not an object`);
    const out: Record<string, string> = {};
    for (const [name, key] of Object.entries(value)) {
      if (typeof key !== 'string' || key.length < 16)
        throw problem(`${where}.${name} is not a string of at least 16 characters`);
      out[name] = key;
    }
    return out;
  };
  const master = record.masterKey;
  if (master !== undefined && (typeof master !== 'string' || master.length < 16))
    throw problem('masterKey is not a string of at least 16 characters');
  const functions: Record<string, Record<string, string>> = {};
  const rawFunctions = record.functions;
  if (rawFunctions !== undefined) {
    if (typeof rawFunctions !== 'object' || rawFunctions === null || Array.isArray(rawFunctions))
      throw problem('functions is not an object');
    for (const [name, keys] of Object.entries(rawFunctions))
      functions[name.toLowerCase()] = strings(keys, `functions.${name}`);
  }
  return {
    masterKey: typeof master === 'string' ? master : '',
    functionKeys: strings(record.functionKeys, 'functionKeys'),
    systemKeys: strings(record.systemKeys, 'systemKeys'),
    functions,
  };
}

/** The key a request presents: the `x-functions-key` header, or else `?code=`. */
export function presentedKey(req: IncomingMessage, url: URL): string | undefined {
  const header = req.headers['x-functions-key'];
  if (header !== undefined) return Array.isArray(header) ? header[0] : header;
  return url.searchParams.get('code') ?? undefined;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function matching(keys: Record<string, string> | undefined, value: string): string | undefined {
  return Object.entries(keys ?? {}).find(([, key]) => same(key, value))?.[0];
}

function grantedBy(keys: HostKeys, value: string | undefined, functionName?: string): Granted {
  if (value === undefined || value === '') return { level: 'anonymous' };
  if (same(keys.masterKey, value)) return { level: 'admin' };
  const system = matching(keys.systemKeys, value);
  if (system !== undefined) return { level: 'system', name: system };
  const host = matching(keys.functionKeys, value);
  if (host !== undefined) return { level: 'function', name: host };
  if (functionName !== undefined) {
    const own = matching(keys.functions[functionName.toLowerCase()], value);
    if (own !== undefined) return { level: 'function', name: own };
  }
  return { level: 'anonymous' };
}

/** Whether the request's key (if any) meets `required` for `functionName`, by the host's rules. */
export function keyAllows(
  keys: HostKeys,
  req: IncomingMessage,
  url: URL,
  required: RequiredLevel,
  functionName?: string,
): boolean {
  if (required === 'anonymous') return true;
  const granted = grantedBy(keys, presentedKey(req, url), functionName);
  if (granted.level === 'admin') return true;
  if (required === 'admin') return false;
  if (required === 'function') return granted.level === 'function';
  // A system route names its key (the webhook: durabletask_extension); authLevel 'system' takes any.
  return (
    granted.level === 'system' &&
    (required.system === '' || granted.name.toLowerCase() === required.system.toLowerCase())
  );
}

/** A trigger's `authLevel` as the level its requests need (the v4 library's default is anonymous). */
export function requiredLevelOf(authLevel: unknown): RequiredLevel {
  const level = typeof authLevel === 'string' ? authLevel.toLowerCase() : 'anonymous';
  if (level === 'function' || level === 'admin') return level;
  if (level === 'system') return { system: '' };
  return 'anonymous';
}
