import { SingleBar } from 'cli-progress';
import input from '@inquirer/input';
import select from '@inquirer/select';
import { ApiError, type ApiClient } from './api';
import { followEvents, type RunEvent } from './events';
import { CliError, exitCodeForStatus, exitCodes, type ExitCode } from './exitCodes';
import { formatDraft, formatResult, oneLine, type RunView } from './render';

/** Where the client writes: NDJSON lines for scripts, text for people. */
export interface Output {
  /** --json: one JSON object per line on stdout, the last one the result. */
  json: boolean;
  /** stdin and stderr are terminals (and not --json): a progress bar and questions. */
  interactive: boolean;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
}

export function emit(out: Output, line: Record<string, unknown>): void {
  out.stdout.write(`${JSON.stringify(line)}\n`);
}

/** Notes for people: stderr, so that stdout holds only the answer (or the JSON lines). */
export function note(out: Output, text: string): void {
  if (!out.json) out.stderr.write(`${text}\n`);
}

export interface FollowSettings {
  /** --approve: approve every draft as it is offered. */
  approve: boolean;
}

/** What the progress line shows. */
interface RunState {
  stage: string;
  subtasks: Map<string, string>;
  tokens: number;
}

/**
 * The progress of a run: on a terminal a bar (stage, subtasks done of total, tokens), otherwise one
 * line per stage and subtask on stderr; nothing with --json (the events are the output).
 */
class Progress {
  private bar: SingleBar | undefined;
  private readonly state: RunState = { stage: 'starting', subtasks: new Map(), tokens: 0 };

  constructor(private readonly out: Output) {}

  private payload() {
    const states = [...this.state.subtasks.values()];
    const done = states.filter((s) => s === 'succeeded' || s === 'failed').length;
    const failed = states.filter((s) => s === 'failed').length;
    return {
      value: done,
      total: Math.max(states.length, 1),
      extra: {
        stage: this.state.stage.padEnd(17),
        subtasks: `${done}/${states.length} subtasks${failed > 0 ? ` (${failed} failed)` : ''}`,
        tokens: `${this.state.tokens} tokens`,
      },
    };
  }

  private render(): void {
    if (!this.out.interactive) return;
    const { value, total, extra } = this.payload();
    if (!this.bar) {
      this.bar = new SingleBar({
        stream: this.out.stderr,
        format: ' {stage} {bar} {subtasks} | {tokens}',
        barsize: 20,
        hideCursor: true,
        clearOnComplete: false,
        linewrap: false,
        fps: 10,
        barCompleteChar: '#',
        barIncompleteChar: '-',
      });
      this.bar.start(total, value, extra);
    } else {
      this.bar.setTotal(total);
      this.bar.update(value, extra);
    }
  }

  handle(event: RunEvent): void {
    const d = event.data;
    if (event.event === 'stage' && typeof d.stage === 'string') {
      if (d.stage !== this.state.stage && !this.out.interactive) note(this.out, `stage: ${d.stage}`);
      this.state.stage = d.stage;
    } else if (event.event === 'subtask' && typeof d.id === 'string' && typeof d.state === 'string') {
      const before = this.state.subtasks.get(d.id);
      this.state.subtasks.set(d.id, d.state);
      if (before !== d.state && !this.out.interactive) {
        note(this.out, `subtask ${d.id} ${d.state}: ${oneLine(typeof d.title === 'string' ? d.title : '')}`);
      }
    } else if (event.event === 'usage' && typeof d.totalTokens === 'number') {
      this.state.tokens = d.totalTokens;
    } else if (event.event === 'escalation') {
      this.pause();
      note(
        this.out,
        `No decision before the deadline: escalated to ${list(d.approvers)}; new deadline ${String(d.deadline)}.`,
      );
    } else if (event.event === 'webhook' && d.state === 'failed') {
      this.pause();
      note(
        this.out,
        `A webhook delivery (${String(d.type)}) failed: ${typeof d.error === 'string' ? oneLine(d.error) : ''}`,
      );
    }
    this.render();
  }

