import { countTokens } from '../openai/tokens';
import {
  invalid,
  isRecord,
  newId,
  notFound,
  seconds,
  type Json,
  type RunRecord,
  type ThreadRecord,
} from './records';
import { groundedAnswer } from './research';
import type { AgentStore } from './store';

/**
 * Run simulation: runs go queued -> in_progress -> completed over a fixed duration measured from their
 * creation, and the grounded answer appears on the thread when the run completes. A cancelled run goes
 * cancelling -> cancelled, as the service's does, and reports what it had spent when it was cancelled.
 */

/** Tokens a grounded run spends reading search results, on top of what it was asked and what it answered. */
const groundingContextTokens = 512;

/** How long a cancelled run stays `cancelling` before it is `cancelled`. */
export const cancellingMs = 250;

/** The queue is left after a fifth of the run's duration, and never later than this. */
const maxQueuedMs = 1000;

export class RunSimulator {
  readonly runs = new Map<string, RunRecord>();

  constructor(
    private readonly store: AgentStore,
    private readonly runDurationMs: number,
    private readonly now: () => number,
  ) {}

  run(threadId: string, runId: string): RunRecord {
    this.store.thread(threadId);
    const run = this.runs.get(runId);
    if (!run || run.thread_id !== threadId) throw notFound(`No run found with id '${runId}'.`);
    this.settle(run);
    return run;
  }

