import type { RunOutcome } from '../contracts/agentRun';
import type { Citation } from '../contracts/research';

/** Per-call completion cap, so one answer cannot spend the whole run's budget. */
export const maxTokensPerCall = 2000;

/** The answer on offer: its text and the sources its [n] markers number. */
export interface Draft {
  text: string;
  citations: Citation[];
}

/** What the approval made of the draft: the run's outcome, the deciding round, and the draft it approved. */
export interface ApprovalOutcome {
  outcome: RunOutcome;
  rounds: number;
  escalated: boolean;
  decision?: 'approve' | 'reject';
  by?: string;
  comment?: string;
  /** The id of the decision taken, as the approval endpoint made it. */
  decisionId?: string;
  message?: string;
  draft?: Draft;
}
