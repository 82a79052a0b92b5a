import { call } from './product';

/** One event of an instance's history, as the management API shows it (`showHistory=true`). */
export interface ShownHistoryEvent {
  EventType: string;
  Name?: string;
  FunctionName?: string;
  Result?: unknown;
}

/** The management URL of one instance on the devhost (its API is open locally). */
export function instanceUrl(baseUrl: string, instanceId: string): string {
  return `${baseUrl}/runtime/webhooks/durabletask/instances/${encodeURIComponent(instanceId)}`;
}

/** The instance's history through the management API, with results. */
export async function shownHistory(baseUrl: string, instanceId: string): Promise<ShownHistoryEvent[]> {
  const url = new URL(instanceUrl(baseUrl, instanceId));
  url.searchParams.set('showHistory', 'true');
  url.searchParams.set('showHistoryOutput', 'true');
  const status = await call<{ historyEvents?: ShownHistoryEvent[] }>(url.href);
  if (status.status !== 200 && status.status !== 202) {
    throw new Error(`history of ${instanceId}: ${status.status} ${JSON.stringify(status.body)}`);
  }
  return status.body.historyEvents ?? [];
}

/** Raises an event around the product, as anyone with the management API (or the system key) can. */
export async function raiseAround(
  baseUrl: string,
  instanceId: string,
  eventName: string,
  body: unknown,
): Promise<number> {
  const response = await call(
    `${instanceUrl(baseUrl, instanceId)}/raiseEvent/${encodeURIComponent(eventName)}`,
    {
      body,
    },
  );
  return response.status;
}

/** How many events of each type a history holds. */
export function countByType(history: readonly ShownHistoryEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of history) counts[event.EventType] = (counts[event.EventType] ?? 0) + 1;
  return counts;
}

/** The event name a run waits on for this round, from its `approvalChannel` activity's recorded result. */
export function approvalChannelOf(history: readonly ShownHistoryEvent[], round = 0): string {
  const names = history
    .filter((e) => e.EventType === 'TaskCompleted' && e.FunctionName === 'approvalChannel')
    .map((e) => (e.Result as { eventName?: unknown } | undefined)?.eventName);
  const name = names[round];
  if (typeof name !== 'string') throw new Error(`no approval channel for round ${round} in the history`);
  return name;
}
