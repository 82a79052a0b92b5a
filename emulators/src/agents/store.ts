import { textOf } from '../openai/conversation';
import {
  invalid,
  isRecord,
  newId,
  notFound,
  seconds,
  type AgentRecord,
  type Json,
  type MessageRecord,
  type ThreadRecord,
} from './records';

/** The agents and threads (with their messages) the emulator holds, and how requests create them. */
export class AgentStore {
  readonly agents = new Map<string, AgentRecord>();
  readonly threads = new Map<string, ThreadRecord>();

  constructor(private readonly now: () => number) {}

  agent(id: string): AgentRecord {
    const agent = this.agents.get(id);
    if (!agent) throw notFound(`No assistant found with id '${id}'.`);
    return agent;
  }

  thread(id: string): ThreadRecord {
    const thread = this.threads.get(id);
    if (!thread) throw notFound(`No thread found with id '${id}'.`);
    return thread;
  }

  createAgent(input: Json): AgentRecord {
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

  updateAgent(agent: AgentRecord, input: Json): AgentRecord {
    if (typeof input.model === 'string') agent.model = input.model;
    if (typeof input.name === 'string') agent.name = input.name;
    if (typeof input.description === 'string') agent.description = input.description;
    if (typeof input.instructions === 'string') agent.instructions = input.instructions;
    if (Array.isArray(input.tools)) agent.tools = input.tools;
    if (isRecord(input.metadata)) agent.metadata = input.metadata;
    return agent;
  }

  createThread(input: Json): ThreadRecord {
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

  addMessage(thread: ThreadRecord, input: Json, where: string): MessageRecord {
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
}

export function agentView(agent: AgentRecord): Json {
  return { ...agent, object: 'assistant', tool_resources: {} };
}
