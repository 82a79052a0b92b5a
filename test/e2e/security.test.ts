import { BlobServiceClient } from '@azure/storage-blob';
import type { StartAnswer } from '../../src/functions/agentRuns';
import {
  call,
  pollUntil,
  principalHeaders,
  startProduct,
  type JsonResponse,
  type Product,
} from '../support/product';
import { approvalChannelOf, raiseAround, shownHistory } from '../support/history';

// An attacker's tour in appservice mode: every URL a user is handed, tried by its owner, by a stranger,
// with another run's id, and around the product through the management API a user should never reach.

interface RunView {
  status: string;
  approval?: { round: number; draftId?: string; howToApprove: { url: string } };
  approvalDecision?: { decision?: string; by?: string };
}

interface DurableStatus {
  name: string;
  instanceId: string;
  runtimeStatus: string;
  input: unknown;
  customStatus: unknown;
  output: { outcome?: string; answer?: string } | string | null;
  createdTime: string;
  lastUpdatedTime: string;
}

const alice = principalHeaders('alice-oid');
const bob = principalHeaders('bob-oid');
const carol = principalHeaders('carol-oid');
const mallory = principalHeaders('mallory-oid');
// The approver list names boss@example.com: the real boss signs in with it as preferred_username.
const boss = principalHeaders('boss-oid', [], 'The Boss', [
  { typ: 'preferred_username', val: 'Boss@Example.com' },
]);
// Mallory sets her display name to the boss's address; that must grant nothing.
const impostor = principalHeaders('mallory-oid', [], 'boss@example.com');

const scopedKeys = [
  'statusQueryGetUri',
  'sendEventPostUri',
  'terminatePostUri',
  'purgeHistoryDeleteUri',
  'suspendPostUri',
  'resumePostUri',
] as const;

let product: Product;

beforeAll(async () => {
  product = await startProduct({
    env: { AUTH_MODE: 'appservice', RUN_URL_SIGNING_KEY: 'security-test-signing-key-0123456789abcdefgh' },
  });
});

afterAll(async () => {
  await product?.stop();
});

async function start(body: Record<string, unknown>, headers = alice): Promise<JsonResponse<StartAnswer>> {
  const started = await call<StartAnswer>(`${product.baseUrl}/api/agent-runs`, { body, headers });
  if (started.status !== 202)
    throw new Error(`start answered ${started.status}: ${JSON.stringify(started.body)}`);
  return started;
}

const view = (id: string, headers = alice) =>
  call<RunView>(`${product.baseUrl}/api/agent-runs/${id}`, { headers });

const waitFor = (id: string, status: string, headers = alice) =>
  pollUntil(
    () => view(id, headers),
    (r) => r.status === 200 && r.body.status === status,
  );

async function startWaiting(headers = alice): Promise<StartAnswer> {
  const started = await start(
    {
      prompt: 'Summarise why tests matter.',
      tools: [],
      approval: { required: true, approvers: ['boss@example.com'], timeoutMinutes: 60 },
    },
    headers,
  );
  await waitFor(started.body.runId, 'awaiting-approval', headers);
  return started.body;
}

/** A URL template from the starter, filled in as a Durable client would. */
function fill(url: string): string {
  return url.replace('{eventName}', 'approval').replace('{text}', 'because');
}

function methodOf(key: (typeof scopedKeys)[number]): string {
  if (key === 'statusQueryGetUri') return 'GET';
  if (key === 'purgeHistoryDeleteUri') return 'DELETE';
  return 'POST';
}

const leaks = (text: string) => /\/runtime\/webhooks\/durabletask|[?&]code=/i.test(text);

