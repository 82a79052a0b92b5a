import { z } from 'zod';
import type { ActivityOutcome } from '../lib/errors';

/**
 * The schema of an `ActivityOutcome` carrying `value`: what an activity that returns outcomes sends
 * back. Discriminated on `ok`, then on `kind`, so an error names the field of the outcome that does not
 * fit rather than the whole union. Pure (zod only); no defaults or transforms.
 */
export function activityOutcomeSchema<T>(value: z.ZodType<T>): z.ZodType<ActivityOutcome<T>> {
  return z.discriminatedUnion('ok', [
    z.object({ ok: z.literal(true), value }),
    z.discriminatedUnion('kind', [
      z.object({
        ok: z.literal(false),
        kind: z.literal('permanent'),
        message: z.string(),
        status: z.number().int().optional(),
      }),
      z.object({
        ok: z.literal(false),
        kind: z.literal('rate-limited'),
        message: z.string(),
        retryAfterMs: z.number().min(0),
      }),
    ]),
  ]);
}
