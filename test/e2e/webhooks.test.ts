import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { call, pollUntil, startProduct, type Product } from '../support/product';

// The receiver checks signatures the way a subscriber following Standard Webhooks would, from the
// secret alone, with no code from the app.
const secret = `whsec_${Buffer.from('receiver-test-secret-0123456789').toString('base64')}`;

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
  at: number;
}

let product: Product;
let strictProduct: Product;
let receiver: Server;
let receiverUrl = '';
const received: Received[] = [];
/** Per run id: the statuses to answer, in order; 200 once they run out. */
const script = new Map<string, number[]>();

function verify(r: Received): boolean {
  const id = String(r.headers['webhook-id']);
  const timestamp = String(r.headers['webhook-timestamp']);
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${r.body}`).digest();
  const offered = String(r.headers['webhook-signature'])
    .split(' ')
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  return offered.some((sig) => sig.length === expected.length && timingSafeEqual(sig, expected));
}

function forRun(runId: string) {
  return received
    .map((r) => ({
      ...r,
      json: JSON.parse(r.body) as { type: string; timestamp: string; data: Record<string, unknown> },
    }))
    .filter((r) => r.json.data.runId === runId);
}

async function start(body: Record<string, unknown>, target: Product = product) {
  return call<{ runId: string; detail?: string; errors?: { field: string; message: string }[] }>(
    `${target.baseUrl}/api/agent-runs`,
    { body },
  );
}

function view(runId: string) {
  return call<{
    status: string;
    webhook?: { deliveries: { webhookId: string; type: string; state: string; error?: string }[] };
    approval?: { round: number };
  }>(`${product.baseUrl}/api/agent-runs/${runId}`);
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let runId = '';
      try {
        runId = String((JSON.parse(body) as { data: { runId: string } }).data.runId);
      } catch {
        // not ours
      }
      const answer = script.get(runId)?.shift() ?? 200;
      received.push({ headers: req.headers, body, answered: answer, at: Date.now() });
      res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  const env = { WEBHOOK_SECRET: secret };
  [product, strictProduct] = await Promise.all([
    startProduct({ env: { ...env, WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true' } }),
    startProduct({ env }),
  ]);
});

afterAll(async () => {
  await Promise.all([product?.stop(), strictProduct?.stop()]);
  await new Promise((resolve) => receiver?.close(resolve));
});

describe('signed webhooks', () => {
  it('POSTs a signed notification when the run awaits approval and when it ends, and the run view shows both', async () => {
    const started = await start({
      prompt: 'What is 3 + 3?',
      approval: { required: true },
      webhook: { url: receiverUrl },
    });
    expect(started.status).toBe(202);
    const runId = started.body.runId;
    await pollUntil(
      () => Promise.resolve(forRun(runId)),
      (list) => list.length === 1,
    );
    const [waiting] = forRun(runId);
    expect(waiting?.json).toMatchObject({
      type: 'run.awaiting_approval',
      data: {
        runId,
        status: 'awaiting-approval',
        // The round and draft a decision names: the receiver can pass them on to whoever decides.
        approval: { round: 0, draftId: expect.stringMatching(/^[0-9a-f]{16}$/) as unknown },
        links: { approval: `${product.baseUrl}/api/agent-runs/${runId}/approval` },
      },
    });
    expect(waiting?.headers['content-type']).toBe('application/json');
    expect(waiting && verify(waiting)).toBe(true);
    expect(Math.abs(Number(waiting?.headers['webhook-timestamp']) * 1000 - Date.now())).toBeLessThan(60_000);
    // A signature for another body does not verify: the check above can fail.
    expect(waiting && verify({ ...waiting, body: waiting.body.replace(runId, 'someone-else') })).toBe(false);

    const decided = await call(`${product.baseUrl}/api/agent-runs/${runId}/approval`, {
      body: {
        decision: 'approve',
        round: 0,
        draftId: (waiting?.json.data.approval as { draftId: string }).draftId,
      },
    });
    expect(decided.status).toBe(200);
    const all = await pollUntil(
      () => Promise.resolve(forRun(runId)),
      (list) => list.length === 2,
    );
    expect(all[1]?.json).toMatchObject({ type: 'run.ended', data: { runId, status: 'completed' } });
    expect(all[1] && verify(all[1])).toBe(true);
    expect(all[0]?.headers['webhook-id']).not.toBe(all[1]?.headers['webhook-id']);

    const final = await pollUntil(
      () => view(runId),
      (v) => v.body.status === 'completed' && v.body.webhook?.deliveries.length === 2,
    );
    expect(final.body.webhook?.deliveries.map((d) => [d.type, d.state])).toEqual([
      ['run.awaiting_approval', 'delivered'],
      ['run.ended', 'delivered'],
    ]);
  });

  it('retries a failed delivery with backoff under the same webhook-id, each attempt signed anew', async () => {
    const started = await start({ prompt: 'What is 5 + 5?', webhook: { url: receiverUrl } });
    const runId = started.body.runId;
    script.set(runId, [500, 503]);
    const attempts = await pollUntil(
      () => Promise.resolve(forRun(runId)),
      (list) => list.length === 3,
      30_000,
    );
    expect(attempts.map((a) => a.answered)).toEqual([500, 503, 200]);
    expect(new Set(attempts.map((a) => a.headers['webhook-id'])).size).toBe(1);
    expect(attempts.every(verify)).toBe(true);
    // Durable backoff: about 1 s, then about 2 s.
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
    expect((attempts[2]?.at ?? 0) - (attempts[1]?.at ?? 0)).toBeGreaterThanOrEqual(1800);
    const final = await pollUntil(
      () => view(runId),
      (v) => v.body.status === 'completed',
    );
    expect(final.body.webhook?.deliveries).toEqual([
      expect.objectContaining({ type: 'run.ended', state: 'delivered' }),
    ]);
  });

  it('never fails the run when every attempt fails, and shows the failed delivery', async () => {
    const started = await start({ prompt: 'What is 6 + 6?', webhook: { url: receiverUrl } });
    const runId = started.body.runId;
    script.set(runId, [500, 500, 500, 500, 500, 500]);
    const final = await pollUntil(
      () => view(runId),
      (v) => v.body.status !== 'running',
      60_000,
    );
    expect(final.body.status).toBe('completed');
    expect(final.body.webhook?.deliveries).toEqual([
      expect.objectContaining({
        type: 'run.ended',
        state: 'failed',
        error: expect.stringContaining('500') as unknown,
      }),
    ]);
    expect(forRun(runId)).toHaveLength(4);
  });

  it.each([
    [() => receiverUrl, '127.0.0.1'],
    [() => 'http://localhost:9/hooks', 'localhost resolves to'],
    [() => 'http://169.254.169.254/latest/meta-data', '169.254.169.254'],
    [() => 'http://[::ffff:10.0.0.1]/', 'private'],
    [() => 'ftp://example.com/', 'https'],
  ])(
    'refuses a webhook to a private address unless WEBHOOK_ALLOW_PRIVATE_NETWORKS=true (%#)',
    async (url, why) => {
      const refused = await start({ prompt: 'What is 1 + 1?', webhook: { url: url() } }, strictProduct);
      expect(refused.status).toBe(400);
      expect(refused.headers.get('content-type')).toContain('application/problem+json');
      expect(refused.body.errors?.[0]?.field).toBe('webhook.url');
      expect(refused.body.detail).toContain(why);
    },
  );

  it('refuses webhook settings it does not know', async () => {
    const refused = await start({ prompt: 'What is 1 + 1?', webhook: { url: receiverUrl, secret: 'x' } });
    expect(refused.status).toBe(400);
    expect(refused.body.errors?.[0]?.field).toBe('webhook.secret');
  });
});
