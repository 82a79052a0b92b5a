import { z } from 'zod';

/**
 * The `tokenQuota` entity's operations and the quota endpoints' bodies. Pure (zod only): orchestrators
 * import it.
 *
 * Every operation carries `now`, the caller's clock (the orchestration's `currentUtcDateTime`): the
 * monthly period rolls over by that time, never by the entity's own clock, so replays and duplicate
 * deliveries see the same period.
 */

/** What a user's quota looks like at one moment; the period is a UTC calendar month. */
export interface QuotaSnapshot {
  userId: string;
  monthlyTokenLimit: number;
  used: number;
  reserved: number;
  /** limit - used - reserved, never below 0 (usage may overshoot a reservation). */
  remaining: number;
  periodStart: string;
  periodEnd: string;
}

export const quotaSnapshotSchema: z.ZodType<QuotaSnapshot> = z.object({
  userId: z.string(),
  monthlyTokenLimit: z.number().int().min(0),
  used: z.number().int().min(0),
  reserved: z.number().int().min(0),
  remaining: z.number().int().min(0),
  periodStart: z.string(),
  periodEnd: z.string(),
});

/** Largest monthly limit an admin may set: well above any real budget, far below float trouble. */
export const maxMonthlyTokenLimit = 10_000_000_000;

/** Longest reservation key: run ids are at most 64 characters, revisions add a suffix. */
export const maxReservationKeyChars = 200;

const reservationKey = z
  .string({ error: 'runId must be a string' })
  .min(1, { error: 'runId must not be empty' })
  .max(maxReservationKeyChars, { error: `runId must be at most ${maxReservationKeyChars} characters` });

const isoInstant = z
  .string({
    error: 'now must be an ISO 8601 time string, such as context.df.currentUtcDateTime.toISOString()',
  })
  .refine((value) => !Number.isNaN(Date.parse(value)), {
    error: 'now must be an ISO 8601 time string, such as context.df.currentUtcDateTime.toISOString()',
  });

const tokenCount = (what: string, min: 0 | 1) =>
  z
    .number({ error: `${what} must be a whole number of tokens` })
    .int({ error: `${what} must be a whole number of tokens` })
    .min(min, { error: `${what} must be at least ${min}` })
    .max(maxMonthlyTokenLimit, { error: `${what} must be at most ${maxMonthlyTokenLimit}` });

export interface ReserveInput {
  runId: string;
  tokens: number;
  /** ISO: the orchestration's clock. */
  now: string;
}
export const reserveInputSchema = z.object({
  runId: reservationKey,
  tokens: tokenCount('tokens', 1),
  now: isoInstant,
});

export interface ReserveResult {
  granted: boolean;
  quota: QuotaSnapshot;
  /** Why a reserve was refused: not enough room, or the run id was already committed or released. */
  reason?: 'insufficient' | 'closed';
}
/** The entity's reply to `reserve`, as the orchestrators read it from their history. */
export const reserveResultSchema: z.ZodType<ReserveResult> = z.object({
  granted: z.boolean(),
  quota: quotaSnapshotSchema,
  reason: z.enum(['insufficient', 'closed']).optional(),
});

/** Records real usage once per runId and releases the rest of that run's reservation. */
export interface CommitInput {
  runId: string;
  tokensUsed: number;
  now: string;
}
export const commitInputSchema = z.object({
  runId: reservationKey,
  tokensUsed: tokenCount('tokensUsed', 0),
  now: isoInstant,
});

export interface ReleaseInput {
  runId: string;
  now: string;
}
export const releaseInputSchema = z.object({ runId: reservationKey, now: isoInstant });

/**
 * Tokens one model call spent, recorded as soon as the call returns so that a run stopped at any point
 * has already paid for what it spent. `key` names the call (the instance and its call number), so a
 * repeated delivery counts once. The tokens move from the run's reservation to `used`.
 */
export interface SpendInput {
  runId: string;
  key: string;
  tokens: number;
  now: string;
}
export const spendInputSchema = z.object({
  runId: reservationKey,
  key: z
    .string()
    .min(1)
    .max(maxReservationKeyChars * 2),
  tokens: tokenCount('tokens', 0),
  now: isoInstant,
});

/**
 * Ends a run's bookkeeping: what it spent stays in `used`, the rest of its reservation (and of every
 * reservation keyed `<runId>:...`, such as its revisions) goes back to the user. Safe to repeat.
 */
export interface SettleInput {
  runId: string;
  now: string;
}
export const settleInputSchema = z.object({ runId: reservationKey, now: isoInstant });

export interface GetInput {
  now: string;
}
export const getInputSchema = z.object({ now: isoInstant });

export interface SetLimitInput {
  monthlyTokenLimit: number;
  now: string;
  /** Lets the caller see when its change has been applied (the quota endpoint polls for it). */
  requestId?: string;
  /** Who asked, for the record kept in the state. */
  setBy?: string;
}
export const setLimitInputSchema = z.object({
  monthlyTokenLimit: tokenCount('monthlyTokenLimit', 1),
  now: isoInstant,
  requestId: z.string().max(100).optional(),
  setBy: z.string().max(256).optional(),
});

/** The body of `PUT /api/quota/{userId}`. */
export const setQuotaLimitBodySchema = z.strictObject({
  monthlyTokenLimit: z
    .number({
      error: (issue) =>
        issue.input === undefined
          ? 'is required and must be a whole number of tokens'
          : 'must be a whole number of tokens',
    })
    .int({ error: 'must be a whole number of tokens' })
    .positive({ error: 'must be greater than 0' })
    .max(maxMonthlyTokenLimit, { error: `must be at most ${maxMonthlyTokenLimit}` }),
});
export type SetQuotaLimitBody = z.output<typeof setQuotaLimitBodySchema>;

/** The operations the entity understands, by name. */
export const quotaOperations = [
  'reserve',
  'spend',
  'settle',
  'commit',
  'release',
  'get',
  'setLimit',
] as const;
export type QuotaOperation = (typeof quotaOperations)[number];
