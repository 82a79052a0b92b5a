import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import {
  budgetSpentPrefix,
  minCompletionTokens,
  type CallModelInput,
  type CallModelResult,
} from '../contracts/model';
import { entityNames } from '../names';
import { callModelDurably, type Durable, type StepResult } from './durable';

/** Where a model call's spend is recorded: the owner's quota entity, against one reservation. */
export interface SpendTarget {
  owner: string;
  reservationKey: string;
}

/** A share of a run's reservation that one orchestration may spend, prompt and completion included. */
export interface BudgetShare extends SpendTarget {
  tokens: number;
}

export type BudgetedResult = StepResult<CallModelResult> | { ok: false; budgetSpent: true; message: string };

/**
 * Tracks what one orchestration may still spend. Every call is bounded by what is left, and its usage
 * is recorded at the entity as soon as it returns (a one-way signal keyed by the instance and call
 * number, so a replay or a duplicate counts once), so a run stopped at any point has paid what it spent.
 */
export class TokenBudget {
  spent = 0;
  private calls = 0;

  constructor(
    private readonly context: OrchestrationContext,
    readonly share: BudgetShare,
  ) {}

  get left(): number {
    return Math.max(0, this.share.tokens - this.spent);
  }

  /** Records tokens spent elsewhere (a research agent) against this budget and the reservation. */
  record(tokens: number, label: string): void {
    this.spent += tokens;
    this.context.df.signalEntity(new df.EntityId(entityNames.tokenQuota, this.share.owner), 'spend', {
      runId: this.share.reservationKey,
      key: `${this.context.df.instanceId}:${label}`,
      tokens,
      now: this.context.df.currentUtcDateTime.toISOString(),
    });
  }

  *call(input: CallModelInput): Durable<BudgetedResult> {
    if (this.left < minCompletionTokens) {
      return { ok: false, budgetSpent: true, message: `${budgetSpentPrefix} ${this.left} tokens are left.` };
    }
    this.calls += 1;
    const label = `call-${this.calls}`;
    const result = yield* callModelDurably(this.context, { ...input, budgetTokens: this.left });
    if (result.ok) {
      this.record(result.value.usage.totalTokens, label);
      return result;
    }
    if (result.message.startsWith(budgetSpentPrefix))
      return { ok: false, budgetSpent: true, message: result.message };
    return result;
  }
}

export function isBudgetSpent(result: BudgetedResult): boolean {
  return !result.ok && 'budgetSpent' in result;
}
