import * as df from 'durable-functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { checked } from '../contracts/orchestrations';
import { reserveResultSchema, type ReserveResult } from '../contracts/quota';
import { entityNames } from '../names';
import type { Durable } from './durable';

/**
 * Token reservations, for every orchestration that reserves: the run (its key is the run id) and each
 * revision (`revisionReservationKey`). A reservation holds tokens at the owner's `tokenQuota` entity
 * (src/entities/tokenQuota.ts) before any model call; calls spend against it (TokenBudget in
 * ./budget.ts); settling it once the work is done keeps what was spent and gives the rest back.
 */

/** The owner's quota entity, which holds every reservation of that owner. */
export function quotaEntity(owner: string): df.EntityId {
  return new df.EntityId(entityNames.tokenQuota, owner);
}

/** Reserves `tokens` under `key`; the answer says whether they were granted and what the quota is. */
export function* reserveTokens(
  context: OrchestrationContext,
  quota: df.EntityId,
  key: string,
  tokens: number,
  what: string,
): Durable<ReserveResult> {
  const now = context.df.currentUtcDateTime.toISOString();
  return checked(
    reserveResultSchema,
    yield context.df.callEntity(quota, 'reserve', { runId: key, tokens, now }),
    what,
  );
}

/** Settles the reservation `key` (yield the task): what was spent stays counted, the rest goes back. */
export function settleReservation(context: OrchestrationContext, quota: df.EntityId, key: string): Task {
  return context.df.callEntity(quota, 'settle', {
    runId: key,
    now: context.df.currentUtcDateTime.toISOString(),
  });
}
