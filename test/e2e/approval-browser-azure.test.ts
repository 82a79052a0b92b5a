import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser } from 'playwright-core';
import { chromiumDescribe, haveChromium, launchChromium } from '../../devhost/test/chromium';
import { call, pollUntil, startProduct, type JsonResponse, type Product } from '../support/product';

/**
 * The approval page behind Azure's gates (the devhost's --auth azure with the App Service Authentication
 * settings Bicep deploys, the app with AUTH_MODE=appservice): a browser signs in, reads the page, decides
 * and follows the event stream with its session cookie alone, no function key and no custom header, while
 * API clients still need a token, and keyed routes a key.
 */
const describeWithChromium = chromiumDescribe('the approval page behind Azure-like auth');

const keys = {
  masterKey: 'e2e-master-key-0123456789abcdef',
  functionKeys: { default: 'e2e-function-key-0123456789abcd' },
  systemKeys: { durabletask_extension: 'e2e-durable-system-key-01234567' },
};
const owner = { oid: 'owner-7f3a', username: 'owner@contoso.example', name: 'Run Owner' };

let product: Product;
let browser: Browser;
let dir: string;

beforeAll(async () => {
  if (!haveChromium()) return;
  dir = mkdtempSync(path.join(tmpdir(), 'approval-azure-'));
  writeFileSync(path.join(dir, 'keys.json'), JSON.stringify(keys));
  product = await startProduct({ azureAuth: { keysFile: path.join(dir, 'keys.json') } });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await product?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A bearer token for `user` from the local identity provider, as an API client would get one from Entra. */
async function tokenFor(user: { oid: string; username?: string }): Promise<string> {
  const issued = await call<{ access_token: string }>(`${product.baseUrl}/.auth/local/token`, { body: user });
  if (issued.status !== 200) throw new Error(`no token: ${issued.status}`);
  return issued.body.access_token;
}

function api<T = Record<string, unknown>>(
  route: string,
  options: { token?: string; key?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  return call<T>(`${product.baseUrl}${route}`, {
    ...(options.body !== undefined ? { body: options.body } : {}),
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.key ? { 'x-functions-key': options.key } : {}),
      ...options.headers,
    },
  });
}

describeWithChromium('the approval page behind Azure-like auth', () => {
  it('refuses an API client without a token (401), and a keyed route without its key (401)', async () => {
    const token = await tokenFor(owner);
    const body = { prompt: 'What is 2 + 2?' };

    expect((await api('/api/agent-runs', { body })).status).toBe(401);
    expect((await api('/api/agent-runs', { body, token })).status).toBe(401);
    expect((await api('/api/quota', { token })).status).toBe(401);
    expect((await api('/api/quota', { token, key: keys.functionKeys.default })).status).toBe(200);
    // The health probe is excluded from sign-in and needs no key.
    expect((await api('/api/health')).status).toBe(200);
    // The management API needs its system key, a token from the tenant notwithstanding.
    expect((await api('/runtime/webhooks/durabletask/instances', { token })).status).toBe(401);
  });

  it('signs a browser in, and the page shows the draft, takes the decision and follows the run with no key', async () => {
    const token = await tokenFor(owner);
    const started = await api<{ runId: string; links: { approval: string } }>('/api/agent-runs', {
      token,
      key: keys.functionKeys.default,
      body: { prompt: 'What is 12 * 7 + 5?', approval: { required: true } },
    });
    expect(started.status).toBe(202);
    const { runId } = started.body;
    await pollUntil(
      () => api<{ status: string }>(`/api/agent-runs/${runId}`, { token, key: keys.functionKeys.default }),
      (r) => r.body.status === 'awaiting-approval',
    );

    const page = await browser.newPage();
    const sent: { method: string; url: string; headers: Record<string, string> }[] = [];
    page.on('request', (r) => {
      if (r.url().startsWith(product.baseUrl))
        sent.push({ method: r.method(), url: r.url(), headers: r.headers() });
    });
    try {
      await page.goto(started.body.links.approval);
      // Not signed in: App Service Authentication sent the browser to sign in.
      expect(new URL(page.url()).pathname).toBe('/.auth/login/aad');
      await page.fill('#oid', owner.oid);
      await page.fill('#username', owner.username);
      await page.fill('#name', owner.name);
      await Promise.all([page.waitForURL(started.body.links.approval), page.click('button[type="submit"]')]);

      expect(await page.title()).toBe(`Approve run ${runId}`);
      expect(await page.locator('#status').textContent()).toBe('awaiting-approval');
      expect(await page.locator('#draft').textContent()).toContain('89');

      await page.fill('#comment', 'Right.');
      await page.click('button[value="approve"]');
      await page.locator('#outcome').filter({ hasText: 'Recorded: approve' }).waitFor({ timeout: 15_000 });
      // The event stream (EventSource, on the session cookie) moves the page on to the end.
      await page.locator('#status').filter({ hasText: 'completed' }).waitFor({ timeout: 30_000 });
    } finally {
      await page.close();
    }

    const view = await api<{ status: string; approvalDecision?: { decision: string; decidedBy?: string } }>(
      `/api/agent-runs/${runId}`,
      { token, key: keys.functionKeys.default },
    );
    expect(view.body).toMatchObject({ status: 'completed', approvalDecision: { decision: 'approve' } });
    // The page, its decision and its event stream went out with the cookie alone: no key, no custom header.
    const runRequests = sent.filter((r) => new URL(r.url).pathname.startsWith(`/api/agent-runs/${runId}`));
    expect(runRequests.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual(
      expect.arrayContaining([
        `GET /api/agent-runs/${runId}/approval`,
        `POST /api/agent-runs/${runId}/approval`,
        `GET /api/agent-runs/${runId}/events`,
      ]),
    );
    for (const r of runRequests) {
      expect(new URL(r.url).searchParams.has('code')).toBe(false);
      expect(Object.keys(r.headers).filter((h) => h === 'x-functions-key' || h.startsWith('x-ms-'))).toEqual(
        [],
      );
    }
  });
});
