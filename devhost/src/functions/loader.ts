/**
 * Reads an app folder the way `func start` and the Node worker do: local.settings.json into the
 * environment, host.json settings, and the package.json `main` entry points (globs; CommonJS and ESM).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The extension's limits and versioning settings (host.json `extensions.durableTask`). */
export interface DurableTaskSettings {
  maxConcurrentActivityFunctions?: number;
  maxConcurrentOrchestratorFunctions?: number;
  defaultVersion?: string;
  versionMatchStrategy?: 'None' | 'Strict' | 'CurrentOrOlder';
  versionFailureStrategy?: 'Reject' | 'Fail';
}

export interface HostSettings {
  /** `extensions.http.routePrefix`; "api" unless host.json says otherwise (it may be ""). */
  routePrefix: string;
  /** `extensions.durableTask.hubName` with `%VAR%` resolved; "TestHubName" like the extension's local default. */
  hubName: string;
  /** Concurrency limits and versioning from `extensions.durableTask`. */
  durable: DurableTaskSettings;
  /** `extensions.durableTask.storageProvider.type` when host.json chooses a provider (the devhost uses its own store). */
  storageProvider?: string;
}

/**
 * Copies local.settings.json `Values` into `env`. Variables already set win, as with `func start`.
 * Returns the names that were applied.
 */
export function applyLocalSettings(appDir: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const file = path.join(appDir, 'local.settings.json');
  if (!existsSync(file)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`${file} is not valid JSON (${(error as Error).message}). Fix or remove it.`, {
      cause: error,
    });
  }
  const values = (parsed as { Values?: unknown }).Values;
  if (values === undefined) return [];
  if (typeof values !== 'object' || values === null) {
    throw new Error(`${file}: "Values" must be an object of strings.`);
  }
  const applied: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (env[key] !== undefined) continue;
    if (value === null || value === undefined) continue;
    env[key] = typeof value === 'string' ? value : JSON.stringify(value);
    applied.push(key);
  }
  return applied;
}

export function readHostSettings(appDir: string, env: NodeJS.ProcessEnv = process.env): HostSettings {
  const file = path.join(appDir, 'host.json');
  let raw: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`${file} is not valid JSON (${(error as Error).message}).`, { cause: error });
    }
  }
  applyHostJsonOverrides(raw, env);
  const extensions = (raw.extensions ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const prefix = extensions.http?.routePrefix;
  const hub = extensions.durableTask?.hubName;
  const hubName = typeof hub === 'string' ? resolveAppSettingReferences(hub, env) : '';
  const durableTask = extensions.durableTask ?? {};
  // A number from host.json, or from an app setting that overrides it (a string).
  const positive = (value: unknown) => {
    const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
    return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
  };
  const durable: DurableTaskSettings = {};
  const activities = positive(durableTask.maxConcurrentActivityFunctions);
  if (activities !== undefined) durable.maxConcurrentActivityFunctions = activities;
  const orchestrators = positive(durableTask.maxConcurrentOrchestratorFunctions);
  if (orchestrators !== undefined) durable.maxConcurrentOrchestratorFunctions = orchestrators;
  if (typeof durableTask.defaultVersion === 'string')
    durable.defaultVersion = resolveAppSettingReferences(durableTask.defaultVersion, env);
  const match = pickIgnoringCase(durableTask.versionMatchStrategy, [
    'None',
    'Strict',
    'CurrentOrOlder',
  ] as const);
  if (match) durable.versionMatchStrategy = match;
  const failure = pickIgnoringCase(durableTask.versionFailureStrategy, ['Reject', 'Fail'] as const);
  if (failure) durable.versionFailureStrategy = failure;
  const provider = durableTask.storageProvider as { type?: unknown } | undefined;
  const settings: HostSettings = {
    routePrefix: typeof prefix === 'string' ? prefix.replace(/^\/+|\/+$/g, '') : 'api',
    hubName: hubName === '' ? 'TestHubName' : hubName,
    durable,
  };
  // A storageProvider without a type tunes the default Azure Storage provider (partitionCount, polling):
  // nothing to warn about, since the devhost has no queues to poll or partitions to split.
  if (provider && typeof provider === 'object' && typeof provider.type === 'string')
    settings.storageProvider = provider.type;
  return settings;
}

/**
 * App settings named `AzureFunctionsJobHost__<path>` override host.json values, `__` separating the keys
 * (`AzureFunctionsJobHost__extensions__durableTask__defaultVersion=1.1`), as the Functions host reads them:
 * https://learn.microsoft.com/azure/azure-functions/functions-host-json#override-hostjson-values. Keys
 * match without regard to case; a number or boolean in host.json stays one when the setting spells one.
 */
