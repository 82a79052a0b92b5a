import { setTimeout as sleep } from 'node:timers/promises';
import { nonNegative, type Fault, type FaultRequest } from './fault';

/**
 * The fault "the service is slow": the answer (the real one, or another fault's) waits `delayMs` more,
 * on top of the emulator's latency. Asked for with POST /_emulator/faults {"delayMs": n}.
 */

export function checkDelay(body: FaultRequest): string | undefined {
  const { delayMs } = body;
  if (delayMs !== undefined && !nonNegative(delayMs)) {
    return `"delayMs" must be a number of milliseconds, 0 or more, got ${JSON.stringify(delayMs)}.`;
  }
  return undefined;
}

/** Waits the emulator's latency plus the fault's delay. */
export async function delayAnswer(latencyMs: number, fault: Fault | undefined): Promise<void> {
  const delay = latencyMs + (fault?.delayMs ?? 0);
  // Unreferenced: a held answer must not keep the process alive once the emulators are stopped.
  if (delay > 0) await sleep(delay, undefined, { ref: false });
}
