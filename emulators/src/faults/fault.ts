import type { Service } from '../http';

/**
 * An injected fault, as POST /_emulator/faults stores it: which requests it matches (service, deployment,
 * path, method, stream) and what it does to them. Each kind of effect lives in its own module beside
 * this one, with its check and its effect: ./errorStatus.ts, ./delay.ts, ./cannedContent.ts,
 * ./lostReply.ts, ./cutStream.ts; ./faults.ts checks a request against all of them.
 */
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

/** The body of POST /_emulator/faults, unchecked. */
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

/** What a request is matched on. */
export interface FaultTarget {
  service: Service;
  deployment?: string;
  path: string;
  method: string;
  /** A streamed chat completion; faults that cut streams match only those. */
  stream?: boolean;
}

export const nonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
