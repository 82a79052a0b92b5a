/** Text the client prints for people: the answer with its citations, a run's state, the run list. Pure. */
import type { SubtaskResult } from '../../src/contracts/agentRun';
import type { ModelUsage } from '../../src/contracts/model';
import type { Citation } from '../../src/contracts/research';
import type { RunView as AppRunView } from '../../src/runView/view';

/**
 * The run view (`GET /api/agent-runs/{id}`, and the `end` event), typed by the app's own definition, so
 * a field the app renames or drops fails the CLI's build. Only `id` and `status` are sure to be there:
 * the client also shows views from servers older or newer than itself.
 */
export type RunView = Partial<AppRunView> & Pick<AppRunView, 'id' | 'status'>;

export interface RunListItem {
  id: string;
  status: string;
  stage?: string;
  createdTime?: string;
  usage?: ModelUsage;
  preview?: string;
}

const statusWords: Record<string, string> = {
  completed: 'Completed',
  rejected: 'Rejected',
  expired: 'Expired: nobody approved it before the deadline',
  failed: 'Failed',
  terminated: 'Cancelled',
  'quota-exceeded': 'Stopped: the token quota is too low',
  'budget-spent': 'Stopped: the run used up its token budget before the final answer',
  'awaiting-approval': 'Waiting for approval',
  running: 'Running',
};

export function describeStatus(status: string): string {
  return statusWords[status] ?? status;
}

export function formatUsage(usage: ModelUsage | undefined): string {
  if (!usage) return 'Usage: none recorded';
  return `Usage: ${usage.totalTokens} tokens (prompt ${usage.promptTokens}, completion ${usage.completionTokens})`;
}

/** `[1] Title - https://...`, numbered as the answer's `[n]` markers count them (from 1). */
export function formatCitations(citations: Citation[] | undefined): string[] {
  if (!citations || citations.length === 0) return [];
  return [
    'Citations:',
    ...citations.map((c, i) => `  [${i + 1}] ${oneLine(c.title) || c.url} - ${oneLine(c.url)}`),
  ];
}

/** The links a person follows: the run view and the approval page. */
export function formatLinks(links: RunView['links']): string[] {
  const out: string[] = [];
  if (links?.run) out.push(`Run:      ${links.run}`);
  if (links?.approval) out.push(`Approval: ${links.approval}`);
  return out;
}

/** A finished run: how it ended, the answer with numbered citations, failures, usage and links. */
export function formatResult(run: RunView): string {
  const lines = [`${describeStatus(run.status)} (run ${run.id})`];
  const decision = run.approvalDecision;
  if (decision?.required && decision.decision) {
    const rounds =
      decision.rounds > 0 ? ` after ${decision.rounds} revision${decision.rounds === 1 ? '' : 's'}` : '';
    const comment = decision.comment ? `: "${oneLine(decision.comment)}"` : '';
    lines.push(
      `${decision.decision === 'approve' ? 'Approved' : 'Rejected'} by ${decision.by ?? 'an approver'}${rounds}${comment}`,
    );
  }
  if (run.message) lines.push(stripControls(run.message));
  if (run.error) lines.push(`Error: ${stripControls(run.error)}`);
  if (run.answer) lines.push('', stripControls(run.answer).trimEnd(), '');
  lines.push(...formatCitations(run.citations));
  const failed = (run.subtasks ?? []).filter((s): s is SubtaskResult => 'ok' in s && s.ok === false);
  if (failed.length > 0) {
    lines.push(
      'Failed subtasks:',
      ...failed.map((s) => `  ${s.id} ${oneLine(s.title)}: ${oneLine(s.error ?? 'failed')}`),
    );
  }
  lines.push(formatUsage(run.usage));
  if (run.resultBlob) lines.push(`Result:   ${run.resultBlob}`);
  lines.push(...formatLinks(run.links));
  return lines.join('\n');
}

/** A run that goes on: its status, stage, progress and, while it waits, the draft on offer. */
export function formatRun(run: RunView): string {
  if (!['running', 'awaiting-approval'].includes(run.status)) return formatResult(run);
  const lines = [`${describeStatus(run.status)} (run ${run.id})`];
  lines.push(
    `Stage: ${run.stage ?? 'starting'}, subtasks ${run.progress?.done ?? 0}/${run.progress?.total ?? 0}`,
  );
  lines.push(formatUsage(run.usage));
  if (run.status === 'awaiting-approval' && run.approval) {
    lines.push('', ...formatDraft(run.approval), '');
    const round = `--round ${run.approval.round}`;
    lines.push(
      `Decide: npm run agent -- approve ${run.id} ${round} [--comment TEXT] | reject ${run.id} ${round} [--comment TEXT]`,
    );
  }
  lines.push(...formatLinks(run.links));
  return lines.join('\n');
}

/** The draft an approver decides on, with its citations and deadline. */
export function formatDraft(draft: {
  round: number;
  draftId?: unknown;
  draft?: unknown;
  citations?: unknown;
  deadline?: unknown;
}): string[] {
  const id = typeof draft.draftId === 'string' ? `, draft ${oneLine(draft.draftId)}` : '';
  const title = draft.round > 0 ? `Revised draft (round ${draft.round}${id})` : `Draft (round 0${id})`;
  const deadline = typeof draft.deadline === 'string' ? `, to decide before ${draft.deadline}` : '';
  const text =
    typeof draft.draft === 'string' ? stripControls(draft.draft).trimEnd() : '(the draft could not be read)';
  const citations = Array.isArray(draft.citations) ? (draft.citations as Citation[]) : [];
  const cited = formatCitations(citations);
  return [`${title}${deadline}:`, '', text, ...(cited.length > 0 ? ['', ...cited] : [])];
}

/** The run list as aligned columns. */
export function formatList(items: RunListItem[], next?: string | null): string {
  if (items.length === 0) return 'No runs.';
  const rows = items.map((r) => [
    r.id,
    r.status,
    r.createdTime ?? '',
    String(r.usage?.totalTokens ?? 0),
    oneLine(r.preview ?? '').slice(0, 60),
  ]);
  const header = ['ID', 'STATUS', 'CREATED', 'TOKENS', 'PROMPT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (next) out.push('', `More: npm run agent -- list --next ${next}`);
  return out.join('\n');
}

/** Model text on one line, without control characters that could move the terminal's cursor. */
export function oneLine(text: string): string {
  return stripControls(text).replace(/\s+/g, ' ').trim();
}

/**
 * Removes control characters but newlines and tabs: model output reaches a terminal here, and without
 * ESC, BEL or a carriage return it cannot clear the screen, retitle the window or overwrite a line.
 */
export function stripControls(text: string): string {
  return text.replace(/(?![\n\t])\p{Cc}/gu, '');
}