describe('what a user is handed', () => {
  let waiting: StartAnswer;
  let other: StartAnswer;

  beforeAll(async () => {
    waiting = await startWaiting();
    other = await startWaiting(bob);
  });

  it('never carries the management webhook or a host key, in any answer to a non-operator', async () => {
    const started = await start({ prompt: 'What is 2 + 2? Use the calculator.', tools: ['calculator'] });
    const answers: string[] = [JSON.stringify(started.body), started.headers.get('location') ?? ''];
    expect(Object.keys(started.body)).toEqual(expect.arrayContaining(['id', ...scopedKeys]));
    expect(started.body).not.toHaveProperty('restartPostUri');
    for (const key of scopedKeys)
      expect(started.body[key]).toContain(`/api/agent-runs/${started.body.runId}/`);
    expect(started.headers.get('location')).toBe(started.body.statusQueryGetUri);

    const done = await pollUntil(
      () => call<DurableStatus>(started.body.statusQueryGetUri),
      (r) => r.status === 200,
    );
    answers.push(JSON.stringify(done.body));
    answers.push(JSON.stringify((await view(started.body.runId)).body));
    answers.push(JSON.stringify((await view(waiting.runId)).body));
    answers.push(JSON.stringify((await view(waiting.runId, boss)).body));
    answers.push(JSON.stringify((await call(`${product.baseUrl}/api/quota`, { headers: alice })).body));
    const decidedRun = await startWaiting(bob);
    const decided = await call(fill(decidedRun.sendEventPostUri), {
      body: { decision: 'reject', round: 0 },
      headers: boss,
    });
    expect(decided.status).toBe(200);
    answers.push(JSON.stringify(decided.body), decided.headers.get('location') ?? '');
    for (const answer of answers) expect(leaks(answer)).toBe(false);
  });

  it('refuses every scoped URL with another run id in it, and changes nothing', async () => {
    for (const key of scopedKeys) {
      const swapped = fill(waiting[key]).replace(waiting.runId, other.runId);
      // By signature alone (a stranger holding alice's URL), and by alice herself against bob's run.
      for (const headers of [mallory, alice]) {
        const answer = await call(swapped, {
          method: methodOf(key),
          headers,
          ...(key === 'sendEventPostUri' ? { body: { decision: 'approve', round: 0 } } : {}),
        });
        expect({ key, status: answer.status }).toEqual({ key, status: 404 });
      }
    }
    // The run whose id was tried is untouched: still waiting, same round.
    const after = await view(other.runId, bob);
    expect(after.body.status).toBe('awaiting-approval');
  });

  it('lets a stranger holding a URL do only what it was signed for, on that run only', async () => {
    const status = await call<DurableStatus>(waiting.statusQueryGetUri, { headers: mallory });
    expect(status.status).toBe(202);
    expect(status.body.instanceId).toBe(waiting.runId);
    // A status signature does not terminate, and a stripped signature is no signature.
    const statusSig = new URL(waiting.statusQueryGetUri).searchParams.get('sig') ?? '';
    const terminateWithStatusSig = `${product.baseUrl}/api/agent-runs/${waiting.runId}/terminate?sig=${statusSig}`;
    expect((await call(terminateWithStatusSig, { method: 'POST', headers: mallory })).status).toBe(404);
    const unsigned = waiting.statusQueryGetUri.split('?')[0] ?? '';
    expect((await call(unsigned, { headers: mallory })).status).toBe(404);
    // The event URL decides by identity: a stranger with the signed URL still cannot approve.
    const event = await call(fill(waiting.sendEventPostUri), {
      body: { decision: 'approve', round: 0 },
      headers: mallory,
    });
    expect(event.status).toBe(404);
    // Only the approval event exists.
    const otherEvent = await call(waiting.sendEventPostUri.replace('{eventName}', 'setLimit'), {
      body: { decision: 'approve', round: 0 },
      headers: alice,
    });
    expect(otherEvent.status).toBe(400);
    expect((await view(waiting.runId)).body.status).toBe('awaiting-approval');
  });
});

