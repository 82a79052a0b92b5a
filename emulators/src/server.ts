import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentService } from './agents/service';
import {
  controlRequestProblem,
  type EmulatorState,
  sendJson,
  type Fault,
  type RequestRecord,
  type Service,
} from './control';
import { AzureError } from './errors';
import { loseReply } from './lostReply';
import { handleChatCompletions } from './openai/chat';
import type { Deployment } from './openai/deployments';

/** Routes one HTTP server to the two emulated services and the /_emulator/ control API. */

export interface ServerSettings {
  apiKey: string;
  deployments: readonly Deployment[];
  state: EmulatorState;
  agents: AgentService;
  log: (line: string) => void;
}

const maxBodyBytes = 8 * 1024 * 1024;

interface Route {
  service: Service;
  deployment?: string;
  operation: string;
  segments: string[];
}

export function createEmulatorServer(settings: ServerSettings): Server {
  return createServer((request, response) => {
    handle(settings, request, response).catch((error: unknown) => {
      settings.log(
        `emulator: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      if (!response.headersSent)
        sendJson(response, 500, {
          error: { code: 'InternalServerError', message: 'The emulator failed; see its log.' },
        });
      else response.destroy();
    });
  });
}

async function handle(
  settings: ServerSettings,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { state } = settings;
  const url = new URL(request.url ?? '/', 'http://emulator');
  const method = (request.method ?? 'GET').toUpperCase();
  const text = await readBody(request);

  if (url.pathname === '/_emulator' || url.pathname.startsWith('/_emulator/')) {
    const refused = controlRequestProblem(method, request.headers['content-type']);
    if (refused) sendJson(response, 415, { error: { code: 'UnsupportedMediaType', message: refused } });
    else control(settings, method, url, text, response);
    return;
  }

  const arrived = Date.now();
  const route = routeOf(method, url.pathname);
  const record: RequestRecord = {
    seq: state.nextSeq(),
    method,
    path: url.pathname,
    ...(url.searchParams.get('api-version') ? { apiVersion: url.searchParams.get('api-version') ?? '' } : {}),
    service: route?.service ?? 'unknown',
    ...(route?.deployment ? { deployment: route.deployment } : {}),
    ...(route?.service === 'agents' ? { operation: route.operation } : {}),
    time: new Date(arrived).toISOString(),
    timeMs: arrived,
    status: 0,
    durationMs: 0,
  };
  state.logRequest(record);
  const requestId = randomUUID();
  const headers: Record<string, string> = {
    'apim-request-id': requestId,
    'x-request-id': requestId,
    'x-ms-region': 'Emulator',
  };
  response.on('finish', () => {
    record.status = response.statusCode;
    record.durationMs = Date.now() - arrived;
  });

  try {
    if (!route) throw new AzureError(404, '404', 'Resource not found');
    authorize(route.service, request, settings.apiKey);

    let body: unknown;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        throw new AzureError(
          400,
          'BadRequest',
          'We could not parse the JSON body of your request. The body must be valid JSON; check quotes, commas and brackets.',
          { type: 'invalid_request_error', param: null },
        );
      }
    }
    // The v1 form names the deployment in the body's "model", not in the path.
    if (route.service === 'openai' && route.deployment === undefined) {
      const model = (body as { model?: unknown } | undefined)?.model;
      if (typeof model !== 'string' || model === '') {
        throw new AzureError(
          400,
          'BadRequest',
          "Missing required parameter: 'model' (the deployment name, such as gpt-4o-mini).",
          {
            type: 'invalid_request_error',
            param: 'model',
          },
        );
      }
      route.deployment = model;
      record.deployment = model;
    }

    const fault = state.takeFault({
      service: route.service,
      path: url.pathname,
      method,
      stream: (body as { stream?: unknown } | undefined)?.stream === true,
      ...(route.deployment ? { deployment: route.deployment } : {}),
    });
    const delay = state.latencyMs + (fault?.delayMs ?? 0);
    // Unreferenced: a held answer must not keep the process alive once the emulators are stopped.
    if (delay > 0) await sleep(delay, undefined, { ref: false });
    if (fault?.status) {
      record.fault = fault.status;
      throw faultError(fault, route, url.searchParams.get('api-version'));
    }
    if (fault?.lostReply) {
      loseReply(response, () => {
        record.lostReply = true;
        record.status = response.statusCode;
        record.durationMs = Date.now() - arrived;
      });
    }

    if (route.service === 'openai') {
      if (
        route.operation === 'chat.completions' &&
        url.pathname.startsWith('/openai/deployments/') &&
        !url.searchParams.get('api-version')
      ) {
        throw new AzureError(
          404,
          '404',
          'Resource not found. (Azure OpenAI needs the api-version query parameter on /openai/deployments/ paths.)',
        );
      }
      const name = route.deployment ?? '';
      const deployment = settings.deployments.find((d) => d.name === name);
      if (!deployment) {
        throw new AzureError(
          404,
          'DeploymentNotFound',
          `The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again. (Emulator: "${name}" is not one of ${settings.deployments.map((d) => d.name).join(', ')}; pass deployments to startEmulators to add it.)`,
        );
      }
      if (route.operation !== 'chat.completions' || method !== 'POST') {
        throw new AzureError(
          404,
          'OperationNotSupported',
          `The emulator only supports POST .../chat/completions, not ${method} ${url.pathname}.`,
        );
      }
      await handleChatCompletions(
        deployment,
        body,
        response,
        headers,
        (chat) => {
          record.chat = chat;
        },
        {
          ...(fault?.content !== undefined ? { cannedContent: fault.content } : {}),
          chunkDelayMs: state.streamChunkDelayMs,
          ...(fault?.cutStreamAfterChunks !== undefined
            ? { cutAfterChunks: fault.cutStreamAfterChunks }
            : {}),
        },
      );
      return;
    }

    if (!url.searchParams.get('api-version')) {
      throw new AzureError(
        400,
        'invalid_request_error',
        "Missing required query parameter 'api-version' (the SDK sends api-version=v1).",
        {
          type: 'invalid_request_error',
          param: 'api-version',
        },
      );
    }
    const result = settings.agents.handle(route.operation, route.segments, url.searchParams, body);
    sendJson(response, result.status, result.body, headers);
  } catch (error) {
    if (!(error instanceof AzureError)) throw error;
    record.error = { code: error.code, message: error.message };
    if (response.headersSent) {
      response.destroy();
      return;
    }
    sendJson(response, error.status, error.body(), { ...headers, ...error.headers });
  }
}

function routeOf(method: string, pathname: string): Route | null {
  const deployments = /^\/openai\/deployments\/([^/]+)\/(.+)$/.exec(pathname);
  if (deployments?.[1] && deployments[2]) {
    const operation = deployments[2] === 'chat/completions' ? 'chat.completions' : deployments[2];
    return { service: 'openai', deployment: decodeURIComponent(deployments[1]), operation, segments: [] };
  }
  if (pathname === '/openai/v1/chat/completions' || pathname === '/openai/chat/completions') {
    return { service: 'openai', operation: 'chat.completions', segments: [] };
  }
  const project = /^\/api\/projects\/([^/]+)\/(.+)$/.exec(pathname);
  if (project?.[2]) {
    const segments = project[2]
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
    const operation = AgentService.operationOf(method, segments);
    return operation ? { service: 'agents', operation, segments } : null;
  }
  return null;
}

function authorize(service: Service, request: IncomingMessage, apiKey: string): void {
  const key = request.headers['api-key'];
  const authorization = request.headers.authorization ?? '';
  const bearer = /^Bearer\s+\S+/i.test(authorization);
  if (service === 'openai') {
    // An Entra ID token cannot be checked offline: any bearer token is accepted, like a valid one would be.
    if (bearer) return;
    if (key === undefined) {
      throw new AzureError(
        401,
        '401',
        'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.',
      );
    }
    if (key !== apiKey) {
      throw new AzureError(
        401,
        '401',
        'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
      );
    }
    return;
  }
  if (!bearer) {
    throw new AzureError(
      401,
      'Unauthorized',
      'The request is missing an Authorization: Bearer token. The Agent Service accepts Microsoft Entra ID tokens only; give the client a TokenCredential.',
    );
  }
}

function faultError(fault: Fault, route: Route, apiVersion: string | null): AzureError {
  const note = ` (Injected by the emulator: fault ${fault.id}.)`;
  switch (fault.status) {
    case 429: {
      const retryAfterMs = fault.retryAfterMs ?? 1000;
      const retrySeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
      const headers = {
        'retry-after-ms': String(retryAfterMs),
        'retry-after': String(retrySeconds),
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-remaining-tokens': '0',
      };
      if (route.service === 'agents') {
        return new AzureError(
          429,
          'rate_limit_exceeded',
          `Rate limit is exceeded. Try again in ${retrySeconds} seconds.${note}`,
          {},
          headers,
        );
      }
      return new AzureError(
        429,
        '429',
        `Requests to the ChatCompletions_Create Operation under Azure OpenAI API version ${apiVersion ?? 'v1'} have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after ${retrySeconds} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.${note}`,
        {},
        headers,
      );
    }
    case 503:
      return new AzureError(
        503,
        'ServiceUnavailable',
        `The service is temporarily unable to process your request. Please try again later.${note}`,
      );
    default:
      return new AzureError(
        500,
        'InternalServerError',
        `The server had an error while processing your request. Sorry about that!${note}`,
      );
  }
}

/** A control request's millisecond setting, 0 or more; anything else is answered 400 here (undefined). */
function millisecondsIn(
  body: Record<string, unknown>,
  field: string,
  response: ServerResponse,
): number | undefined {
  const ms = body[field];
  if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) return ms;
  sendJson(response, 400, {
    error: {
      code: 'BadRequest',
      message: `"${field}" must be a number of milliseconds, 0 or more, got ${JSON.stringify(ms)}.`,
    },
  });
  return undefined;
}

function control(
  settings: ServerSettings,
  method: string,
  url: URL,
  text: string,
  response: ServerResponse,
): void {
  const { state } = settings;
  let body: Record<string, unknown> = {};
  if (text.trim() !== '') {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        body = parsed as Record<string, unknown>;
      else throw new Error('not an object');
    } catch {
      sendJson(response, 400, {
        error: {
          code: 'BadRequest',
          message: `The body of ${method} ${url.pathname} must be a JSON object.`,
        },
      });
      return;
    }
  }
  const route = `${method} ${url.pathname.replace(/\/+$/, '')}`;
  switch (route) {
    case 'GET /_emulator/health':
      sendJson(response, 200, {
        ok: true,
        deployments: settings.deployments.map((d) => d.name),
        kinds: Object.fromEntries(settings.deployments.map((d) => [d.name, d.kind])),
      });
      return;
    case 'POST /_emulator/faults': {
      const fault = state.addFault(body);
      if (typeof fault === 'string')
        sendJson(response, 400, { error: { code: 'BadRequest', message: fault } });
      else sendJson(response, 201, fault);
      return;
    }
    case 'GET /_emulator/faults':
      sendJson(response, 200, { faults: state.pendingFaults() });
      return;
    case 'POST /_emulator/latency': {
      const ms = millisecondsIn(body, 'ms', response);
      if (ms === undefined) return;
      state.latencyMs = ms;
      sendJson(response, 200, { latencyMs: ms });
      return;
    }
    case 'GET /_emulator/latency':
      sendJson(response, 200, { latencyMs: state.latencyMs });
      return;
    case 'POST /_emulator/streaming': {
      const ms = millisecondsIn(body, 'chunkDelayMs', response);
      if (ms === undefined) return;
      state.streamChunkDelayMs = ms;
      sendJson(response, 200, { chunkDelayMs: ms });
      return;
    }
    case 'GET /_emulator/streaming':
      sendJson(response, 200, { chunkDelayMs: state.streamChunkDelayMs });
      return;
    case 'GET /_emulator/requests': {
      const filters = ['service', 'deployment', 'method', 'operation'] as const;
      const path = url.searchParams.get('path');
      const requests = state.requests.filter(
        (r) =>
          filters.every((f) => {
            const wanted = url.searchParams.get(f);
            return wanted === null || r[f] === wanted;
          }) &&
          (path === null || r.path.includes(path)),
      );
      sendJson(response, 200, { count: requests.length, dropped: state.droppedRequests, requests });
      return;
    }
    case 'POST /_emulator/reset':
      state.reset();
      sendJson(response, 200, { reset: true, latencyMs: state.latencyMs });
      return;
    default:
      sendJson(response, 404, {
        error: {
          code: 'NotFound',
          message: `No control endpoint ${method} ${url.pathname}. Try POST /_emulator/faults, POST /_emulator/latency, POST /_emulator/streaming, GET /_emulator/requests or POST /_emulator/reset.`,
        },
      });
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > maxBodyBytes) throw new Error(`request body over ${maxBodyBytes} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
