import type { ServerResponse } from 'node:http';
import { checkLostReply } from './lostReply';

/**
 * What tests steer and inspect through /_emulator/: injected faults, added latency, and the log of
 * every request the emulated services received.
 */

export type Service = 'openai' | 'agents';

export interface Fault {
  id: number;
  /** 429, 500 or 503; absent for a fault that only delays or rewrites the real answer. */
  status?: 429 | 500 | 503;
  /** A chat completion answered 200 with this text instead of the model's (a canned, maybe bad, answer). */
  content?: string;
  /** How many more matching requests this fault answers. */
  remaining: number;
  retryAfterMs?: number;
  delayMs?: number;
  deployment?: string;
  service?: Service;
  /** A substring of the request path, such as "/chat/completions" or "/runs". */
  path?: string;
  method?: string;
  /** The request is applied, then the connection is dropped before the answer (see lostReply.ts). */
  lostReply?: true;
  /**
   * Streamed chat completions only: the stream is cut (the socket destroyed) after this many content
   * chunks, as when the service or the network fails in the middle of an answer.
   */
  cutStreamAfterChunks?: number;
  /** Matches only streamed (true) or only unstreamed (false) chat completions. */
  stream?: boolean;
}

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

export interface FaultRequest {
  status?: unknown;
  count?: unknown;
  retryAfterMs?: unknown;
  deployment?: unknown;
  delayMs?: unknown;
  service?: unknown;
  path?: unknown;
  method?: unknown;
  content?: unknown;
  lostReply?: unknown;
  cutStreamAfterChunks?: unknown;
  stream?: unknown;
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
    const { status, count, retryAfterMs, deployment, delayMs, service, path, method, content } = body;
    const cut = body.cutStreamAfterChunks;
    if (body.stream !== undefined && typeof body.stream !== 'boolean') {
      return `"stream" must be true or false, got ${JSON.stringify(body.stream)}.`;
    }
    if (cut !== undefined && !(Number.isInteger(cut) && (cut as number) >= 0)) {
      return `"cutStreamAfterChunks" must be a whole number of chunks, 0 or more, got ${JSON.stringify(cut)}.`;
    }
    if (cut !== undefined && (status !== undefined || body.lostReply !== undefined)) {
      return '"cutStreamAfterChunks" cannot be combined with "status" or "lostReply".';
    }
    if (status !== undefined && status !== 429 && status !== 500 && status !== 503) {
      return `"status" must be 429, 500 or 503 (or left out for a delay-only fault), got ${JSON.stringify(status)}.`;
    }
    if (content !== undefined && (typeof content !== 'string' || status !== undefined)) {
      return '"content" must be the text of a 200 answer (a string), and cannot be combined with "status".';
    }
    const lostReplyProblem = checkLostReply(body);
    if (lostReplyProblem) return lostReplyProblem;
    const lostReply = body.lostReply === true;
    if (
      status === undefined &&
      delayMs === undefined &&
      content === undefined &&
      !lostReply &&
      cut === undefined
    ) {
      return 'Give "status" (429, 500 or 503), "delayMs", "content", "lostReply" or "cutStreamAfterChunks"; the fault otherwise does nothing.';
    }
    const nonNegative = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (count !== undefined && !(Number.isInteger(count) && (count as number) >= 1)) {
      return `"count" must be a whole number of requests, 1 or more, got ${JSON.stringify(count)}.`;
    }
    if (retryAfterMs !== undefined && !nonNegative(retryAfterMs)) {
      return `"retryAfterMs" must be a number of milliseconds, 0 or more, got ${JSON.stringify(retryAfterMs)}.`;
    }
    if (delayMs !== undefined && !nonNegative(delayMs)) {
      return `"delayMs" must be a number of milliseconds, 0 or more, got ${JSON.stringify(delayMs)}.`;
    }
    if (deployment !== undefined && typeof deployment !== 'string') {
      return `"deployment" must be a deployment name such as "gpt-4o-mini", got ${JSON.stringify(deployment)}.`;
    }
    if (service !== undefined && service !== 'openai' && service !== 'agents') {
      return `"service" must be "openai" or "agents", got ${JSON.stringify(service)}.`;
    }
    if (path !== undefined && typeof path !== 'string') {
      return `"path" must be a substring of request paths such as "/chat/completions", got ${JSON.stringify(path)}.`;
    }
    if (method !== undefined && typeof method !== 'string') {
      return `"method" must be an HTTP method such as "POST", got ${JSON.stringify(method)}.`;
    }
    const fault: Fault = {
      id: this.nextFaultId++,
      remaining: (count as number | undefined) ?? 1,
      ...(status !== undefined ? { status } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs: retryAfterMs as number } : {}),
      ...(delayMs !== undefined ? { delayMs: delayMs as number } : {}),
      ...(deployment !== undefined ? { deployment } : {}),
      ...(service !== undefined ? { service } : {}),
      ...(path !== undefined ? { path } : {}),
      ...(method !== undefined ? { method: method.toUpperCase() } : {}),
      ...(typeof content === 'string' ? { content } : {}),
      ...(lostReply ? { lostReply: true as const } : {}),
      ...(cut !== undefined ? { cutStreamAfterChunks: cut as number } : {}),
      ...(typeof body.stream === 'boolean' ? { stream: body.stream } : {}),
    };
    this.faults.push(fault);
    return fault;
  }

  pendingFaults(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** The first fault that matches, with one use taken from it. Faults apply in the order they were added. */
  takeFault(request: {
    service: Service;
    deployment?: string;
    path: string;
    method: string;
    /** A streamed chat completion; faults that cut streams match only those. */
    stream?: boolean;
  }): Fault | undefined {
    const fault = this.faults.find(
      (f) =>
        (f.cutStreamAfterChunks === undefined || request.stream === true) &&
        (f.stream === undefined || f.stream === (request.stream === true)) &&
        (f.service === undefined || f.service === request.service) &&
        (f.deployment === undefined || f.deployment === request.deployment) &&
        (f.path === undefined || request.path.includes(f.path)) &&
        (f.method === undefined || f.method === request.method),
    );
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

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}
