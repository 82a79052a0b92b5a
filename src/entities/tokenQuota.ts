import * as df from 'durable-functions';
import type { EntityContext, EntityHandler } from 'durable-functions';
import type { z } from 'zod';
import {
  commitInputSchema,
  getInputSchema,
  quotaOperations,
  releaseInputSchema,
  reserveInputSchema,
  setLimitInputSchema,
  settleInputSchema,
  spendInputSchema,
  type QuotaOperation,
  type QuotaSnapshot,
  type ReserveResult,
} from '../contracts/quota';
import { entityNames } from '../names';

/**
 * `tokenQuota`: one entity per user (key = user id) holding a monthly token budget.
 *
 * Operations run one at a time per entity, but a message may be delivered more than once, so every
 * operation is keyed by run id and safe to repeat:
 * - `reserve` grants only if used + reserved + tokens <= limit, so the tokens granted in a period never
 *   exceed the limit; a repeat for a run that holds a reservation returns that grant; a reserve for a
 *   run already committed or released is refused (`reason: 'closed'`), so a late duplicate cannot
 *   leave a reservation nobody will release.
 * - `commit` records the tokens actually spent, all of them, even beyond the reservation (the model
 *   may overshoot; spent is spent), removes the reservation, and remembers the run id so a repeat
 *   counts once, also across a period roll-over. A commit after a `release` still records the usage.
 * - `spend` moves the tokens one model call spent from the run's reservation to `used`, once per call key.
 *   Each call's max_tokens is bounded by what the reservation has left (prompt included), so `used`
 *   never passes the limit; a spend for a run that is already settled is ignored (the run was stopped).
 * - `settle` ends a run and every reservation keyed `<runId>:...`: spent stays, the rest is released.
 * - `release` drops a reservation without usage.
 * - `setLimit` sets an admin override; without one the configured default applies, so changing the
 *   app setting changes every user who has no override.
 *
 * The period is the UTC calendar month of the `now` each operation carries (the orchestration's clock),
 * never the entity's own clock. A `now` before the current period does not roll it back. At a roll-over
 * usage restarts at 0; open reservations carry over (their runs are still going and will commit into
 * the new period) unless they were made before the previous period began (their runs are long gone).
 */

/** A reservation a run holds until it commits or releases. */
export interface QuotaReservation {
  runId: string;
  /** What is still held: the grant minus what has been spent against it. */
  tokens: number;
  /** Tokens spent against this reservation so far (already in `used`). Absent in older states. */
  spent?: number;
  /** The spend keys already counted, so a repeated `spend` counts once. */
  keys?: string[];
  /** The caller's clock when granted. */
  at: string;
}

/** A run id that has committed (tokensUsed) or released (null); repeats are recognised by it. */
export interface ClosedRun {
  runId: string;
  tokensUsed: number | null;
  at: string;
}

/** JSON only: this is what the durable store keeps. Arrays, not maps, so no run id can be `__proto__`. */
export interface TokenQuotaState {
  version: 1;
  /** Set by an admin; null means the configured default. */
  limitOverride: number | null;
  /** The last limit change, so the endpoint that signalled it can tell when it has been applied. */
  lastLimitChange: {
    requestId: string | null;
    setBy: string | null;
    monthlyTokenLimit: number;
    at: string;
  } | null;
  /** Start of the current period (a UTC month), ISO. */
  periodStart: string;
  /** Tokens committed in the current period. */
  used: number;
  reservations: QuotaReservation[];
  /** Runs closed in this period and the previous one, newest last, at most `maxClosedRuns`. */
  closed: ClosedRun[];
}

/** Duplicates arrive close to their original; this keeps a very busy user's state under ~200 KB. */
export const maxClosedRuns = 2000;

/** Thrown for invalid operations. Serialises to its message, which is what reaches an awaiting orchestrator. */
export class QuotaOperationError extends Error {
  override readonly name = 'QuotaOperationError';
  toJSON(): string {
    return `${this.name}: ${this.message}`;
  }
}

export function tokenQuotaEntityId(userId: string): df.EntityId {
  return new df.EntityId(entityNames.tokenQuota, userId);
}

