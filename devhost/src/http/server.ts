/**
 * The host's HTTP front door: HTTP triggers under the route prefix, the durable management API under its
 * two bases, and the few admin endpoints `func start` offers.
 */
import { type IncomingMessage, STATUS_CODES, type ServerResponse } from 'node:http';
import { type Duplex } from 'node:stream';
import { type Dashboard, dashboardBasePath } from '../dashboard/dashboard';
import { type DurableEngine } from '../durable/engine';
import { type ManagementApi } from '../durable/management';
import { durableClientBindingData, publicBasePath, rpcBasePath } from '../durable/urls';
import {
  type FunctionsRuntime,
  type HttpCookieData,
  type HttpData,
  type ParameterBinding,
  type RegisteredFunction,
} from '../functions/runtime';
import { type HostLog, describeError } from '../log';
import { readBody, send } from '../httpIo';
import { type EasyAuth } from './easyauth';
import { type HostKeys, durableSystemKeyName, keyAllows, requiredLevelOf } from './keys';
import { invokeStreaming } from './stream';
import { type RouteTemplate, compareRouteSpecificity, matchRoute, parseRouteTemplate } from './routes';

export interface HttpRoute {
  functionName: string;
  template: RouteTemplate;
  /** Upper-case methods; empty means every method. */
  methods: string[];
}

const allMethods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'TRACE'];

/** Every HTTP trigger of the app with its full route, most specific first. */
export function httpRoutes(runtime: FunctionsRuntime, routePrefix: string): HttpRoute[] {
  const routes: HttpRoute[] = [];
  for (const fn of runtime.functions.values()) {
    if (fn.triggerType.toLowerCase() !== 'httptrigger') continue;
    const route =
      typeof fn.trigger.route === 'string' && fn.trigger.route !== '' ? fn.trigger.route : fn.name;
    const full = [routePrefix, route.replace(/^\/+/, '')].filter((part) => part !== '').join('/');
    const methods = Array.isArray(fn.trigger.methods)
      ? fn.trigger.methods.map((m) => String(m).toUpperCase())
      : [];
    routes.push({ functionName: fn.name, template: parseRouteTemplate(full), methods });
  }
  return routes.sort((a, b) => compareRouteSpecificity(a.template, b.template));
}

export interface HostRequestContext {
  runtime: FunctionsRuntime;
  engine: DurableEngine;
  management: ManagementApi;
  /** The local dashboard at /_devhost/. */
  dashboard: Dashboard;
  routes: HttpRoute[];
  hubName: string;
  log: HostLog;
  /** `http://127.0.0.1:port`: the origin the host gives durable clients. */
  origin: string;
  /**
   * `--auth azure`: function keys checked by authLevel, the management webhook behind its system key,
   * `/admin/*` behind the master key, App Service Authentication in front when configured, and the rpc
   * base the app's durable client uses served only on a separate loopback port (`rpcOrigin`), as the
   * extension serves it. Absent: nothing is checked (as with `func start`).
   */
  azure?: { keys: HostKeys; easyAuth?: EasyAuth; rpcOrigin: string };
}

