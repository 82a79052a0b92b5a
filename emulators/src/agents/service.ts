import { randomBytes } from 'node:crypto';
import { AzureError } from '../errors';
import { textOf } from '../openai/conversation';
import { countTokens } from '../openai/tokens';
import { groundedAnswer, type UrlCitation } from './research';

/**
 * The subset of the Azure AI Foundry Agent Service (v1 API, as @azure/ai-agents 1.1.0 calls it) that a
 * Bing-grounded research agent uses. Runs go queued -> in_progress -> completed over a fixed duration
 * measured from their creation; the assistant's answer appears on the thread when the run completes.
 */

type Json = Record<string, unknown>;

interface AgentRecord {
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

interface MessageRecord {
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

interface ThreadRecord {
  id: string;
  created_at: number;
  metadata: Json;
  messages: MessageRecord[];
}

interface RunRecord {
  id: string;
  thread_id: string;
  assistant_id: string;
  createdMs: number;
  model: string;
  instructions: string;
  tools: unknown[];
  metadata: Json;
  cancelledMs: number | null;
  completedMs: number | null;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

export interface AgentsResult {
  status: number;
  body: unknown;
}

/** Tokens a grounded run spends reading search results, on top of what it was asked and what it answered. */
const groundingContextTokens = 512;

const newId = (prefix: string) => {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return `${prefix}_${[...randomBytes(24)].map((b) => alphabet[b % alphabet.length]).join('')}`;
};
const seconds = (ms: number) => Math.floor(ms / 1000);
const isRecord = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export class AgentService {
  private readonly agents = new Map<string, AgentRecord>();
  private readonly threads = new Map<string, ThreadRecord>();
  private readonly runs = new Map<string, RunRecord>();

  constructor(
    private readonly runDurationMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The operation name for the request log, or undefined when the path is not one the service has. */
  static operationOf(method: string, segments: readonly string[]): string | undefined {
    const [a, b, c, d, e, f] = segments;
    const route = `${method} ${[a, b && '{id}', c, d && '{id}', e, f].filter((s) => s !== undefined).join('/')}`;
    const operations: Record<string, string> = {
      'POST assistants': 'createAgent',
      'GET assistants': 'listAgents',
      'GET assistants/{id}': 'getAgent',
      'POST assistants/{id}': 'updateAgent',
      'DELETE assistants/{id}': 'deleteAgent',
      'POST threads': 'createThread',
      'GET threads': 'listThreads',
      'GET threads/{id}': 'getThread',
      'POST threads/{id}': 'updateThread',
      'DELETE threads/{id}': 'deleteThread',
      'POST threads/{id}/messages': 'createMessage',
      'GET threads/{id}/messages': 'listMessages',
      'GET threads/{id}/messages/{id}': 'getMessage',
      'POST threads/{id}/runs': 'createRun',
      'GET threads/{id}/runs': 'listRuns',
      'GET threads/{id}/runs/{id}': 'getRun',
      'POST threads/{id}/runs/{id}/cancel': 'cancelRun',
      'GET threads/{id}/runs/{id}/steps': 'listRunSteps',
    };
    if (method === 'POST' && a === 'threads' && b === 'runs' && segments.length === 2)
      return 'createThreadAndRun';
    return operations[route];
  }

  handle(
    operation: string,
    segments: readonly string[],
    query: URLSearchParams,
    body: unknown,
  ): AgentsResult {
    const [, first, , second] = segments;
    const id1 = first ?? '';
    const id2 = second ?? '';
    const input = isRecord(body) ? body : {};
    switch (operation) {
      case 'createAgent':
        return ok(this.agentView(this.createAgent(input)));
      case 'listAgents':
        return ok(
          page(
            [...this.agents.values()].map((a) => this.agentView(a)),
            query,
          ),
        );
      case 'getAgent':
        return ok(this.agentView(this.agent(id1)));
      case 'updateAgent':
        return ok(this.agentView(this.updateAgent(this.agent(id1), input)));
      case 'deleteAgent':
        this.agent(id1);
        this.agents.delete(id1);
        return ok({ id: id1, object: 'assistant.deleted', deleted: true });
      case 'createThread':
        return ok(threadView(this.createThread(input)));
      case 'listThreads':
        return ok(page([...this.threads.values()].map(threadView), query));
      case 'getThread':
        return ok(threadView(this.thread(id1)));
      case 'updateThread': {
        const thread = this.thread(id1);
        if (isRecord(input.metadata)) thread.metadata = input.metadata;
        return ok(threadView(thread));
      }
      case 'deleteThread':
        this.thread(id1);
        this.threads.delete(id1);
        for (const [runId, run] of this.runs) if (run.thread_id === id1) this.runs.delete(runId);
        return ok({ id: id1, object: 'thread.deleted', deleted: true });
      case 'createMessage': {
        const thread = this.thread(id1);
        const active = this.activeRun(thread.id);
        if (active) {
          throw invalid(
            `Can't add messages to ${thread.id} while a run ${active.id} is active.`,
            'thread_id',
          );
        }
        return ok(messageView(this.addMessage(thread, input, 'message')));
      }
      case 'listMessages': {
        const thread = this.thread(id1);
        this.settleRuns(thread.id);
        const runId = query.get('run_id');
        const messages = thread.messages.filter((m) => !runId || m.run_id === runId).map(messageView);
        return ok(page(messages, query));
      }
      case 'getMessage': {
        const thread = this.thread(id1);
        this.settleRuns(thread.id);
        const message = thread.messages.find((m) => m.id === id2);
        if (!message) throw notFound(`No message found with id '${id2}'.`);
        return ok(messageView(message));
      }
      case 'createRun':
        return ok(this.runView(this.createRun(this.thread(id1), input)));
      case 'createThreadAndRun': {
        const thread = this.createThread(isRecord(input.thread) ? input.thread : {});
        return ok(this.runView(this.createRun(thread, input)));
      }
      case 'listRuns': {
        const thread = this.thread(id1);
        const runs = [...this.runs.values()]
          .filter((r) => r.thread_id === thread.id)
          .map((r) => this.runView(r));
        return ok(page(runs, query));
      }
      case 'getRun':
        return ok(this.runView(this.run(id1, id2)));
      case 'cancelRun': {
        const run = this.run(id1, id2);
        const status = this.statusOf(run);
        if (status === 'completed' || status === 'cancelled') {
          throw invalid(`Cannot cancel run with status '${status}'.`, 'run_id');
        }
        run.cancelledMs = this.now();
        return ok(this.runView(run));
      }
      case 'listRunSteps': {
        const run = this.run(id1, id2);
        return ok(page(this.runSteps(run), query));
      }
      default:
        throw notFound(`The Agent Service emulator has no operation ${operation}.`);
    }
  }

  // ---- records ------------------------------------------------------------------------------------

  private agent(id: string): AgentRecord {
    const agent = this.agents.get(id);
    if (!agent) throw notFound(`No assistant found with id '${id}'.`);
    return agent;
  }

  private thread(id: string): ThreadRecord {
    const thread = this.threads.get(id);
    if (!thread) throw notFound(`No thread found with id '${id}'.`);
    return thread;
  }

  private run(threadId: string, runId: string): RunRecord {
    this.thread(threadId);
    const run = this.runs.get(runId);
    if (!run || run.thread_id !== threadId) throw notFound(`No run found with id '${runId}'.`);
    this.settle(run);
    return run;
  }

  private createAgent(input: Json): AgentRecord {
    if (typeof input.model !== 'string' || input.model === '') {
      throw invalid(
        "Missing required parameter: 'model' (the model deployment name, such as gpt-4o).",
        'model',
      );
    }
    const agent: AgentRecord = {
      id: newId('asst'),
      created_at: seconds(this.now()),
      model: input.model,
      name: typeof input.name === 'string' ? input.name : null,
      description: typeof input.description === 'string' ? input.description : null,
      instructions: typeof input.instructions === 'string' ? input.instructions : null,
      tools: Array.isArray(input.tools) ? input.tools : [],
      metadata: isRecord(input.metadata) ? input.metadata : {},
      temperature: typeof input.temperature === 'number' ? input.temperature : 1,
      top_p: typeof input.top_p === 'number' ? input.top_p : 1,
      response_format: input.response_format ?? 'auto',
    };
    this.agents.set(agent.id, agent);
    return agent;
  }

  private updateAgent(agent: AgentRecord, input: Json): AgentRecord {
    if (typeof input.model === 'string') agent.model = input.model;
    if (typeof input.name === 'string') agent.name = input.name;
    if (typeof input.description === 'string') agent.description = input.description;
    if (typeof input.instructions === 'string') agent.instructions = input.instructions;
    if (Array.isArray(input.tools)) agent.tools = input.tools;
    if (isRecord(input.metadata)) agent.metadata = input.metadata;
    return agent;
  }

  private createThread(input: Json): ThreadRecord {
    const thread: ThreadRecord = {
      id: newId('thread'),
      created_at: seconds(this.now()),
      metadata: isRecord(input.metadata) ? input.metadata : {},
      messages: [],
    };
    this.threads.set(thread.id, thread);
    if (Array.isArray(input.messages)) {
      input.messages.forEach((m, i) =>
        this.addMessage(thread, isRecord(m) ? m : {}, `thread.messages[${i}]`),
      );
    }
    return thread;
  }

  private addMessage(thread: ThreadRecord, input: Json, where: string): MessageRecord {
    if (input.role !== 'user' && input.role !== 'assistant') {
      throw invalid(
        `Invalid value for '${where}.role': ${JSON.stringify(input.role)}. Expected 'user' or 'assistant'.`,
        'role',
      );
    }
    if (typeof input.content !== 'string' && !Array.isArray(input.content)) {
      throw invalid(
        `Missing required parameter: '${where}.content' (a string or an array of content blocks).`,
        'content',
      );
    }
    const message: MessageRecord = {
      id: newId('msg'),
      created_at: seconds(this.now()),
      thread_id: thread.id,
      role: input.role,
      text: textOf(input.content),
      annotations: [],
      assistant_id: null,
      run_id: null,
      metadata: isRecord(input.metadata) ? input.metadata : {},
    };
    thread.messages.push(message);
    return message;
  }

  private createRun(thread: ThreadRecord, input: Json): RunRecord {
    if (typeof input.assistant_id !== 'string') {
      throw invalid("Missing required parameter: 'assistant_id'.", 'assistant_id');
    }
    const agent = this.agent(input.assistant_id);
    if (input.stream === true) {
      throw invalid(
        'The Agent Service emulator does not stream runs; create the run without stream and poll it.',
        'stream',
      );
    }
    const active = this.activeRun(thread.id);
    if (active) throw invalid(`Thread ${thread.id} already has an active run ${active.id}.`, 'thread_id');
    if (Array.isArray(input.additional_messages)) {
      input.additional_messages.forEach((m, i) =>
        this.addMessage(thread, isRecord(m) ? m : {}, `additional_messages[${i}]`),
      );
    }
    const instructions =
      (typeof input.instructions === 'string' ? input.instructions : (agent.instructions ?? '')) +
      (typeof input.additional_instructions === 'string' ? `\n${input.additional_instructions}` : '');
    const run: RunRecord = {
      id: newId('run'),
      thread_id: thread.id,
      assistant_id: agent.id,
      createdMs: this.now(),
      model: typeof input.model === 'string' ? input.model : agent.model,
      instructions,
      tools: Array.isArray(input.tools) ? input.tools : agent.tools,
      metadata: isRecord(input.metadata) ? input.metadata : {},
      cancelledMs: null,
      completedMs: null,
      usage: null,
    };
    this.runs.set(run.id, run);
    return run;
  }

  private activeRun(threadId: string): RunRecord | undefined {
    return [...this.runs.values()].find((r) => {
      if (r.thread_id !== threadId) return false;
      this.settle(r);
      const status = this.statusOf(r);
      return status === 'queued' || status === 'in_progress';
    });
  }

  // ---- run progress -------------------------------------------------------------------------------

  private statusOf(run: RunRecord): 'queued' | 'in_progress' | 'completed' | 'cancelled' {
    if (run.cancelledMs !== null) return 'cancelled';
    if (run.completedMs !== null) return 'completed';
    const elapsed = this.now() - run.createdMs;
    if (elapsed >= this.runDurationMs) return 'completed';
    // The first fifth of a run is spent in the queue, as a busy service would.
    return elapsed < this.runDurationMs / 5 ? 'queued' : 'in_progress';
  }

  private settleRuns(threadId: string): void {
    for (const run of this.runs.values()) if (run.thread_id === threadId) this.settle(run);
  }

  /** Completes a run whose time is up: its answer goes on the thread, its usage is fixed. */
  private settle(run: RunRecord): void {
    if (run.completedMs !== null || run.cancelledMs !== null || this.statusOf(run) !== 'completed') return;
    run.completedMs = run.createdMs + this.runDurationMs;
    const thread = this.threads.get(run.thread_id);
    if (!thread) return;
    const question = [...thread.messages].reverse().find((m) => m.role === 'user')?.text ?? '';
    const answer = groundedAnswer(question);
    const prompt = [run.instructions, ...thread.messages.map((m) => m.text)].join('\n');
    const promptTokens = countTokens(run.model, prompt) + 3 * thread.messages.length + groundingContextTokens;
    const completionTokens = countTokens(run.model, answer.text);
    run.usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    thread.messages.push({
      id: newId('msg'),
      created_at: seconds(run.completedMs),
      thread_id: thread.id,
      role: 'assistant',
      text: answer.text,
      annotations: answer.annotations,
      assistant_id: run.assistant_id,
      run_id: run.id,
      metadata: {},
    });
  }

  private runView(run: RunRecord): Json {
    this.settle(run);
    const status = this.statusOf(run);
    const startedMs = run.createdMs + this.runDurationMs / 5;
    return {
      id: run.id,
      object: 'thread.run',
      created_at: seconds(run.createdMs),
      assistant_id: run.assistant_id,
      thread_id: run.thread_id,
      status,
      started_at: status === 'queued' ? null : seconds(startedMs),
      expires_at:
        status === 'queued' || status === 'in_progress' ? seconds(run.createdMs + 10 * 60_000) : null,
      cancelled_at: run.cancelledMs === null ? null : seconds(run.cancelledMs),
      failed_at: null,
      completed_at: run.completedMs === null ? null : seconds(run.completedMs),
      required_action: null,
      last_error: null,
      model: run.model,
      instructions: run.instructions,
      tools: run.tools,
      tool_resources: {},
      metadata: run.metadata,
      temperature: 1,
      top_p: 1,
      max_completion_tokens: null,
      max_prompt_tokens: null,
      truncation_strategy: { type: 'auto', last_messages: null },
      incomplete_details: null,
      usage: run.usage,
      response_format: 'auto',
      tool_choice: 'auto',
      parallel_tool_calls: true,
    };
  }

  private runSteps(run: RunRecord): Json[] {
    if (run.completedMs === null) return [];
    const message = this.threads.get(run.thread_id)?.messages.find((m) => m.run_id === run.id);
    if (!message) return [];
    return [
      {
        id: `step_${run.id.slice(4)}`,
        object: 'thread.run.step',
        type: 'message_creation',
        assistant_id: run.assistant_id,
        thread_id: run.thread_id,
        run_id: run.id,
        status: 'completed',
        step_details: { type: 'message_creation', message_creation: { message_id: message.id } },
        last_error: null,
        created_at: seconds(run.createdMs),
        expired_at: null,
        completed_at: seconds(run.completedMs),
        cancelled_at: null,
        failed_at: null,
        usage: run.usage,
        metadata: {},
      },
    ];
  }

  private agentView(agent: AgentRecord): Json {
    return { ...agent, object: 'assistant', tool_resources: {} };
  }
}

function threadView(thread: ThreadRecord): Json {
  return {
    id: thread.id,
    object: 'thread',
    created_at: thread.created_at,
    metadata: thread.metadata,
    tool_resources: {},
  };
}

function messageView(message: MessageRecord): Json {
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
function page(items: Json[], query: URLSearchParams): Json {
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

const ok = (body: unknown): AgentsResult => ({ status: 200, body });

function notFound(message: string): AzureError {
  return new AzureError(404, 'not_found', message, { type: 'invalid_request_error', param: null });
}

function invalid(message: string, param: string): AzureError {
  return new AzureError(400, 'invalid_request_error', message, { type: 'invalid_request_error', param });
}
