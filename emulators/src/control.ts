import type { ServerResponse } from 'node:http';
import { checkFaultRequest, faultFrom, faultMatches } from './faults/faults';
import type { Fault, FaultRequest, FaultTarget } from './faults/fault';
import { sendJson, type Service } from './http';

/**
 * What tests steer and inspect through /_emulator/: injected faults (each kind in ./faults/), added
 * latency, and the log of every request the emulated services received.
 */

export interface ChatSummary {
  messages: { role: string; content: string; toolCalls?: string[]; toolCallId?: string }[];
  tools: string[];
  toolChoice?: unknown;
  responseFormat?: { type: string; name?: string };
  stream: boolean;
  maxTokens?: number;
  /** The field that carried maxTokens: max_tokens or max_completion_tokens. */
  limitParam?: 'max_tokens' | 'max_completion_tokens';
  temperature?: number;
  /** reasoning_effort, as a reasoning deployment received it. */
  reasoningEffort?: string;
  /** A streamed answer: when each content chunk was written (epoch ms) and where it ends in the content. */
  chunks?: { atMs: number; end: number }[];
  /** What the emulated model answered: text, or the tools it called. */
  reply?: {
    content: string | null;
    toolCalls: { name: string; arguments: string }[];
    finishReason: string;
    /** On a reasoning deployment: the tokens it spent reasoning (in its completion tokens too). */
    reasoningTokens?: number;
  };
}

export interface RequestRecord {
  seq: number;
  method: string;
  path: string;
  apiVersion?: string;
  service: Service | 'control' | 'unknown';
  deployment?: string;
  /** The Agent Service operation, such as createRun or listMessages. */
  operation?: string;
  /** When the request arrived. */
  time: string;
  timeMs: number;
  status: number;
  durationMs: number;
  /** The status of the injected fault that answered, when one did. */
  fault?: number;
  /** The request was applied but its answer was dropped by a lostReply fault. */
  lostReply?: true;
  error?: { code: string; message: string };
  chat?: ChatSummary;
}

/** The request log keeps this many of the latest requests, so a long session cannot grow it forever. */
export const maxLoggedRequests = 5000;

/**
 * Undefined when a control request may go on. Anything but GET must be `application/json`: a web page
 * can post a form or `text/plain` to loopback without asking, but a JSON request needs a CORS preflight
 * that this server never answers, so no page the developer visits can steer or reset the emulators.
 */
export function controlRequestProblem(method: string, contentType: string | undefined): string | undefined {
  if (method === 'GET' || method === 'HEAD') return undefined;
  const essence = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (essence === 'application/json') return undefined;
  return `${method} requests to /_emulator/ must have Content-Type: application/json${
    contentType ? ` (got ${contentType.slice(0, 60)})` : ''
  }, so that a web page cannot send them.`;
}

export class EmulatorState {
  latencyMs: number;
  /** The pause before each chunk of a streamed chat completion, so that streaming can be watched. */
  streamChunkDelayMs: number;
  private faults: Fault[] = [];
  private nextFaultId = 1;
  readonly requests: RequestRecord[] = [];
  /** Requests dropped from the front of the log to keep it at `maxLoggedRequests`. */
  droppedRequests = 0;
  private seq = 0;

  constructor(
    private readonly initialLatencyMs: number,
    private readonly initialStreamChunkDelayMs = 0,
  ) {
    this.latencyMs = initialLatencyMs;
    this.streamChunkDelayMs = initialStreamChunkDelayMs;
  }

  nextSeq(): number {
    return ++this.seq;
  }

  /** Adds to the request log, dropping the oldest records beyond `limit`. */
  logRequest(record: RequestRecord, limit = maxLoggedRequests): void {
    this.requests.push(record);
    const excess = this.requests.length - limit;
    if (excess > 0) {
      this.requests.splice(0, excess);
      this.droppedRequests += excess;
    }
  }

  /** Validates a POST /_emulator/faults body; a message naming the field when it is wrong. */
  addFault(body: FaultRequest): Fault | string {
    const problem = checkFaultRequest(body);
    if (problem) return problem;
    const fault = faultFrom(this.nextFaultId++, body);
    this.faults.push(fault);
    return fault;
  }

  pendingFaults(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** The first fault that matches, with one use taken from it. Faults apply in the order they were added. */
  takeFault(request: FaultTarget): Fault | undefined {
    const fault = this.faults.find((f) => faultMatches(f, request));
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults = this.faults.filter((f) => f !== fault);
    return { ...fault };
  }

  reset(): void {
    this.faults = [];
    this.latencyMs = this.initialLatencyMs;
    this.streamChunkDelayMs = this.initialStreamChunkDelayMs;
    this.requests.length = 0;
    this.droppedRequests = 0;
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

/** Answers a request to /_emulator/; `deployments` are the emulated model deployments. */
export function handleControl(
  state: EmulatorState,
  deployments: readonly { name: string; kind: string }[],
  request: { method: string; url: URL; text: string; contentType: string | undefined },
  response: ServerResponse,
): void {
  const { method, url, text } = request;
  const refused = controlRequestProblem(method, request.contentType);
  if (refused) {
    sendJson(response, 415, { error: { code: 'UnsupportedMediaType', message: refused } });
    return;
  }
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
        deployments: deployments.map((d) => d.name),
        kinds: Object.fromEntries(deployments.map((d) => [d.name, d.kind])),
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
