import { call, pollUntil, principalHeaders, startProduct, type JsonResponse, type Product } from './product';

/**
 * What the bad-input tables share: the product in appservice mode with small limits, a run of owner-1
 * waiting for approval, a snapshot of everything a bad request could change, and the problem+json check.
 */

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { field: string; message: string }[];
}

export interface BadInput {
  name: string;
  method?: string;
  path: () => string;
  headers?: Record<string, string>;
  /** A string or bytes are sent as they are; anything else as JSON. */
  body?: unknown;
  status: number;
  /** Must match the problem's detail or errors: what was wrong, by name. */
  says?: RegExp;
}

interface InstanceStatus {
  instanceId: string;
  runtimeStatus: string;
  lastUpdatedTime: string;
}

export const owner = principalHeaders('owner-1');
export const stranger = principalHeaders('mallory');
export const admin = principalHeaders('quota-admin', ['AgentRuns.Admin']);
export const maxBodyBytes = 4096;
export const maxPromptChars = 500;
export const json = { 'content-type': 'application/json' };
export const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

/** Users whose quotas every snapshot compares (VICTIM: user ids are case-sensitive). */
const watchedUsers = ['owner-1', 'mallory', 'quota-admin', 'victim', 'VICTIM'];

/** Starts the product as in Azure (AUTH_MODE=appservice) and a run of owner-1 that waits for approval. */
export async function startWithWaitingRun(
  approval: Record<string, unknown> = {},
): Promise<{ product: Product; waitingRunId: string }> {
  const product = await startProduct({
    env: {
      AUTH_MODE: 'appservice',
      RUN_MAX_BODY_BYTES: String(maxBodyBytes),
      RUN_MAX_PROMPT_CHARS: String(maxPromptChars),
    },
  });
  try {
    const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
      body: { prompt: 'What is 2 + 2?', approval: { required: true, timeoutMinutes: 60, ...approval } },
      headers: owner,
    });
    if (started.status !== 202) throw new Error(`starting the waiting run answered ${started.status}`);
    const waitingRunId = started.body.runId;
    await pollUntil(
      () => call<{ status: string }>(`${product.baseUrl}/api/agent-runs/${waitingRunId}`, { headers: owner }),
      (r) => r.status === 200 && r.body.status === 'awaiting-approval',
    );
    return { product, waitingRunId };
  } catch (error) {
    await product.stop();
    throw error;
  }
}

interface HistoryEvent {
  EventType: string;
  Name?: string;
}

/**
 * Makes sure whatever a request that was just answered had queued has been applied: a marker goes down
 * each queue a request can reach (each watched user's quota entity, the waiting run's events) after the
 * answer, and the barrier waits until every marker shows. Anything the request queued came before it.
 */
export async function barrier(product: Product, waitingRunId: string): Promise<void> {
  const durable = `${product.baseUrl}/runtime/webhooks/durabletask`;
  const marker = `barrier-${Date.now()}-${Math.random().toString(16).slice(2)}`;
  const entity = (user: string) => `${durable}/entities/tokenQuota/${encodeURIComponent(user)}`;
  const now = new Date().toISOString();
  for (const user of watchedUsers) {
    const sent = await call(`${entity(user)}?op=release`, { body: { runId: marker, now } });
    if (sent.status !== 202) throw new Error(`the barrier signal to ${user} answered ${sent.status}`);
  }
  const run = await call<{ runtimeStatus: string }>(`${durable}/instances/${waitingRunId}`);
  const running = run.body.runtimeStatus === 'Running';
  if (running) {
    // An event the run does not wait for: it is recorded in the history, and decides nothing.
    const raised = await call(`${durable}/instances/${waitingRunId}/raiseEvent/${marker}`, { body: {} });
    if (raised.status !== 202) throw new Error(`the barrier event answered ${raised.status}`);
  }
  await pollUntil(
    async () => {
      const entities = await Promise.all(
        watchedUsers.map((user) => call<{ closed?: { runId: string }[] }>(entity(user))),
      );
      const history = running ? await historyOf(product, waitingRunId) : [];
      return (
        entities.every((e) => e.body.closed?.some((c) => c.runId === marker)) &&
        (!running || history.some((e) => e.EventType === 'EventRaised' && e.Name === marker))
      );
    },
    (done) => done,
  );
}

async function historyOf(product: Product, runId: string): Promise<HistoryEvent[]> {
  const status = await call<{ historyEvents?: HistoryEvent[] }>(
    `${product.baseUrl}/runtime/webhooks/durabletask/instances/${runId}?showHistory=true`,
  );
  return status.body.historyEvents ?? [];
}

/**
 * Everything a bad request could change, read after a barrier: the instances, the waiting run's history,
 * everyone's quota and the owner's run list. The barrier's own traces (its events and the episodes that
 * took them, the waiting run's update time) are left out.
 */
export async function world(product: Product, waitingRunId: string) {
  await barrier(product, waitingRunId);
  const instances: InstanceStatus[] = [];
  let continuation: string | null = null;
  do {
    const listed: JsonResponse<InstanceStatus[]> = await call<InstanceStatus[]>(
      `${product.baseUrl}/runtime/webhooks/durabletask/instances`,
      { headers: continuation ? { 'x-ms-continuation-token': continuation } : {} },
    );
    if (listed.status !== 200) throw new Error(`listing instances answered ${listed.status}`);
    instances.push(...listed.body);
    continuation = listed.headers.get('x-ms-continuation-token');
  } while (continuation);
  const waiting = await call<{ customStatus?: unknown }>(
    `${product.baseUrl}/runtime/webhooks/durabletask/instances/${waitingRunId}`,
  );
  const events = (await historyOf(product, waitingRunId))
    .filter((e) => !/^Orchestrator(Started|Completed)$/.test(e.EventType))
    .filter((e) => !(e.EventType === 'EventRaised' && e.Name?.startsWith('barrier-')))
    .map((e) => `${e.EventType} ${e.Name ?? ''}`.trim());
  const quotas: Record<string, unknown> = {};
  for (const user of watchedUsers) {
    const quota = await call(`${product.baseUrl}/api/quota/${user}`, { headers: admin });
    quotas[user] = quota.body;
  }
  const runs = await call<{ items?: { id: string; status: string }[] }>(
    `${product.baseUrl}/api/agent-runs?limit=100`,
    { headers: owner },
  );
  return {
    instances: instances
      .map((i) => ({
        id: i.instanceId,
        status: i.runtimeStatus,
        ...(i.instanceId === waitingRunId ? {} : { updated: i.lastUpdatedTime }),
      }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    waitingRun: { events, customStatus: waiting.body.customStatus },
    quotas,
    ownerRuns: (runs.body.items ?? []).map((r) => `${r.id} ${r.status}`),
  };
}

/** The answer is problem+json with this status, says what was wrong, and carries no stack or secret. */
export function expectProblem(response: JsonResponse<Problem>, status: number, says?: RegExp): void {
  expect({ status: response.status, body: response.body }).toMatchObject({ status });
  expect(response.headers.get('content-type')).toContain('application/problem+json');
  expect(response.body.status).toBe(status);
  expect(response.body.title).toEqual(expect.any(String));
  const text = JSON.stringify(response.body);
  expect(text).not.toMatch(/\n\s+at |\bat [^ ]+\.(js|ts):\d+/);
  expect(text).not.toMatch(/AccountKey|SharedAccessSignature|api-key|Bearer [A-Za-z0-9]/i);
  if (says)
    expect(`${response.body.detail ?? ''} ${JSON.stringify(response.body.errors ?? [])}`).toMatch(says);
}