  /** Stops the bar so that other text can be written below it; the next event draws it again. */
  pause(): void {
    if (!this.bar) return;
    this.bar.stop();
    this.bar = undefined;
  }
}

function list(value: unknown): string {
  return Array.isArray(value) ? value.map(String).join(', ') : String(value);
}

type Decision = { decision: 'approve' | 'reject'; comment?: string } | 'later';

/** Asks the person at the terminal what to do with the draft on offer. */
async function ask(out: Output): Promise<Decision> {
  const context = { input: out.stdin, output: out.stderr };
  const choice = await select<'approve' | 'revise' | 'reject' | 'later'>(
    {
      message: 'Approve this draft?',
      choices: [
        { value: 'approve', name: 'Approve', description: 'The draft becomes the answer.' },
        { value: 'revise', name: 'Reject and ask for a revision', description: 'Say what should change.' },
        { value: 'reject', name: 'Reject for good', description: 'The run ends as rejected.' },
        { value: 'later', name: 'Decide later', description: 'Stop here; the run keeps waiting.' },
      ],
    },
    context,
  );
  if (choice === 'later') return 'later';
  if (choice === 'revise') {
    const comment = await input(
      {
        message: 'What should change?',
        required: true,
        validate: (text) => (text.trim() === '' ? 'A revision needs a comment.' : true),
      },
      context,
    );
    return { decision: 'reject', comment: comment.trim() };
  }
  const comment = (await input({ message: 'Comment (optional, Enter to skip):' }, context)).trim();
  return { decision: choice, ...(comment ? { comment } : {}) };
}

/** How to decide later: the approval page and the client's own commands, for the draft of `round`. */
function howToDecide(runId: string, round: number, approvalUrl: unknown): string {
  return [
    `Run ${runId} waits for approval of round ${round}. Decide on the approval page or with the client:`,
    ...(typeof approvalUrl === 'string' ? [`  ${approvalUrl}`] : []),
    `  npm run agent -- approve ${runId} --round ${round} [--comment TEXT]`,
    `  npm run agent -- reject ${runId} --round ${round} [--comment TEXT]   (a comment asks for a revision)`,
    `  npm run agent -- follow ${runId}                    (follow it again)`,
  ].join('\n');
}

/** What became of a decision: taken by the run, sent but not taken yet, or not taken (and why). */
export type DecisionOutcome =
  { state: 'taken' | 'pending'; body: unknown } | { state: 'not-taken'; reason: string; problem: unknown };

/**
 * Sends a decision for the draft of `round` (and `draftId`, when known): the API applies it to that
 * draft only. Not taken (409, 410) when that draft is no longer on offer, another decision for it won,
 * or the run ended; the reason says which.
 */
export async function decide(
  client: ApiClient,
  runId: string,
  decision: { decision: 'approve' | 'reject'; round: number; draftId?: string; comment?: string },
): Promise<DecisionOutcome> {
  try {
    const answer = await client.json<{ state?: unknown }>(
      'POST',
      `/api/agent-runs/${encodeURIComponent(runId)}/approval`,
      `Deciding on run ${runId}`,
      decision,
    );
    return { state: answer.body.state === 'taken' ? 'taken' : 'pending', body: answer.body };
  } catch (error) {
    if (error instanceof ApiError && (error.status === 409 || error.status === 410)) {
      return { state: 'not-taken', reason: error.message.split('\n')[0] ?? '', problem: error.problem };
    }
    throw error;
  }
}

/**
 * Follows a run's events to its end: progress, the approval question for each draft, and the result.
 * Resolves with the exit code for how it ended.
 */
