import { invalid, isRecord, notFound, ok, page, threadView, messageView, type AgentsResult } from './records';
import { RunSimulator } from './runs';
import { AgentStore, agentView } from './store';

export type { AgentsResult } from './records';

/**
 * The subset of the Azure AI Foundry Agent Service (v1 API, as @azure/ai-agents 1.1.0 calls it) that a
 * Bing-grounded research agent uses: the routes. Records live in `store.ts`, runs progress in `runs.ts`.
 */

export class AgentService {
  private readonly store: AgentStore;
  private readonly simulator: RunSimulator;

  constructor(runDurationMs: number, now: () => number = Date.now) {
    this.store = new AgentStore(now);
    this.simulator = new RunSimulator(this.store, runDurationMs, now);
  }

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
        return ok(agentView(this.store.createAgent(input)));
      case 'listAgents':
        return ok(page([...this.store.agents.values()].map(agentView), query));
      case 'getAgent':
        return ok(agentView(this.store.agent(id1)));
      case 'updateAgent':
        return ok(agentView(this.store.updateAgent(this.store.agent(id1), input)));
      case 'deleteAgent':
        this.store.agent(id1);
        this.store.agents.delete(id1);
        return ok({ id: id1, object: 'assistant.deleted', deleted: true });
      case 'createThread':
        return ok(threadView(this.store.createThread(input)));
      case 'listThreads':
        return ok(page([...this.store.threads.values()].map(threadView), query));
      case 'getThread':
        return ok(threadView(this.store.thread(id1)));
      case 'updateThread': {
        const thread = this.store.thread(id1);
        if (isRecord(input.metadata)) thread.metadata = input.metadata;
        return ok(threadView(thread));
      }
      case 'deleteThread':
        this.store.thread(id1);
        this.store.threads.delete(id1);
        for (const [runId, run] of this.simulator.runs)
          if (run.thread_id === id1) this.simulator.runs.delete(runId);
        return ok({ id: id1, object: 'thread.deleted', deleted: true });
      case 'createMessage': {
        const thread = this.store.thread(id1);
        const active = this.simulator.activeRun(thread.id);
        if (active) {
          throw invalid(
            `Can't add messages to ${thread.id} while a run ${active.id} is active.`,
            'thread_id',
          );
        }
        return ok(messageView(this.store.addMessage(thread, input, 'message')));
      }
      case 'listMessages': {
        const thread = this.store.thread(id1);
        this.simulator.settleRuns(thread.id);
        const runId = query.get('run_id');
        const messages = thread.messages.filter((m) => !runId || m.run_id === runId).map(messageView);
        return ok(page(messages, query));
      }
      case 'getMessage': {
        const thread = this.store.thread(id1);
        this.simulator.settleRuns(thread.id);
        const message = thread.messages.find((m) => m.id === id2);
        if (!message) throw notFound(`No message found with id '${id2}'.`);
        return ok(messageView(message));
      }
      case 'createRun':
        return ok(this.simulator.runView(this.simulator.createRun(this.store.thread(id1), input)));
      case 'createThreadAndRun': {
        const thread = this.store.createThread(isRecord(input.thread) ? input.thread : {});
        return ok(this.simulator.runView(this.simulator.createRun(thread, input)));
      }
      case 'listRuns': {
        const thread = this.store.thread(id1);
        const runs = [...this.simulator.runs.values()]
          .filter((r) => r.thread_id === thread.id)
          .map((r) => this.simulator.runView(r));
        return ok(page(runs, query));
      }
      case 'getRun':
        return ok(this.simulator.runView(this.simulator.run(id1, id2)));
      case 'cancelRun':
        return ok(this.simulator.runView(this.simulator.cancel(this.simulator.run(id1, id2))));
      case 'listRunSteps': {
        const run = this.simulator.run(id1, id2);
        return ok(page(this.simulator.runSteps(run), query));
      }
      default:
        throw notFound(`The Agent Service emulator has no operation ${operation}.`);
    }
  }
}
