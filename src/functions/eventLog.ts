import type { HttpRequest } from '@azure/functions';
import type { ContainerClient } from '@azure/storage-blob';
import type { DurableOrchestrationStatus } from 'durable-functions';
import type { AgentRunStatus } from '../contracts/agentRun';
import { agentRunStatusSchema, fitting } from '../contracts/orchestrations';
import { latestAnswerBlob, readAnswerFrom, statusOf } from '../lib/answerBlobs';
import { eventLogBlobName } from '../names';
import { approversNow, isFinished, runView } from '../runView/view';

/**
 * The run's event log: what `GET /api/agent-runs/{id}/events` sends, held in an append blob
 * (`<results>/<runId>/events.jsonl`) so that a client reconnecting with `Last-Event-ID` gets exactly
 * the events it missed, in order, with no duplicate and no gap, whichever host instance it reaches and
 * even after a restart.
 *
 * Why here and not in the orchestration: the orchestrator publishes only its custom status (kept under
 * 4 KB), subtask progress comes from the children's statuses, and the answer's text from its blob;
 * none of them is a history of changes. So the streams that watch a run write the history: a stream
 * compares what it sees (the status, the children, the answer blob) with the log's last facts, and
 * appends the events for the difference as one line, at the position where it read the log's end
 * (`appendPosition`). When another stream appended first, the append is refused, the stream reads
 * the new lines (and sends them), and compares again. Every stream therefore sends the same events with
 * the same ids: 1, 2, 3, ... in the order of the log. Changes nobody watched are summed up by the first
 * stream that looks (the stage it finds, not each one it missed), and an answer written while nobody
 * watched is not replayed as deltas: its `draft` or `end` event carries the whole text.
 *
 * Each line is `{"events": [{id, event, data}], "facts": {...}}`: the facts are what the run looked like
 * after those events, the ground the next comparison stands on.
 */

export interface RunEvent {
  event: string;
  data: Record<string, unknown>;
}

export interface LoggedEvent extends RunEvent {
  id: number;
}

/** What the events describe, in a compact form; the last line's facts are the log's state. */
export interface RunFacts {
  /** The status's lastUpdatedTime (ms): a stream that saw an older status does not write. */
  updated: number;
  stage: string | null;
  status: string;
  subtasks: { id: string; kind: string; title: string; state: string }[];
  usageTotal: number;
  approval?: { round: number; escalated: boolean };
  deliveries: number;
  finished: boolean;
  /** The newest draft round offered so far (kept when the run moves on), so a revision knows its round. */
  draftRound?: number;
  /** How far the answer's text has been logged: the round, the attempt and the byte offset in its blob. */
  answer?: { round: number; attempt: number; offset: number };
}

/** Stages in which an answer is being written to its blob. */
const answerStages = new Set(['synthesizing', 'revising']);
/** How often a stream with nothing to write looks for lines other streams wrote. */
const recheckMs = 1000;
/** Tries at appending before a stream gives up on this look (another stream keeps the log going). */
const appendTries = 4;

export class RunEventLog {
  private committed = 0;
  private lastSeq = 0;
  private facts: RunFacts | undefined;
  private carry = '';
  private ready: Promise<unknown> | undefined;
  private readAt = 0;

  constructor(
    private readonly container: ContainerClient,
    private readonly runId: string,
  ) {}

  get blobName(): string {
    return eventLogBlobName(this.runId);
  }

  /** The id of the last event in the log as far as this stream has read it. */
  get lastId(): number {
    return this.lastSeq;
  }

  /** The run is writing an answer, so a stream looks more often to pass its text on quickly. */
  get writingAnswer(): boolean {
    return answerStages.has(this.facts?.stage ?? '');
  }

  get ended(): boolean {
    return this.facts?.finished === true;
  }

  /** Reads the lines appended since the last read (all of them the first time). */
  async read(): Promise<LoggedEvent[]> {
    this.readAt = Date.now();
    const blob = this.container.getAppendBlobClient(this.blobName);
    let size: number;
    try {
      size = (await blob.getProperties()).contentLength ?? 0;
    } catch (error) {
      if (statusOf(error) === 404) return [];
      throw error;
    }
    if (size <= this.committed) return [];
    const bytes = await blob.downloadToBuffer(this.committed, size - this.committed);
    this.committed += bytes.length;
    const text = this.carry + bytes.toString('utf8');
    const lines = text.split('\n');
    // Appends are whole lines, so only a read racing an append could end mid-line; keep that part.
    this.carry = lines.pop() ?? '';
    const out: LoggedEvent[] = [];
    for (const line of lines) {
      if (line.trim() === '') continue;
      const record = JSON.parse(line) as { events: LoggedEvent[]; facts: RunFacts };
      out.push(...record.events);
      this.facts = record.facts;
      this.lastSeq = record.events.at(-1)?.id ?? this.lastSeq;
    }
    return out;
  }