/**
 * A request Node's parser refused (a Content-Length that is not a number, headers too large): answered with
 * the status Node would send, then closed gracefully. Node's own answer destroys the socket at once, and a
 * client still sending its body then gets a reset that can overtake the answer; here what it still sends is
 * read and dropped, so it sees the status.
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable || socket.writableEnded) {
    socket.destroy();
    return;
  }
  const status =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : error.code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW'
          ? 413
          : 400;
  socket.end(
    `HTTP/1.1 ${String(status)} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
  );
  socket.resume();
  // A client that never stops sending is cut off.
  const cutOff = setTimeout(() => socket.destroy(), 5000).unref();
  socket.once('close', () => clearTimeout(cutOff));
}

/** Handles one request; never throws (errors become 500 and a log line). */
export async function handleRequest(
  context: HostRequestContext | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  fallbackHost: string,
): Promise<void> {
  const started = performance.now();
  const method = req.method ?? 'GET';
  // A Host header that is not a host (`exa mple`) is the client's error: answer 400, as Kestrel does.
  const base = `http://${req.headers.host ?? fallbackHost}`;
  let url: URL;
  try {
    url = new URL(req.url ?? '/', base);
  } catch {
    send(res, 400, 'Bad Request: invalid Host header or request target.');
    context?.log.request(`${method} ${req.url ?? '/'} 400 (invalid Host header or target)`);
    return;
  }
  try {
    if (!context) {
      send(res, 503, 'The host is starting.');
    } else {
      await route(context, req, res, url);
    }
  } catch (error) {
    if (!req.complete && req.socket.destroyed) {
      // The client went away mid-request: nothing was started from a body that never fully arrived.
      context?.log.request(`${method} ${url.pathname} aborted by the client before its body arrived`);
      return;
    }
    context?.log.error(`${method} ${url.pathname} failed: ${describeError(error)}`);
    if (!res.headersSent) send(res, 500);
    else res.end();
  }
  const elapsed = Math.round(performance.now() - started);
  const line = `${method} ${url.pathname}${url.search} ${res.statusCode} ${elapsed}ms`;
  // The app's own durable client calls (status polls, raised events) go to the rpc base: engine detail.
  if (url.pathname.startsWith('/durabletask/')) context?.log.debug(line);
  else context?.log.request(line);
}

/**
 * The rpc base alone, on its own loopback listener (`--auth azure`): the app's durable client calls it
 * with no key, as the extension's local rpc endpoint takes none, and nothing else is served there.
 */
export async function handleRpcRequest(
  context: HostRequestContext | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!context || !(url.pathname === rpcBasePath || url.pathname.startsWith(`${rpcBasePath}/`))) {
      send(res, context ? 404 : 503);
      return;
    }
    await context.management.handle(req, res, url.pathname.slice(rpcBasePath.length), url, context.origin);
    context.log.debug(`${req.method ?? 'GET'} ${url.pathname}${url.search} ${res.statusCode} (rpc)`);
  } catch (error) {
    context?.log.error(`rpc ${req.url ?? ''} failed: ${describeError(error)}`);
    if (!res.headersSent) send(res, 500);
    else res.end();
  }
}

async function route(
  context: HostRequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const path = url.pathname;
  const origin = url.origin;
  if (path === dashboardBasePath || path.startsWith(`${dashboardBasePath}/`)) {
    await context.dashboard.handle(req, res, url);
    return;
  }
  const azure = context.azure;
  if (azure) {
    // App Service Authentication runs in front of the Functions host, on every path.
    if (azure.easyAuth?.handles(path)) {
      await azure.easyAuth.serveAuthPath(req, res, url);
      return;
    }
    if (azure.easyAuth?.admit(req, res, url)) return;
    if (path === rpcBasePath || path.startsWith(`${rpcBasePath}/`)) {
      // Served on the extension's own loopback port, not on the app's public one.
      send(res, 404);
      return;
    }
    const webhook = path === publicBasePath || path.startsWith(`${publicBasePath}/`);
    if (webhook && !keyAllows(azure.keys, req, url, { system: durableSystemKeyName })) {
      send(res, 401);
      return;
    }
    if (path.startsWith('/admin/') && !keyAllows(azure.keys, req, url, 'admin')) {
      send(res, 401);
      return;
    }
  }
  const operatorPath =
    [publicBasePath, rpcBasePath].some((base) => path === base || path.startsWith(`${base}/`)) ||
    path.startsWith('/admin/');
  // Without keys the local doors refuse what a browser sends from another site; with keys they are gated.
  if (!azure && operatorPath && crossSite(req)) {
    send(
      res,
      403,
      {
        type: 'about:blank',
        title: 'Cross-site request refused',
        status: 403,
        detail:
          'The devhost management and admin APIs take no key locally, so they refuse requests a browser ' +
          'sends from another site (an Origin or Sec-Fetch-Site header naming another origin).',
      },
      { 'content-type': 'application/problem+json' },
    );
    return;
  }
  for (const base of [publicBasePath, rpcBasePath]) {
    if (path === base || path.startsWith(`${base}/`)) {
      await context.management.handle(req, res, path.slice(base.length), url, origin);
      return;
    }
  }
  if (path === '/admin/host/status') {
    send(res, 200, { state: 'Running', version: '4.x (devhost)' });
    return;
  }
  const adminInvoke = /^\/admin\/functions\/([^/]+)$/.exec(path);
  if (adminInvoke && req.method === 'POST') {
    await invokeNonHttp(context, req, res, decodeURIComponent(adminInvoke[1] ?? ''));
    return;
  }

  const segments = path
    .split('/')
    .filter((s) => s !== '')
    .map((s) => safeDecode(s));
  const method = (req.method ?? 'GET').toUpperCase();
  for (const candidate of context.routes) {
    const params = matchRoute(candidate.template, segments);
    if (!params) continue;
    if (candidate.methods.length > 0 && !candidate.methods.includes(method)) continue;
    if (candidate.methods.length === 0 && !allMethods.includes(method)) continue;
    await invokeHttp(context, req, res, url, candidate.functionName, params);
    return;
  }
  if (path === '/' && method === 'GET') {
    send(res, 200, 'Your Functions app is up and running (devhost).');
    return;
  }
  send(res, 404);
}