describe('approvals', () => {
  it('ignores an approval event raised around the product, then takes the real one', async () => {
    const run = await startWaiting();
    const raw = `${product.baseUrl}/runtime/webhooks/durabletask/instances/${run.runId}/raiseEvent/approval`;
    for (const forged of [
      { decision: 'approve', by: 'anyone', round: 0 },
      { decision: 'approve', by: 'boss-oid', round: 0, proof: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    ]) {
      expect((await call(raw, { body: forged })).status).toBe(202);
    }
    // Barrier: the product's own decision is raised after the forged ones, so once it is taken the
    // forged ones have been seen, and ignored.
    const real = await call(`${product.baseUrl}/api/agent-runs/${run.runId}/approval`, {
      body: { decision: 'approve', round: 0 },
      headers: boss,
    });
    expect(real.status).toBe(200);
    const done = await waitFor(run.runId, 'completed');
    expect(done.body.approvalDecision).toMatchObject({ decision: 'approve', by: 'boss-oid' });
    // The forged events went to the public name, which the run does not wait on: never even looked at.
    expect(product.logs()).not.toContain(`Run ${run.runId}: ignored an approval event`);
  });

  it("checks the proof of an event raised on the round's channel, learned from the history", async () => {
    const run = await startWaiting();
    const channel = approvalChannelOf(await shownHistory(product.baseUrl, run.runId));
    // The draft id is in the history too; only the proof is missing.
    const draftId = (await view(run.runId)).body.approval?.draftId;
    const forged = { decision: 'approve', by: 'boss-oid', round: 0, draftId, proof: 'A'.repeat(43) };
    expect(await raiseAround(product.baseUrl, run.runId, channel, forged)).toBe(202);
    const real = await call(`${product.baseUrl}/api/agent-runs/${run.runId}/approval`, {
      body: { decision: 'reject', round: 0 },
      headers: boss,
    });
    expect(real.status).toBe(200);
    const done = await waitFor(run.runId, 'rejected');
    expect(done.body.approvalDecision).toMatchObject({ decision: 'reject', by: 'boss-oid' });
    expect(product.logs()).toContain(`Run ${run.runId}: ignored an approval event without a valid proof`);
  });

  it("refuses an id that differs from the owner's only in case: it is another user", async () => {
    const run = await startWaiting();
    const shouty = principalHeaders('Alice-oid');
    expect((await view(run.runId, shouty)).status).toBe(404);
    const decided = await call(`${product.baseUrl}/api/agent-runs/${run.runId}/approval`, {
      body: { decision: 'approve', round: 0 },
      headers: shouty,
    });
    expect(decided.status).toBe(404);
    expect((await view(run.runId)).body.status).toBe('awaiting-approval');
  });

  it('refuses a display-name impostor and accepts the approver by sign-in name', async () => {
    const run = await startWaiting();
    const approve = (headers: Record<string, string>) =>
      call(`${product.baseUrl}/api/agent-runs/${run.runId}/approval`, {
        body: { decision: 'approve', round: 0 },
        headers,
      });
    expect((await approve(impostor)).status).toBe(404);
    expect((await view(run.runId, impostor)).status).toBe(404);
    expect((await view(run.runId)).body.status).toBe('awaiting-approval');
    expect((await approve(boss)).status).toBe(200);
    await waitFor(run.runId, 'completed');
  });
});

describe('bodies cost what they weigh', () => {
  it('refuses a 30,000-deep body with a 400 naming the limit, on every JSON endpoint, while serving others', async () => {
    const run = await startWaiting();
    const deep = `{"prompt":"x","tools":${'['.repeat(30_000)}${']'.repeat(30_000)}}`;
    const admin = principalHeaders('quota-admin', ['AgentRuns.Admin']);
    const targets: { url: string; method: string; headers: Record<string, string> }[] = [
      { url: `${product.baseUrl}/api/agent-runs`, method: 'POST', headers: alice },
      { url: `${product.baseUrl}/api/agent-runs/${run.runId}/approval`, method: 'POST', headers: alice },
      { url: fill(run.sendEventPostUri), method: 'POST', headers: alice },
      { url: `${product.baseUrl}/api/quota/alice-oid`, method: 'PUT', headers: admin },
    ];
    for (const target of targets) {
      // The attack and an ordinary request go out together; both are answered, the attack with 400.
      const [attack, ordinary] = await Promise.all([
        call<{ title: string; detail: string; maxDepth: number }>(target.url, {
          method: target.method,
          body: deep,
          headers: target.headers,
        }),
        call(`${product.baseUrl}/api/agent-runs/${run.runId}`, { headers: alice }),
      ]);
      expect({ url: target.url, status: attack.status }).toEqual({ url: target.url, status: 400 });
      expect(attack.headers.get('content-type')).toContain('application/problem+json');
      expect(attack.body.maxDepth).toBe(64);
      expect(attack.body.detail).toContain('at most 64');
      expect(ordinary.status).toBe(200);
    }
    expect((await view(run.runId)).body.status).toBe('awaiting-approval');
  });
});

describe('a client written for Durable', () => {
  it('drives a run to its output through the scoped status URL alone: 202 and Location until 200', async () => {
    const started = await start({ prompt: 'What is 6 * 7? Use the calculator.', tools: ['calculator'] });
    let url: string | null = started.headers.get('location');
    let answer: Response | undefined;
    let polls = 0;
    // No identity headers: the URL is the whole credential, as with Durable's own status URL.
    while (url) {
      answer = await fetch(url);
      polls++;
      if (answer.status !== 202) break;
      expect(answer.headers.get('location')).toBeTruthy();
      const wait = Number(answer.headers.get('retry-after'));
      expect(wait).toBeGreaterThan(0);
      url = answer.headers.get('location');
      await new Promise((r) => setTimeout(r, wait * 1000));
      if (polls > 300) throw new Error('the run never finished');
    }
    expect(answer?.status).toBe(200);
    const body = (await answer?.json()) as DurableStatus;
    expect(body).toMatchObject({
      name: 'agentRunOrchestrator',
      instanceId: started.body.runId,
      runtimeStatus: 'Completed',
    });
    expect(Object.keys(body)).toEqual(
      expect.arrayContaining(['input', 'customStatus', 'output', 'createdTime', 'lastUpdatedTime']),
    );
    expect(body.output).toMatchObject({
      outcome: 'completed',
      answer: expect.stringContaining('42') as unknown,
    });

    // Purge removes the run, its children and its result blob.
    const blob = BlobServiceClient.fromConnectionString(product.blobConnectionString)
      .getContainerClient('results')
      .getBlobClient(`${started.body.runId}.json`);
    expect(await blob.exists()).toBe(true);
    const purged = await call(started.body.purgeHistoryDeleteUri, { method: 'DELETE' });
    expect(purged.status).toBe(200);
    expect(await blob.exists()).toBe(false);
    expect((await call(started.body.statusQueryGetUri)).status).toBe(404);
    const child = await call(
      `${product.baseUrl}/runtime/webhooks/durabletask/instances/${started.body.runId}-s1`,
    );
    expect(child.status).toBe(404);
  });

  it('terminates through the scoped URL the product way: the run ends and its reservation comes back', async () => {
    const run = await startWaiting(carol);
    const terminated = await call(fill(run.terminatePostUri), { method: 'POST' });
    expect(terminated.status).toBe(202);
    await waitFor(run.runId, 'terminated', carol);
    const quota = await pollUntil(
      () => call<{ reserved: number }>(`${product.baseUrl}/api/quota`, { headers: carol }),
      (r) => r.status === 200 && r.body.reserved === 0,
    );
    expect(quota.body.reserved).toBe(0);
  });
});

describe('text that reaches the console and the run', () => {
  // As an attacker sends it on a terminate URL: a forged host line, then an escape sequence that
  // retitles the operator's terminal (reason=x%0A[Functions.startAgentRun] ... FORGED%1B]0;OWNED%07).
  const forged = 'x\n[Functions.startAgentRun] Started agent run FORGED\u001b]0;OWNED\u0007';
  const withReason = (url: string, reason: string) =>
    url.replace('reason={text}', `reason=${encodeURIComponent(reason)}`);
  /** Raw control characters other than the newline that ends each line. */
  const rawControl = /(?!\n)\p{Cc}/u;
  const forgedLines = (logs: string) =>
    logs.split('\n').filter((line) => line.startsWith('[Functions.startAgentRun] Started agent run FORGED'));

  it('refuses a reason with line breaks or escape sequences, or too long, and changes nothing', async () => {
    const run = await startWaiting(carol);
    expect(withReason(run.terminatePostUri, forged)).toContain(
      'reason=x%0A%5BFunctions.startAgentRun%5D%20Started%20agent%20run%20FORGED%1B%5D0%3BOWNED%07',
    );
    for (const reason of [forged, 'a'.repeat(501), 'quiet\u202eevil']) {
      const refused = await call<{ errors: { field: string }[] }>(withReason(run.terminatePostUri, reason), {
        method: 'POST',
      });
      expect(refused.status).toBe(400);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
      expect(refused.body.errors.map((e) => e.field)).toEqual(['reason']);
    }
    const suspended = await call(withReason(run.suspendPostUri, forged), { method: 'POST' });
    expect(suspended.status).toBe(400);
    expect((await view(run.runId, carol)).body).toMatchObject({ status: 'awaiting-approval' });
    expect(forgedLines(product.logs())).toEqual([]);
    expect(product.logs()).not.toMatch(rawControl);
  });

  it('stores an acceptable reason exactly as given, in the run output', async () => {
    const run = await startWaiting(carol);
    const reason = 'Wrong question, sorry — ünïcode 👋';
    expect((await call(withReason(run.terminatePostUri, reason), { method: 'POST' })).status).toBe(202);
    await waitFor(run.runId, 'terminated', carol);
    const status = await call<DurableStatus>(run.statusQueryGetUri);
    expect(status.body.output).toBe(reason);
  });

  it("prints a raw terminate's reason escaped on the devhost console: no forged line, no escape sequence", async () => {
    // The management API is the operators' and takes any reason, as Durable's does; the console still
    // shows it as one escaped record.
    const run = await startWaiting(carol);
    const raw = `${product.baseUrl}/runtime/webhooks/durabletask/instances/${run.runId}/terminate`;
    expect((await call(`${raw}?reason=${encodeURIComponent(forged)}`, { method: 'POST' })).status).toBe(202);
    const logs = await pollUntil(
      () => Promise.resolve(product.logs()),
      (text) => text.includes(`(${run.runId}) terminated: x`),
    );
    expect(logs).toContain('  | [Functions.startAgentRun] Started agent run FORGED\\x1b]0;OWNED\\x07');
    expect(forgedLines(logs)).toEqual([]);
    expect(logs).not.toMatch(rawControl);
  });
});

describe('STATUS_URLS=builtin, the single-tenant opt-out', () => {
  it("hands out Durable's raw management URLs, with no restart URL", async () => {
    const builtin = await startProduct({
      env: {
        AUTH_MODE: 'appservice',
        RUN_URL_SIGNING_KEY: 'security-test-signing-key-0123456789abcdefgh',
        STATUS_URLS: 'builtin',
      },
    });
    try {
      const started = await call<StartAnswer>(`${builtin.baseUrl}/api/agent-runs`, {
        body: { prompt: 'What is 1 + 1? Use the calculator.', tools: ['calculator'] },
        headers: alice,
      });
      expect(started.status).toBe(202);
      expect(started.body.statusQueryGetUri).toContain('/runtime/webhooks/durabletask/instances/');
      expect(started.body).not.toHaveProperty('restartPostUri');
    } finally {
      await builtin.stop();
    }
  });
});
