import type { Citation } from '../contracts/research';

/** Per-call completion cap, so one answer cannot spend the whole run's budget. */
export const maxTokensPerCall = 2000;

/** The answer on offer: its text and the sources its [n] markers number. */
export interface Draft {
  text: string;
  citations: Citation[];
}