async function invokeHttp(
  context: HostRequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  functionName: string,
  params: Record<string, string>,
): Promise<void> {
  const registered = context.runtime.functions.get(functionName);
  if (!registered) return send(res, 404);
  const azure = context.azure;
  if (
    azure &&
    !keyAllows(azure.keys, req, url, requiredLevelOf(registered.trigger.authLevel), functionName)
  ) {
    return send(res, 401);
  }
  const streamUri = context.runtime.httpStreamUri;
  if (streamUri) {
    const extra = durableClientInputs(context, registered);
    return invokeStreaming(
      context.runtime,
      context.log,
      streamUri,
      req,
      res,
      url,
      functionName,
      registered.triggerKey,
      params,
      extra,
    );
  }
  const body = await readBody(req);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  // The host hands a body over only when the request has one (Content-Length > 0): older
  // @azure/functions versions build a fetch Request from it, which refuses any body on GET/HEAD.
  // The host sends the query as a map (repeated keys joined with ","), and some @azure/functions
  // versions read `request.query` only from it, not from the URL.
  const query: Record<string, string> = {};
  for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key).join(',');
  const http: HttpData = {
    method: req.method ?? 'GET',
    url: url.href,
    headers,
    params,
    query,
    ...(body.length > 0 ? { body: { bytes: body } } : {}),
  };
  const inputData: ParameterBinding[] = [{ name: registered.triggerKey, data: { http } }];
  inputData.push(...durableClientInputs(context, registered));
  const outcome = await context.runtime.invoke(functionName, inputData, {
    reason: 'This function was programmatically called via the host APIs.',
  });
  if (!outcome.ok) {
    context.log.error(`Function '${functionName}' failed: ${describeError(outcome.error)}`);
    return send(res, 500);
  }
  const response = outcome.response;
  let httpResult = response.returnValue?.http ?? undefined;
  if (!httpResult) {
    const outputKey = Object.entries(registered.bindings).find(
      ([key, binding]) =>
        key !== '$return' && binding.direction === 'out' && binding.type?.toLowerCase() === 'http',
    )?.[0];
    httpResult = response.outputData?.find((o) => o.name === outputKey)?.data?.http ?? undefined;
  }
  if (!httpResult) return send(res, 204);
  const responseHeaders: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(httpResult.headers ?? {})) {
    if (name.toLowerCase() === 'content-length') continue;
    responseHeaders[name] = value;
  }
  const cookies = (httpResult.cookies ?? []).map(serializeCookie);
  if (cookies.length > 0) responseHeaders['set-cookie'] = cookies;
  const status = Number(httpResult.statusCode ?? '200') || 200;
  const payload = httpResult.body?.bytes
    ? Buffer.from(httpResult.body.bytes)
    : typeof httpResult.body?.string === 'string'
      ? Buffer.from(httpResult.body.string)
      : Buffer.alloc(0);
  send(res, status, payload, responseHeaders);
}

