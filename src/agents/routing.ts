import type { ModelTier } from '../contracts/model';

/**
 * Picks the model tier for a piece of work. Pure and deterministic, so orchestrators call it directly:
 * the same task always routes the same way on replay.
 *
 * `auto` sends short, single-step work to the fast model and anything that looks like reasoning,
 * several steps, or a long brief to the strong one. The thresholds are a cost trade-off, not a science;
 * a wrong `fast` costs quality, a wrong `strong` costs money.
 */
export type TierRequest = 'auto' | 'fast' | 'strong';

export interface RoutableTask {
  kind: string;
  text: string;
}

/** A brief longer than this (characters) is treated as complex on its own. */
export const longTaskChars = 1200;
/** This many complexity signals together route to the strong model. */
const strongScore = 2;

const reasoningWords =
  /\b(why|explain|analy[sz]e|analysis|compare|comparison|contrast|evaluate|assess|trade-?offs?|pros and cons|prove|proof|derive|justify|reason(?:ing)?|critique|design|architect(?:ure)?|strateg(?:y|ies)|plan|optimi[sz]e|debug|diagnose|root cause|implications?|recommend(?:ation)?s?)\b/gi;
const multiStepWords =
  /\b(then|after that|afterwards|next|finally|step[- ]by[- ]step|first(?:ly)?|second(?:ly)?|and also)\b/gi;

export function routeModel(tierRequest: TierRequest, task: RoutableTask): ModelTier {
  if (tierRequest !== 'auto') return tierRequest;
  return complexityScore(task) >= strongScore ? 'strong' : 'fast';
}

/** Counts independent signs that the task needs the strong model (exported for tests and tuning). */
export function complexityScore(task: RoutableTask): number {
  const text = task.text;
  let score = 0;
  if (text.length > longTaskChars) score += 2;
  else if (text.length > longTaskChars / 3) score += 1;

  const reasoning = new Set((text.match(reasoningWords) ?? []).map((w) => w.toLowerCase())).size;
  score += Math.min(reasoning, 2);

  const steps = (text.match(multiStepWords) ?? []).length;
  const numberedSteps = (text.match(/^\s*(?:\d+[.)]|[-*•])\s+/gm) ?? []).length;
  const questions = (text.match(/\?/g) ?? []).length;
  if (steps >= 2 || numberedSteps >= 3 || questions >= 3) score += 1;

  // Synthesis of several findings is the strong model's job; a lone tool call never is.
  if (task.kind === 'synthesis') score += 2;
  if (task.kind === 'tool') score -= 2;
  return score;
}