export async function followRun(
  client: ApiClient,
  runId: string,
  out: Output,
  settings: FollowSettings,
): Promise<ExitCode> {
  const progress = new Progress(out);
  const decided = new Set<number>();
  const onInterrupt = () => {
    progress.pause();
    if (out.json) emit(out, { type: 'interrupted', runId, exitCode: exitCodes.interrupted });
    else
      out.stderr.write(
        `\nStopped following run ${runId}; it goes on. Follow it again: npm run agent -- follow ${runId}\n`,
      );
    process.exit(exitCodes.interrupted);
  };
  process.on('SIGINT', onInterrupt);
  try {
    const events = followEvents(client, runId, {
      onReconnect: (attempt, lastEventId, reason) => {
        if (out.json) emit(out, { type: 'reconnect', attempt, lastEventId: lastEventId ?? null, reason });
      },
    });
    for await (const event of events) {
      if (out.json) emit(out, { type: 'event', id: event.id ?? null, event: event.event, data: event.data });
      if (event.event === 'end') {
        progress.pause();
        const run = event.data as unknown as RunView;
        const exitCode = exitCodeForStatus(run.status);
        if (out.json) emit(out, { type: 'result', exitCode, run });
        else out.stdout.write(`${formatResult(run)}\n`);
        return exitCode;
      }
      progress.handle(event);
      if (event.event !== 'draft') continue;

      const round = typeof event.data.round === 'number' ? event.data.round : 0;
      const draftId = typeof event.data.draftId === 'string' ? event.data.draftId : undefined;
      if (decided.has(round)) continue;
      // The stream replays a run's whole log to a new follower: a draft from its past is no question now.
      const now = await readRun(client, runId);
      if (now.status !== 'awaiting-approval' || now.approval?.round !== round) {
        decided.add(round);
        continue;
      }
      let decision: Decision;
      if (settings.approve) {
        decision = { decision: 'approve' };
      } else if (out.interactive) {
        progress.pause();
        out.stderr.write(`\n${formatDraft({ ...event.data, round }).join('\n')}\n`);
        if (typeof event.data.approvalUrl === 'string')
          out.stderr.write(`Approval page: ${event.data.approvalUrl}\n\n`);
        try {
          decision = await ask(out);
        } catch (error) {
          if (error instanceof Error && error.name === 'ExitPromptError') onInterrupt();
          throw error;
        }
      } else {
        decision = 'later';
      }
      if (decision === 'later') {
        progress.pause();
        if (out.json) {
          emit(out, {
            type: 'result',
            exitCode: exitCodes.awaitingApproval,
            run: await readRun(client, runId),
          });
        } else {
          out.stderr.write(`${howToDecide(runId, round, event.data.approvalUrl)}\n`);
        }
        return exitCodes.awaitingApproval;
      }
      // The draft shown (or approved by --approve) is the one this event offered: the decision names it.
      const sent = await decide(client, runId, { ...decision, round, ...(draftId ? { draftId } : {}) });
      decided.add(round);
      if (out.json) {
        emit(out, {
          type: 'decision',
          round,
          ...(draftId ? { draftId } : {}),
          ...decision,
          state: sent.state,
          ...(sent.state === 'not-taken' ? { reason: sent.reason } : {}),
        });
      } else {
        progress.pause();
        const what =
          decision.decision === 'approve'
            ? 'Approved'
            : decision.comment
              ? 'Asked for a revision of'
              : 'Rejected';
        if (sent.state === 'not-taken') note(out, `The decision was not taken: ${sent.reason}`);
        else if (sent.state === 'taken') note(out, `${what} draft round ${round}.`);
        else note(out, `Sent: ${what.toLowerCase()} draft round ${round}; the run has not taken it yet.`);
      }
    }
    throw new CliError(`The event stream of run ${runId} ended without its end.`, exitCodes.error);
  } finally {
    progress.pause();
    process.removeListener('SIGINT', onInterrupt);
  }
}

export async function readRun(client: ApiClient, runId: string): Promise<RunView> {
  const answer = await client.json<RunView>(
    'GET',
    `/api/agent-runs/${encodeURIComponent(runId)}`,
    `Reading run ${runId}`,
  );
  return answer.body;
}
