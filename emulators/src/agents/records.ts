import { randomBytes } from 'node:crypto';
import { AzureError } from '../errors';
import type { UrlCitation } from './research';

/** The Agent Service emulator's records, their wire views, list paging and its error shapes. */

export type Json = Record<string, unknown>;

export interface AgentRecord {
  id: string;
  created_at: number;
  model: string;
  name: string | null;
  description: string | null;
  instructions: string | null;
  tools: unknown[];
  metadata: Json;
  temperature: number;
  top_p: number;
  response_format: unknown;
}

export interface MessageRecord {
  id: string;
  created_at: number;
  thread_id: string;
  role: 'user' | 'assistant';
  text: string;
  annotations: UrlCitation[];
  assistant_id: string | null;
  run_id: string | null;
  metadata: Json;
}

export interface ThreadRecord {
  id: string;
  created_at: number;
  metadata: Json;
  messages: MessageRecord[];
}

export interface RunRecord {
  id: string;
  thread_id: string;
  assistant_id: string;
  createdMs: number;
  model: string;
  instructions: string;
  tools: unknown[];
  metadata: Json;
  /** When the cancel was asked for: the run is `cancelling` for a moment, then `cancelled`. */
  cancelledMs: number | null;
  completedMs: number | null;
  /** The run's token limits (`max_prompt_tokens`, `max_completion_tokens`); null when not set. */
  maxPromptTokens: number | null;
  maxCompletionTokens: number | null;
  /** Set when the run ended `incomplete`: which limit it reached. */
  incompleteReason: 'max_prompt_tokens' | 'max_completion_tokens' | null;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

export interface AgentsResult {
  status: number;
  body: unknown;
}

export const newId = (prefix: string) => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return `${prefix}_${[...randomBytes(24)].map((b) => alphabet[b % alphabet.length]).join('')}`;
};
export const seconds = (ms: number) => Math.floor(ms / 1000);
export const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function threadView(thread: ThreadRecord): Json {
  return {
    id: thread.id,
    object: 'thread',
    created_at: thread.created_at,
    metadata: thread.metadata,
    tool_resources: {},
  };
}

export function messageView(message: MessageRecord): Json {
  return {
    id: message.id,
    object: 'thread.message',
    created_at: message.created_at,
    assistant_id: message.assistant_id,
    thread_id: message.thread_id,
    run_id: message.run_id,
    role: message.role,
    content: [{ type: 'text', text: { value: message.text, annotations: message.annotations } }],
    attachments: [],
    metadata: message.metadata,
    status: 'completed',
    completed_at: message.created_at,
    incomplete_at: null,
    incomplete_details: null,
  };
}

/** One page of a list, as the service pages: order (desc by default), limit, after, before. */
export function page(items: Json[], query: URLSearchParams): Json {
  const order = query.get('order') === 'asc' ? 'asc' : 'desc';
  let list = order === 'asc' ? [...items] : [...items].reverse();
  const after = query.get('after');
  const before = query.get('before');
  if (after) list = list.slice(list.findIndex((i) => i.id === after) + 1);
  if (before) {
    const index = list.findIndex((i) => i.id === before);
    if (index >= 0) list = list.slice(0, index);
  }
  const limit = Math.min(100, Math.max(1, Number(query.get('limit') ?? 20) || 20));
  const data = list.slice(0, limit);
  return {
    object: 'list',
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: list.length > limit,
  };
}

export const ok = (body: unknown): AgentsResult => ({ status: 200, body });

export function notFound(message: string): AzureError {
  return new AzureError(404, 'not_found', message, { type: 'invalid_request_error', param: null });
}

export function invalid(message: string, param: string): AzureError {
  return new AzureError(400, 'invalid_request_error', message, { type: 'invalid_request_error', param });
}