  /**
   * Compares the run as seen now with the log, appends the difference, and answers every event that
   * entered the log meanwhile (written here or by another stream), in log order.
   */
  async observe(request: HttpRequest, status: DurableOrchestrationStatus): Promise<LoggedEvent[]> {
    const out: LoggedEvent[] = [];
    for (let tries = 0; tries < appendTries; tries++) {
      const now = factsOf(status);
      const before = this.facts;
      if (before && now.updated < before.updated) return out;
      const answer = await this.answerChanges(before, now);
      const merged: RunFacts = { ...mergeFacts(before, now), ...(answer.at ? { answer: answer.at } : {}) };
      // The text of a stage that is ending comes before the next stage's events; the text of a stage
      // that is starting comes after its stage event.
      const changes = diffFacts(request, before, merged, status);
      const events = answerStages.has(before?.stage ?? '')
        ? [...answer.events, ...changes]
        : [...changes, ...answer.events];
      if (events.length === 0) {
        // Nothing new in this stream's view, but another stream may have seen more (a child's end that
        // this stream's read missed): its lines are picked up at least once a second.
        if (Date.now() - this.readAt >= recheckMs) out.push(...(await this.read()));
        return out;
      }
      const logged = events.map((e, i) => ({ id: this.lastSeq + 1 + i, ...e }));
      const line = `${JSON.stringify({ events: logged, facts: merged })}\n`;
      if (await this.append(line)) {
        this.lastSeq += logged.length;
        this.facts = merged;
        out.push(...logged);
        return out;
      }
      // Another stream wrote first: take its lines, then compare again.
      out.push(...(await this.read()));
    }
    return out;
  }

  private async append(line: string): Promise<boolean> {
    const blob = this.container.getAppendBlobClient(this.blobName);
    this.ready ??= (async () => {
      await this.container.createIfNotExists();
      await blob.createIfNotExists({ blobHTTPHeaders: { blobContentType: 'application/x-ndjson' } });
    })().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    await this.ready;
    const length = Buffer.byteLength(line);
    try {
      await blob.appendBlock(line, length, { conditions: { appendPosition: this.committed } });
    } catch (error) {
      // 412: the log is longer than this stream read (AppendPositionConditionNotMet).
      if (statusOf(error) === 412) return false;
      throw error;
    }
    this.committed += length;
    return true;
  }

  /**
   * The answer's new text, while a stage writes it and at the look that sees the stage end (the blob
   * is complete by then), before any event of the next stage. A newer attempt at the same round starts
   * over with `answer.reset`.
   */
  private async answerChanges(
    before: RunFacts | undefined,
    now: RunFacts,
  ): Promise<{ events: RunEvent[]; at?: RunFacts['answer'] }> {
    const stage = answerStages.has(now.stage ?? '') ? now.stage : before?.stage;
    if (!answerStages.has(stage ?? '')) return { events: [] };
    const latest = await latestAnswerBlob(this.container, this.runId);
    // Only the round this stage writes: the synthesis is round 0, a revision the round after the last
    // draft (until its blob exists, the newest blob is an earlier round's, already shown as a draft).
    const round = stage === 'synthesizing' ? 0 : (before?.draftRound ?? 0) + 1;
    if (!latest || (stage === 'synthesizing' ? latest.round !== 0 : latest.round < round))
      return { events: [] };
    const known = before?.answer;
    if (
      known &&
      (latest.round < known.round || (latest.round === known.round && latest.attempt < known.attempt))
    )
      return { events: [] };
    const events: RunEvent[] = [];
    let offset = 0;
    if (known && known.round === latest.round && known.attempt === latest.attempt) offset = known.offset;
    else if (known && known.round === latest.round) {
      events.push({ event: 'answer.reset', data: { round: latest.round, attempt: latest.attempt } });
    }
    const read = await readAnswerFrom(this.container, latest.name, offset);
    if (read.text !== '') {
      events.push({
        event: 'answer.delta',
        data: { round: latest.round, attempt: latest.attempt, offset, text: read.text },
      });
    }
    const at = { round: latest.round, attempt: latest.attempt, offset: read.end };
    return { events, at };
  }
}