function durableClientInputs(
  context: HostRequestContext,
  registered: RegisteredFunction,
): ParameterBinding[] {
  const inputs: ParameterBinding[] = [];
  for (const [key, binding] of Object.entries(registered.bindings)) {
    const type = binding.type?.toLowerCase();
    if (binding.direction !== 'in' || (type !== 'durableclient' && type !== 'orchestrationclient')) continue;
    inputs.push({
      name: key,
      data: {
        string: JSON.stringify(
          durableClientBindingData(
            context.origin,
            context.hubName,
            context.azure
              ? {
                  rpcOrigin: context.azure.rpcOrigin,
                  systemKey: context.azure.keys.systemKeys[durableSystemKeyName],
                }
              : {},
          ),
        ),
      },
    });
  }
  return inputs;
}

/** `POST /admin/functions/{name}` with `{"input": ...}` runs a non-HTTP function once, like func start. */
async function invokeNonHttp(
  context: HostRequestContext,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
): Promise<void> {
  const registered = [...context.runtime.functions.values()].find(
    (f) => f.name.toLowerCase() === name.toLowerCase(),
  );
  if (!registered || registered.triggerType.toLowerCase() === 'httptrigger') return send(res, 404);
  let input: unknown = null;
  const body = (await readBody(req)).toString('utf8');
  if (body.trim() !== '') {
    try {
      input = (JSON.parse(body) as { input?: unknown }).input ?? null;
    } catch {
      return send(res, 400, 'The body must be JSON like {"input": "..."}.');
    }
  }
  const data =
    registered.triggerType === 'timerTrigger'
      ? { json: JSON.stringify({ Schedule: {}, ScheduleStatus: null, IsPastDue: false }) }
      : { string: typeof input === 'string' ? input : JSON.stringify(input) };
  const inputData: ParameterBinding[] = [{ name: registered.triggerKey, data }];
  inputData.push(...durableClientInputs(context, registered));
  const outcome = await context.runtime.invoke(registered.name, inputData, {
    reason: 'This function was programmatically called via the host APIs.',
  });
  if (!outcome.ok) context.log.error(`Function '${registered.name}' failed: ${describeError(outcome.error)}`);
  send(res, 202);
}

function serializeCookie(cookie: HttpCookieData): string {
  const parts = [`${cookie.name ?? ''}=${cookie.value ?? ''}`];
  if (cookie.domain?.value) parts.push(`Domain=${cookie.domain.value}`);
  if (cookie.path?.value) parts.push(`Path=${cookie.path.value}`);
  const seconds = cookie.expires?.value?.seconds;
  if (seconds !== undefined && seconds !== null)
    parts.push(`Expires=${new Date(Number(seconds) * 1000).toUTCString()}`);
  if (cookie.maxAge?.value !== undefined && cookie.maxAge.value !== null)
    parts.push(`Max-Age=${cookie.maxAge.value}`);
  if (cookie.secure?.value) parts.push('Secure');
  if (cookie.httpOnly?.value) parts.push('HttpOnly');
  if (cookie.sameSite === 'lax') parts.push('SameSite=Lax');
  else if (cookie.sameSite === 'strict') parts.push('SameSite=Strict');
  else if (cookie.sameSite === 'explicitNone') parts.push('SameSite=None');
  return parts.join('; ');
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * A browser request from another site: a web page the user has open could otherwise terminate or purge
 * local instances, since the local management API checks no key. Durable clients send neither header.
 */
function crossSite(req: IncomingMessage): boolean {
  const fetchSite = req.headers['sec-fetch-site'];
  if (fetchSite === 'cross-site' || fetchSite === 'same-site') return true;
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}