  createRun(thread: ThreadRecord, input: Json): RunRecord {
    if (typeof input.assistant_id !== 'string') {
      throw invalid("Missing required parameter: 'assistant_id'.", 'assistant_id');
    }
    const agent = this.store.agent(input.assistant_id);
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
        this.store.addMessage(thread, isRecord(m) ? m : {}, `additional_messages[${i}]`),
      );
    }
    const limit = (field: 'max_prompt_tokens' | 'max_completion_tokens'): number | null => {
      const value = input[field];
      if (value === undefined || value === null) return null;
      // The service needs at least 256 of each, so that a run can do anything at all.
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 256) {
        throw invalid(`'${field}' must be an integer of at least 256.`, field);
      }
      return value;
    };
    const maxPromptTokens = limit('max_prompt_tokens');
    const maxCompletionTokens = limit('max_completion_tokens');
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
      maxPromptTokens,
      maxCompletionTokens,
      incompleteReason: null,
      usage: null,
    };
    this.runs.set(run.id, run);
    return run;
  }

  cancel(run: RunRecord): RunRecord {
    this.settle(run);
    const status = this.statusOf(run);
    if (status !== 'queued' && status !== 'in_progress') {
      throw invalid(`Cannot cancel run with status '${status}'.`, 'run_id');
    }
    const at = this.now();
    run.cancelledMs = at;
    // A queued run has spent nothing; one in progress has read the thread and the search results, and
    // written the share of its answer its time allowed.
    const thread = this.store.threads.get(run.thread_id);
    if (status === 'queued' || !thread) {
      run.usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
      return run;
    }
    const { promptTokens, completionTokens } = this.tokensOf(run, thread);
    const working = this.runDurationMs - this.queuedMs();
    const share = working > 0 ? Math.min(1, (at - run.createdMs - this.queuedMs()) / working) : 1;
    const written = Math.floor(completionTokens * share);
    run.usage = {
      prompt_tokens: promptTokens,
      completion_tokens: written,
      total_tokens: promptTokens + written,
    };
    return run;
  }

  activeRun(threadId: string): RunRecord | undefined {
    return [...this.runs.values()].find((r) => {
      if (r.thread_id !== threadId) return false;
      this.settle(r);
      const status = this.statusOf(r);
      return status === 'queued' || status === 'in_progress' || status === 'cancelling';
    });
  }

  statusOf(
    run: RunRecord,
  ): 'queued' | 'in_progress' | 'completed' | 'cancelling' | 'cancelled' | 'incomplete' {
    if (run.cancelledMs !== null)
      return this.now() - run.cancelledMs < cancellingMs ? 'cancelling' : 'cancelled';
    if (run.incompleteReason !== null) return 'incomplete';
    if (run.completedMs !== null) return 'completed';
    const elapsed = this.now() - run.createdMs;
    if (elapsed >= this.runDurationMs) return 'completed';
    // The start of a run is spent in the queue, as a busy service would.
    return elapsed < this.queuedMs() ? 'queued' : 'in_progress';
  }

  private queuedMs(): number {
    return Math.min(this.runDurationMs / 5, maxQueuedMs);
  }

  /** What the whole run reads and writes: instructions, thread and search results in, the answer out. */
  private tokensOf(run: RunRecord, thread: ThreadRecord): { promptTokens: number; completionTokens: number } {
    const question = [...thread.messages].reverse().find((m) => m.role === 'user')?.text ?? '';
    const answer = groundedAnswer(question);
    const prompt = [run.instructions, ...thread.messages.map((m) => m.text)].join('\n');
    return {
      promptTokens: countTokens(run.model, prompt) + 3 * thread.messages.length + groundingContextTokens,
      completionTokens: countTokens(run.model, answer.text),
    };
  }

  settleRuns(threadId: string): void {
    for (const run of this.runs.values()) if (run.thread_id === threadId) this.settle(run);
  }

  /**
   * Completes a run whose time is up: its answer goes on the thread, its usage is fixed. A run that would
   * pass its `max_prompt_tokens` or `max_completion_tokens` ends `incomplete` instead, having spent up to
   * the limit it reached, with no answer on the thread (as the service stops the run there).
   */
  settle(run: RunRecord): void {
    if (run.completedMs !== null || run.cancelledMs !== null || this.statusOf(run) !== 'completed') return;
    run.completedMs = run.createdMs + this.runDurationMs;
    const thread = this.store.threads.get(run.thread_id);
    if (!thread) return;
    const question = [...thread.messages].reverse().find((m) => m.role === 'user')?.text ?? '';
    const answer = groundedAnswer(question);
    const { promptTokens, completionTokens } = this.tokensOf(run, thread);
    if (run.maxPromptTokens !== null && promptTokens > run.maxPromptTokens) {
      run.incompleteReason = 'max_prompt_tokens';
      run.usage = {
        prompt_tokens: run.maxPromptTokens,
        completion_tokens: 0,
        total_tokens: run.maxPromptTokens,
      };
      return;
    }
    if (run.maxCompletionTokens !== null && completionTokens > run.maxCompletionTokens) {
      run.incompleteReason = 'max_completion_tokens';
      run.usage = {
        prompt_tokens: promptTokens,
        completion_tokens: run.maxCompletionTokens,
        total_tokens: promptTokens + run.maxCompletionTokens,
      };
      return;
    }
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

  runView(run: RunRecord): Json {
    this.settle(run);
    const status = this.statusOf(run);
    const startedMs = run.createdMs + this.queuedMs();
    return {
      id: run.id,
      object: 'thread.run',
      created_at: seconds(run.createdMs),
      assistant_id: run.assistant_id,
      thread_id: run.thread_id,
      status,
      started_at:
        status === 'queued' || (run.cancelledMs !== null && run.cancelledMs < startedMs)
          ? null
          : seconds(startedMs),
      expires_at:
        status === 'queued' || status === 'in_progress' || status === 'cancelling'
          ? seconds(run.createdMs + 10 * 60_000)
          : null,
      cancelled_at: status === 'cancelled' && run.cancelledMs !== null ? seconds(run.cancelledMs) : null,
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
      max_completion_tokens: run.maxCompletionTokens,
      max_prompt_tokens: run.maxPromptTokens,
      truncation_strategy: { type: 'auto', last_messages: null },
      incomplete_details: run.incompleteReason === null ? null : { reason: run.incompleteReason },
      usage: run.usage,
      response_format: 'auto',
      tool_choice: 'auto',
      parallel_tool_calls: true,
    };
  }

  runSteps(run: RunRecord): Json[] {
    if (run.completedMs === null) return [];
    const message = this.store.threads.get(run.thread_id)?.messages.find((m) => m.run_id === run.id);
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
}
