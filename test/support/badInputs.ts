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

/** Everything a bad request could change: the instances, the waiting run's history, everyone's quota. */
export async function world(product: Product, waitingRunId: string) {
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
  const waiting = await call<{ historyEvents?: unknown[]; customStatus?: unknown }>(
    `${product.baseUrl}/runtime/webhooks/durabletask/instances/${waitingRunId}?showHistory=true`,
  );
  const quotas: Record<string, unknown> = {};
  for (const user of watchedUsers) {
    const quota = await call(`${product.baseUrl}/api/quota/${user}`, { headers: admin });
    quotas[user] = quota.body;
  }
  return {
    instances: instances
      .map((i) => ({ id: i.instanceId, status: i.runtimeStatus, updated: i.lastUpdatedTime }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    waitingRun: { events: waiting.body.historyEvents?.length, customStatus: waiting.body.customStatus },
    quotas,
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