function customOf(status: DurableOrchestrationStatus): AgentRunStatus | undefined {
  return fitting(agentRunStatusSchema, status.customStatus);
}

export function factsOf(status: DurableOrchestrationStatus): RunFacts {
  const custom = customOf(status);
  const updated = new Date(status.lastUpdatedTime).getTime();
  const finished = isFinished(status);
  const approval = custom?.approval;
  return {
    updated: Number.isNaN(updated) ? 0 : updated,
    stage: custom?.stage ?? null,
    status: String(status.runtimeStatus),
    subtasks: (custom?.subtasks ?? []).map((s) => ({
      id: s.id,
      kind: s.kind,
      title: s.title,
      state: s.state,
    })),
    usageTotal: custom?.usage.totalTokens ?? 0,
    ...(approval && custom?.stage === 'awaiting-approval' && !finished
      ? { approval: { round: approval.round, escalated: approval.escalated } }
      : {}),
    ...(approval ? { draftRound: approval.round } : {}),
    deliveries: custom?.webhook?.deliveries.length ?? 0,
    finished,
  };
}

/** The facts after this look: a subtask that has ended stays ended, whatever a lagging read says. */
function mergeFacts(before: RunFacts | undefined, now: RunFacts): RunFacts {
  if (!before) return now;
  const ended = new Map(before.subtasks.filter((s) => s.state !== 'pending').map((s) => [s.id, s.state]));
  const subtasks = now.subtasks.map((s) => {
    const state = ended.get(s.id);
    return state && s.state === 'pending' ? { ...s, state } : s;
  });
  const draftRound = Math.max(before.draftRound ?? -1, now.draftRound ?? -1);
  return {
    ...now,
    subtasks,
    ...(draftRound >= 0 ? { draftRound } : {}),
    deliveries: Math.max(before.deliveries, now.deliveries),
    ...(before.answer ? { answer: before.answer } : {}),
  };
}

/** The events between the log's facts and the run now; with an empty log, the run's whole current state. */
function diffFacts(
  request: HttpRequest,
  before: RunFacts | undefined,
  now: RunFacts,
  status: DurableOrchestrationStatus,
): RunEvent[] {
  if (before?.finished) return [];
  const out: RunEvent[] = [];
  const view = runView(request, status);
  if (!before || before.stage !== now.stage || before.status !== now.status) {
    out.push({ event: 'stage', data: { stage: view.stage, status: view.status } });
  }
  const oldSubtasks = new Map((before?.subtasks ?? []).map((s) => [s.id, s.state]));
  for (const s of now.subtasks) {
    const old = oldSubtasks.get(s.id);
    const data = { id: s.id, kind: s.kind, title: s.title };
    if (old === undefined) out.push({ event: 'subtask', data: { ...data, state: 'started' } });
    if (s.state !== 'pending' && old !== s.state)
      out.push({ event: 'subtask', data: { ...data, state: s.state } });
  }
  if (!before || (before.usageTotal !== now.usageTotal && now.usageTotal > 0)) {
    out.push({ event: 'usage', data: { ...view.usage } });
  }
  const custom = customOf(status);
  const approval = custom?.approval;
  if (now.approval && approval) {
    if (!before?.approval || before.approval.round !== now.approval.round) {
      out.push({
        event: 'draft',
        data: {
          round: approval.round,
          ...(approval.draftId ? { draftId: approval.draftId } : {}),
          revision: approval.round > 0,
          draft: approval.draftPreview,
          citations: [],
          draftBlob: approval.draftBlob,
          deadline: approval.deadline,
          approvers: approversNow(status),
          escalated: approval.escalated,
          approvalUrl: view.links.approval,
        },
      });
    } else if (now.approval.escalated && !before.approval.escalated) {
      out.push({
        event: 'escalation',
        data: { round: approval.round, approvers: approversNow(status), deadline: approval.deadline },
      });
    }
  }
  for (const d of custom?.webhook?.deliveries.slice(before?.deliveries ?? 0) ?? []) {
    out.push({ event: 'webhook', data: { ...d } });
  }
  if (now.finished) {
    const { links, ...rest } = view;
    out.push({ event: 'end', data: { ...rest, links } });
  }
  return out;
}