export function applyHostJsonOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const prefix = 'azurefunctionsjobhost__';
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !name.toLowerCase().startsWith(prefix)) continue;
    const keys = name.slice(prefix.length).split('__');
    if (keys.some((key) => key === '')) continue;
    let node = raw;
    for (const key of keys.slice(0, -1)) {
      const existing = Object.keys(node).find((k) => k.toLowerCase() === key.toLowerCase());
      const child = existing === undefined ? undefined : node[existing];
      if (typeof child === 'object' && child !== null && !Array.isArray(child)) {
        node = child as Record<string, unknown>;
      } else {
        const created: Record<string, unknown> = {};
        node[existing ?? key] = created;
        node = created;
      }
    }
    const last = keys[keys.length - 1] ?? '';
    const existing = Object.keys(node).find((k) => k.toLowerCase() === last.toLowerCase());
    const current = existing === undefined ? undefined : node[existing];
    node[existing ?? last] =
      typeof current === 'number' && value.trim() !== '' && Number.isFinite(Number(value))
        ? Number(value)
        : typeof current === 'boolean' && /^(true|false)$/i.test(value)
          ? value.toLowerCase() === 'true'
          : value;
  }
}

/** One of the allowed names, matched without regard to case as the host binds enum settings. */
function pickIgnoringCase<T extends string>(value: unknown, allowed: readonly T[]): T | undefined {
  if (typeof value !== 'string') return undefined;
  return allowed.find((name) => name.toLowerCase() === value.toLowerCase());
}

/** Resolves `%NAME%` references to app settings, as the host does for binding expressions in host.json. */
export function resolveAppSettingReferences(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(/%([^%]+)%/g, (_match, name: string) => env[name] ?? '');
}

/** The entry point files of the app, relative to appDir, in a stable order. */
export function findEntryPoints(appDir: string): string[] {
  const packageFile = path.join(appDir, 'package.json');
  if (!existsSync(packageFile)) {
    throw new Error(
      `No package.json in ${appDir}: point --app at a Functions app folder (the one with host.json).`,
    );
  }
  const main = (JSON.parse(readFileSync(packageFile, 'utf8')) as { main?: unknown }).main;
  if (typeof main !== 'string' || main.trim() === '') {
    throw new Error(
      `${packageFile} has no "main": set it to the entry file or a glob such as "dist/src/functions/*.js".`,
    );
  }
  const files = /[*?{[]/.test(main) ? expandGlob(appDir, main) : [main];
  if (files.length === 0) {
    throw new Error(`"main": "${main}" in ${packageFile} matches no files. Did you build the app?`);
  }
  for (const file of files) {
    if (!existsSync(path.join(appDir, file))) {
      throw new Error(`"main" entry ${path.join(appDir, file)} does not exist. Did you build the app?`);
    }
  }
  return files;
}

/** Loads one entry file: import() for ES modules, require() for CommonJS, as the worker does. */
export async function loadEntryPoint(appDir: string, file: string): Promise<void> {
  const absolute = path.resolve(appDir, file);
  if (isEsm(absolute)) {
    await import(pathToFileURL(absolute).href);
  } else {
    const requireFromApp = (await import('node:module')).createRequire(absolute);
    requireFromApp(absolute);
  }
}

function isEsm(file: string): boolean {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  let dir = path.dirname(file);
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      return (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type === 'module';
    }
    const parent = path.dirname(dir);
    if (parent === dir) return false;
    dir = parent;
  }
}

/** A small glob: `*`, `**`, `?` and `{a,b}` over the app folder, skipping node_modules and dot folders. */
export function expandGlob(root: string, pattern: string): string[] {
  const regex = globToRegExp(pattern.replace(/^\.\//, ''));
  const found: string[] = [];
  const walk = (dir: string, relative: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      const rel = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(path.join(dir, entry.name), rel);
      else if (regex.test(rel)) found.push(rel);
    }
  };
  walk(root, '');
  return found.sort();
}

function globToRegExp(pattern: string): RegExp {
  return new RegExp(`^${globToRegExpSource(pattern)}$`);
}

function globToRegExpSource(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        const slash = pattern[i + 2] === '/';
        out += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '{') {
      const end = pattern.indexOf('}', i);
      if (end < 0) {
        out += '\\{';
        continue;
      }
      const options = pattern
        .slice(i + 1, end)
        .split(',')
        .map((option) => globToRegExpSource(option));
      out += `(?:${options.join('|')})`;
      i = end;
    } else {
      out += escapeRegExp(c);
    }
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+^${}()|[\]\\]/g, '\\$&');
}