export function periodStartOf(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

export function periodEndOf(periodStart: Date): Date {
  return new Date(Date.UTC(periodStart.getUTCFullYear(), periodStart.getUTCMonth() + 1, 1));
}

function previousPeriodStart(periodStart: Date): Date {
  return new Date(Date.UTC(periodStart.getUTCFullYear(), periodStart.getUTCMonth() - 1, 1));
}

export function emptyQuotaState(now: Date): TokenQuotaState {
  return {
    version: 1,
    limitOverride: null,
    lastLimitChange: null,
    periodStart: periodStartOf(now).toISOString(),
    used: 0,
    reservations: [],
    closed: [],
  };
}

/** The state as it stands at `now`: rolled into the period of `now` if that is later. Pure. */
export function rollOver(state: TokenQuotaState, now: Date): TokenQuotaState {
  const current = Date.parse(state.periodStart);
  const next = periodStartOf(now);
  if (next.getTime() <= current) return state;
  const keepSince = previousPeriodStart(next).getTime();
  return {
    ...state,
    periodStart: next.toISOString(),
    used: 0,
    reservations: state.reservations.filter((r) => Date.parse(r.at) >= keepSince),
    closed: state.closed.filter((c) => Date.parse(c.at) >= keepSince),
  };
}

export function quotaSnapshot(
  state: TokenQuotaState | undefined,
  userId: string,
  now: Date,
  defaultMonthlyTokens: number,
): QuotaSnapshot {
  const rolled = rollOver(state ? readState(state, now) : emptyQuotaState(now), now);
  return snapshotOf(rolled, userId, defaultMonthlyTokens);
}

function snapshotOf(state: TokenQuotaState, userId: string, defaultMonthlyTokens: number): QuotaSnapshot {
  const monthlyTokenLimit = state.limitOverride ?? defaultMonthlyTokens;
  const reserved = state.reservations.reduce((sum, r) => sum + r.tokens, 0);
  const start = new Date(state.periodStart);
  return {
    userId,
    monthlyTokenLimit,
    used: state.used,
    reserved,
    remaining: Math.max(0, monthlyTokenLimit - state.used - reserved),
    periodStart: start.toISOString(),
    periodEnd: periodEndOf(start).toISOString(),
  };
}

export type QuotaOperationResult = QuotaSnapshot | ReserveResult;

/**
 * The entity's logic as a pure function: the state after `operation` and what the operation returns.
 * Throws `QuotaOperationError` for an unknown operation or invalid input, leaving the state unchanged.
 */
export function applyQuotaOperation(
  state: TokenQuotaState | undefined,
  operation: string,
  input: unknown,
  context: { userId: string; defaultMonthlyTokens: number },
): { state: TokenQuotaState; result: QuotaOperationResult } {
  if (!isQuotaOperation(operation)) {
    throw new QuotaOperationError(
      `tokenQuota has no operation "${operation}"; use one of ${quotaOperations.join(', ')}.`,
    );
  }
  const snapshot = (s: TokenQuotaState) => snapshotOf(s, context.userId, context.defaultMonthlyTokens);
  const at = (now: string) => new Date(now);
  const start = (now: string) =>
    rollOver(state ? readState(state, at(now)) : emptyQuotaState(at(now)), at(now));

  switch (operation) {
    case 'get': {
      const { now } = parse(getInputSchema, operation, input);
      const next = start(now);
      return { state: next, result: snapshot(next) };
    }
    case 'reserve': {
      const { runId, tokens, now } = parse(reserveInputSchema, operation, input);
      const current = start(now);
      if (current.reservations.some((r) => r.runId === runId)) {
        return { state: current, result: { granted: true, quota: snapshot(current) } };
      }
      if (current.closed.some((c) => c.runId === runId)) {
        return { state: current, result: { granted: false, reason: 'closed', quota: snapshot(current) } };
      }
      const before = snapshot(current);
      if (before.used + before.reserved + tokens > before.monthlyTokenLimit) {
        return { state: current, result: { granted: false, reason: 'insufficient', quota: before } };
      }
      const next = { ...current, reservations: [...current.reservations, { runId, tokens, at: now }] };
      return { state: next, result: { granted: true, quota: snapshot(next) } };
    }
    case 'spend': {
      const { runId, key, tokens, now } = parse(spendInputSchema, operation, input);
      const current = start(now);
      const held = current.reservations.find((r) => r.runId === runId);
      if (!held || (held.keys ?? []).includes(key)) return { state: current, result: snapshot(current) };
      const next: TokenQuotaState = {
        ...current,
        used: current.used + tokens,
        reservations: current.reservations.map((r) =>
          r === held
            ? {
                ...r,
                tokens: Math.max(0, r.tokens - tokens),
                spent: (r.spent ?? 0) + tokens,
                keys: [...(r.keys ?? []), key],
              }
            : r,
        ),
      };
      return { state: next, result: snapshot(next) };
    }
    case 'settle': {
      const { runId, now } = parse(settleInputSchema, operation, input);
      const current = start(now);
      const ends = (r: QuotaReservation) => r.runId === runId || r.runId.startsWith(`${runId}:`);
      const ending = current.reservations.filter(ends);
      if (ending.length === 0) return { state: current, result: snapshot(current) };
      const next: TokenQuotaState = {
        ...current,
        reservations: current.reservations.filter((r) => !ends(r)),
        closed: capClosed([
          ...current.closed.filter((c) => !ending.some((r) => r.runId === c.runId)),
          ...ending.map((r) => ({ runId: r.runId, tokensUsed: r.spent ?? 0, at: now })),
        ]),
      };
      return { state: next, result: snapshot(next) };
    }
    case 'commit': {
      const { runId, tokensUsed, now } = parse(commitInputSchema, operation, input);
      const current = start(now);
      const closed = current.closed.find((c) => c.runId === runId);
      if (closed && closed.tokensUsed !== null) return { state: current, result: snapshot(current) };
      // Tokens already recorded by `spend` are not counted twice.
      const alreadySpent = current.reservations.find((r) => r.runId === runId)?.spent ?? 0;
      const next: TokenQuotaState = {
        ...current,
        used: current.used + Math.max(0, tokensUsed - alreadySpent),
        reservations: current.reservations.filter((r) => r.runId !== runId),
        closed: capClosed([
          ...current.closed.filter((c) => c.runId !== runId),
          { runId, tokensUsed, at: now },
        ]),
      };
      return { state: next, result: snapshot(next) };
    }
    case 'release': {
      const { runId, now } = parse(releaseInputSchema, operation, input);
      const current = start(now);
      if (current.closed.some((c) => c.runId === runId)) return { state: current, result: snapshot(current) };
      const next: TokenQuotaState = {
        ...current,
        reservations: current.reservations.filter((r) => r.runId !== runId),
        closed: capClosed([...current.closed, { runId, tokensUsed: null, at: now }]),
      };
      return { state: next, result: snapshot(next) };
    }
    case 'setLimit': {
      const { monthlyTokenLimit, now, requestId, setBy } = parse(setLimitInputSchema, operation, input);
      const current = start(now);
      const next: TokenQuotaState = {
        ...current,
        limitOverride: monthlyTokenLimit,
        lastLimitChange: { requestId: requestId ?? null, setBy: setBy ?? null, monthlyTokenLimit, at: now },
      };
      return { state: next, result: snapshot(next) };
    }
  }
}

/** The durable entity: a thin shell around `applyQuotaOperation`. */
export function createTokenQuotaEntity(deps: {
  defaultMonthlyTokens: number;
}): EntityHandler<TokenQuotaState> {
  return (context: EntityContext<TokenQuotaState>) => {
    const operation = context.df.operationName ?? '';
    const { state, result } = applyQuotaOperation(
      context.df.getState(),
      operation,
      context.df.getInput<unknown>(),
      {
        userId: context.df.entityKey,
        defaultMonthlyTokens: deps.defaultMonthlyTokens,
      },
    );
    context.df.setState(state);
    context.df.return(result);
  };
}

function isQuotaOperation(name: string): name is QuotaOperation {
  return (quotaOperations as readonly string[]).includes(name);
}

function parse<T>(schema: z.ZodType<T>, operation: QuotaOperation, input: unknown): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => i.message).join('; ');
  throw new QuotaOperationError(`tokenQuota.${operation} got invalid input (${problems}).`);
}

function capClosed(closed: ClosedRun[]): ClosedRun[] {
  return closed.length > maxClosedRuns ? closed.slice(closed.length - maxClosedRuns) : closed;
}

/**
 * The stored state, checked. A state this code cannot read (a future or damaged version) restarts the
 * period's bookkeeping rather than blocking the user forever, but keeps an admin's limit if it can.
 */
function readState(stored: TokenQuotaState, now: Date): TokenQuotaState {
  const s = stored as Partial<TokenQuotaState> | null;
  if (
    s !== null &&
    typeof s === 'object' &&
    s.version === 1 &&
    typeof s.periodStart === 'string' &&
    !Number.isNaN(Date.parse(s.periodStart)) &&
    typeof s.used === 'number' &&
    Array.isArray(s.reservations) &&
    Array.isArray(s.closed)
  ) {
    return {
      ...s,
      lastLimitChange: s.lastLimitChange ?? null,
      limitOverride: s.limitOverride ?? null,
    } as TokenQuotaState;
  }
  const override =
    s !== null && typeof s === 'object' && typeof s.limitOverride === 'number' ? s.limitOverride : null;
  return { ...emptyQuotaState(now), limitOverride: override };
}
