import { app, type InvocationContext, type Timer } from '@azure/functions';
import * as df from 'durable-functions';
import type { AppClients } from '../clients';
import type { AppConfig } from '../config';
import { cancelAgentRun, cancelDepsFor, type CancelDeps } from '../lifecycle/cancel';
import { orchestratorNames } from '../names';
import { beginReconcilerPass } from '../runIndex/reconcilerPass';
import type { RunIndex } from '../runIndex/table';

/** Reconciler function name; the devhost runs it on demand at POST /admin/functions/reconcileReservations. */
export const reconcileFunctionName = 'reconcileReservations';

/** Every five minutes: a run ended behind the product's back holds its reservation at most this long. */
const schedule = '0 */5 * * * *';

/**
 * Releases the reservations of runs that ended without settling: a raw terminate through the management
 * API, or a run that failed where its own clean-up could not run. Every run that ended abnormally gets a
 * `settle` signal; settling is idempotent, so a run that settled itself is left as it was, and what its
 * calls spent (recorded call by call) stays counted. A raw-terminated run also gets its run span here
 * (outcome `terminated`), through the same cancellation code, once: the span is claimed first
 * (src/telemetry/runSpanClaim.ts).
 *
 * Which runs a pass looks at comes from the run index (src/runIndex/reconcilerPass.ts): the runs it has
 * not seen end, that is those still going and those that ended since the last pass. Each run that ended
 * without settling is settled once and written down, and no later pass looks at it again.
 *
 * Why a timer and not the entity: an entity cannot ask for an orchestration's status, and signals into it
 * are the only thing it sees. A run purged right after a raw terminate, before the next tick, is not
 * found here; the product's purge settles before it purges.
 */
export async function reconcileReservations(
  client: df.DurableClient,
  index: RunIndex,
  now: Date,
  log: (message: string) => void,
  deps: Omit<CancelDeps, 'log'> = {},
): Promise<number> {
  const pass = await beginReconcilerPass(client, index, now, log);
  let signalled = 0;
  for (const status of pass.ended) {
    if (status.name !== orchestratorNames.agentRun) continue;
    // Its subtasks may still be running (a raw terminate does not stop them), and its research runs on
    // the Agent Service too: the product's cancellation stops them, counts their spend and then settles.
    const outcome = await cancelAgentRun(client, status.instanceId, 'the run ended without settling', {
      ...deps,
      log,
    });
    if (outcome.found) signalled += 1;
    await pass.settled(status);
  }
  await pass.finish();
  if (signalled > 0) log(`Reconciler: asked ${signalled} ended runs' reservations to settle.`);
  return signalled;
}

export function registerReconciler(config: AppConfig, clients: AppClients): void {
  const deps = cancelDepsFor(config, clients);
  app.timer(reconcileFunctionName, {
    schedule,
    extraInputs: [df.input.durableClient()],
    handler: async (_timer: Timer, context: InvocationContext) => {
      await reconcileReservations(
        df.getClient(context),
        clients.runIndex,
        new Date(),
        (m) => context.log(m),
        deps,
      );
    },
  });
}
