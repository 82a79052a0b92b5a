import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AgentService } from './agents/service';
import { authorize } from './auth';
import { handleControl, type EmulatorState, type RequestRecord } from './control';
import { AzureError } from './errors';
import { cannedContentOption } from './faults/cannedContent';
import { cutStreamOption } from './faults/cutStream';
import { delayAnswer } from './faults/delay';
import { errorOf } from './faults/errorStatus';
import type { Fault } from './faults/fault';
import { loseReplyIfAsked } from './faults/lostReply';
import { readBody, sendJson, type Service } from './http';
import { handleChatCompletions } from './openai/chat';
import type { Deployment } from './openai/deployments';

/**
 * Routes one HTTP server to the two emulated services and the /_emulator/ control API. A service
 * request goes: log it, route it, authorize it, read its JSON, let a matching fault act (./faults/),
 * then answer as the service would.
 */

export interface ServerSettings {
  apiKey: string;
  deployments: readonly Deployment[];
  state: EmulatorState;
  agents: AgentService;
  log: (line: string) => void;
}

interface Route {
  service: Service;
  deployment?: string;
  operation: string;
  segments: string[];
}

/** One service request on its way: what the log records of it and the headers every answer carries. */
interface Call {
  url: URL;
  method: string;
  arrived: number;
  record: RequestRecord;
  headers: Record<string, string>;
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
  const url = new URL(request.url ?? '/', 'http://emulator');
  const method = (request.method ?? 'GET').toUpperCase();
  const text = await readBody(request);
  if (url.pathname === '/_emulator' || url.pathname.startsWith('/_emulator/')) {
    const contentType = request.headers['content-type'];
    handleControl(settings.state, settings.deployments, { method, url, text, contentType }, response);
    return;
  }

  const route = routeOf(method, url.pathname);
  const call = logCall(settings.state, method, url, route, response);
  try {
    if (!route) throw new AzureError(404, '404', 'Resource not found');
    authorize(route.service, request, settings.apiKey);
    const body = parseJson(text);
    if (route.service === 'openai' && route.deployment === undefined) deploymentFromBody(route, body, call);
    const fault = await applyFault(settings.state, route, call, body, response);
    if (route.service === 'openai') await answerOpenAI(settings, route, call, body, fault, response);
    else answerAgents(settings, route, call, body, response);
  } catch (error) {
    if (!(error instanceof AzureError)) throw error;
    call.record.error = { code: error.code, message: error.message };
    if (response.headersSent) {
      response.destroy();
      return;
    }
    sendJson(response, error.status, error.body(), { ...call.headers, ...error.headers });
  }
}

/** Adds the request to the log (its status and duration are filled in when the answer is sent). */
function logCall(
  state: EmulatorState,
  method: string,
  url: URL,
  route: Route | null,
  response: ServerResponse,
): Call {
  const arrived = Date.now();
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
  return { url, method, arrived, record, headers };
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new AzureError(
      400,
      'BadRequest',
      'We could not parse the JSON body of your request. The body must be valid JSON; check quotes, commas and brackets.',
      { type: 'invalid_request_error', param: null },
    );
  }
}

/** The v1 form names the deployment in the body's "model", not in the path. */
function deploymentFromBody(route: Route, body: unknown, call: Call): void {
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
  call.record.deployment = model;
}

/**
 * Takes the first matching fault and lets it act: the latency and its delay, then its error status or
 * its lost reply. The rest (a canned answer, a cut stream) acts in the answer; the fault is returned.
 */
async function applyFault(
  state: EmulatorState,
  route: Route,
  call: Call,
  body: unknown,
  response: ServerResponse,
): Promise<Fault | undefined> {
  const fault = state.takeFault({
    service: route.service,
    path: call.url.pathname,
    method: call.method,
    stream: (body as { stream?: unknown } | undefined)?.stream === true,
    ...(route.deployment ? { deployment: route.deployment } : {}),
  });
  await delayAnswer(state.latencyMs, fault);
  const error = fault ? errorOf(fault, route.service, call.url.searchParams.get('api-version')) : undefined;
  if (error) {
    call.record.fault = error.status;
    throw error;
  }
  loseReplyIfAsked(fault, response, () => {
    call.record.lostReply = true;
    call.record.status = response.statusCode;
    call.record.durationMs = Date.now() - call.arrived;
  });
  return fault;
}

async function answerOpenAI(
  settings: ServerSettings,
  route: Route,
  call: Call,
  body: unknown,
  fault: Fault | undefined,
  response: ServerResponse,
): Promise<void> {
  const { url, method } = call;
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
    call.headers,
    (chat) => {
      call.record.chat = chat;
    },
    {
      ...cannedContentOption(fault),
      chunkDelayMs: settings.state.streamChunkDelayMs,
      ...cutStreamOption(fault),
    },
  );
}

function answerAgents(
  settings: ServerSettings,
  route: Route,
  call: Call,
  body: unknown,
  response: ServerResponse,
): void {
  if (!call.url.searchParams.get('api-version')) {
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
  const result = settings.agents.handle(route.operation, route.segments, call.url.searchParams, body);
  sendJson(response, result.status, result.body, call.headers);
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
