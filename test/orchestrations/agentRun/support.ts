import { randomUUID } from 'node:crypto';
import { runOutcomes } from '../../../src/contracts/agentRun';
import type { ModelUsage } from '../../../src/contracts/model';
import type { QuotaSnapshot } from '../../../src/contracts/quota';
import { call, pollUntil, principalHeaders, type Product } from '../../support/product';

/**
 * What the agent-run orchestration tests share: the run view, the quota as an admin reads it, the
 * devhost's management API (an operator's view of every instance) and the emulators' control API.
 */

export type Usage = ModelUsage;

export interface RunView {
  id: string;
  status: string;
  stage: string;
  progress: { done: number; total: number };
  usage: Usage;
  answer?: string | null;
  message?: string;
  error?: string;
  subtasks?: { id: string; kind: string; ok?: boolean; state?: string; error?: string; usage?: Usage }[];
  approval?: { round: number; draft: string; draftId?: string };
  approvalDecision?: { decision?: string; rounds: number; by?: string; comment?: string };
}

export interface InstanceStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  output: unknown;
  customStatus: { stage?: string; usage?: Usage } | null;
}

export interface EmulatorRequest {
  path: string;
  method: string;
  deployment?: string;
  operation?: string;
  status: number;
  fault?: number;
}

export const terminal: readonly string[] = [...runOutcomes, 'terminated'];
export const live = new Set(['Running', 'Pending', 'Suspended', 'ContinuedAsNew']);

export const adminHeaders = principalHeaders('quota-admin', ['AgentRuns.Admin']);

/** One user per test, so the quota numbers a test reads are its own runs' alone. */
export function newUser(label: string): { id: string; headers: Record<string, string> } {
  const id = `${label}-${randomUUID().slice(0, 8)}`;
  return { id, headers: principalHeaders(id) };
}

export function agentRunTools(product: Product) {
  const api = `${product.baseUrl}/api`;
  const durable = `${product.baseUrl}/runtime/webhooks/durabletask`;

  async function startRun(headers: Record<string, string>, body: Record<string, unknown>): Promise<string> {
    const started = await call<{ runId: string }>(`${api}/agent-runs`, { body, headers });
    if (started.status !== 202)
      throw new Error(`start answered ${started.status}: ${JSON.stringify(started.body)}`);
    return started.body.runId;
  }

  const getRun = (id: string, headers: Record<string, string>) =>
    call<RunView>(`${api}/agent-runs/${id}`, { headers });

  async function runUntil(
    id: string,
    headers: Record<string, string>,
    done: (view: RunView) => boolean,
    timeoutMs = 60_000,
  ): Promise<RunView> {
    const response = await pollUntil(
      () => getRun(id, headers),
      (r) => r.status === 200 && done(r.body),
      timeoutMs,
    );
    return response.body;
  }

  const finished = (id: string, headers: Record<string, string>) =>
    runUntil(id, headers, (v) => terminal.includes(v.status));

  async function quotaOf(userId: string): Promise<QuotaSnapshot> {
    const response = await call<QuotaSnapshot>(`${api}/quota/${userId}`, { headers: adminHeaders });
    if (response.status !== 200)
      throw new Error(`GET quota answered ${response.status}: ${JSON.stringify(response.body)}`);
    return response.body;
  }

  /** Waits until nothing is reserved any more (the last settle is a signal), then answers the quota. */
  const settledQuota = (userId: string) =>
    pollUntil(
      () => quotaOf(userId),
      (q) => q.reserved === 0,
    );

  async function setLimit(userId: string, monthlyTokenLimit: number): Promise<void> {
    const response = await call(`${api}/quota/${userId}`, {
      method: 'PUT',
      body: { monthlyTokenLimit },
      headers: adminHeaders,
    });
    if (response.status !== 200 && response.status !== 202)
      throw new Error(`PUT quota answered ${response.status}: ${JSON.stringify(response.body)}`);
    await pollUntil(
      () => quotaOf(userId),
      (q) => q.monthlyTokenLimit === monthlyTokenLimit,
    );
  }

  /** The instance as an operator sees it, children included (`<runId>-s1`, ...). */
  const instance = (id: string) => call<InstanceStatus>(`${durable}/instances/${id}?showInput=false`);

  /** The run and every child it started, from the devhost's instance list. */
  async function family(runId: string): Promise<InstanceStatus[]> {
    const response = await call<InstanceStatus[]>(
      `${durable}/instances?instanceIdPrefix=${encodeURIComponent(runId)}&top=100`,
    );
    if (response.status !== 200) throw new Error(`instance list answered ${response.status}`);
    return response.body.filter((s) => s.instanceId === runId || s.instanceId.startsWith(`${runId}-`));
  }

  async function cancel(runId: string, headers: Record<string, string>): Promise<number> {
    return (await call(`${api}/agent-runs/${runId}/cancel`, { method: 'POST', headers })).status;
  }

  async function fault(body: Record<string, unknown>): Promise<void> {
    const response = await call(`${product.emulatorUrl}/_emulator/faults`, { body });
    if (response.status !== 201) throw new Error(`fault answered ${response.status}`);
  }

  const resetEmulators = async () => {
    await call(`${product.emulatorUrl}/_emulator/reset`, { body: {} });
  };

  async function emulatorRequests(query = ''): Promise<EmulatorRequest[]> {
    const response = await call<{ requests: EmulatorRequest[] }>(
      `${product.emulatorUrl}/_emulator/requests${query}`,
    );
    return response.body.requests;
  }

  return {
    startRun,
    getRun,
    runUntil,
    finished,
    quotaOf,
    settledQuota,
    setLimit,
    instance,
    family,
    cancel,
    fault,
    resetEmulators,
    emulatorRequests,
    durable,
  };
}
