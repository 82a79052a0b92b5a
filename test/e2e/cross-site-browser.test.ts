import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import escapeHtml from 'escape-html';
import { type Browser } from 'playwright-core';
import { chromiumDescribe, haveChromium, launchChromium } from '../../devhost/test/chromium';
import { call, pollUntil, startProduct, type Product } from '../support/product';

// Cross-site request forgery in real Chromium: a page on another origin makes the browser POST a plain
// HTML form (no script needed beyond the auto-submit) to the product's routes that change a run. The
// browser sends them with whatever cookies the user has for the product; the page cannot read the
// answers, but the requests must not act.

const describeWithChromium = chromiumDescribe('the cross-site form browser tests');

let product: Product;
let browser: Browser;
let attacker: Server;
let attackerPort: number;

interface RunView {
  status: string;
  suspended?: boolean;
  approval?: { round: number };
}

beforeAll(async () => {
  if (!haveChromium()) return;
  product = await startProduct();
  // The attacker's site: a page that auto-submits the form described by its query string.
  attacker = createServer((req, res) => {
    const query = new URL(req.url ?? '/', 'http://attacker').searchParams;
    const fields = [...query.entries()].filter(([name]) => name.startsWith('field:'));
    const inputs = fields
      .map(
        ([name, value]) =>
          `<input type="hidden" name="${escapeHtml(name.slice(6))}" value="${escapeHtml(value)}">`,
      )
      .join('');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      `<!doctype html><title>Win a prize</title>` +
        `<form method="post" action="${escapeHtml(query.get('target') ?? '')}" enctype="${escapeHtml(query.get('enctype') ?? '')}">${inputs}</form>` +
        `<script>document.forms[0].submit()</script>`,
    );
  });
  await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
  attackerPort = (attacker.address() as AddressInfo).port;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (attacker ? attacker.close(resolve) : resolve(undefined)));
  await product?.stop();
});

async function waitingRun(): Promise<string> {
  const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
    body: { prompt: 'What is 2 + 2?', approval: { required: true } },
  });
  await pollUntil(
    () => view(started.body.runId),
    (r) => r.status === 'awaiting-approval',
  );
  return started.body.runId;
}

async function view(runId: string): Promise<RunView> {
  return (await call<RunView>(`${product.baseUrl}/api/agent-runs/${runId}`)).body;
}

/**
 * Opens the attacker's page at `site` (`localhost` is another site than the product's `127.0.0.1`;
 * `127.0.0.1` on the attacker's port is the same site, another origin), lets it submit its form to
 * `target`, and gives the product's answer to that POST: a positive signal that the request arrived.
 */
async function submitFrom(
  site: 'localhost' | '127.0.0.1',
  target: string,
  enctype: string,
  fields: Record<string, string> = {},
): Promise<{ status: number; origin: string | undefined; fetchSite: string | undefined }> {
  const page = await browser.newPage();
  try {
    const query = new URLSearchParams({ target, enctype });
    for (const [name, value] of Object.entries(fields)) query.set(`field:${name}`, value);
    const answered = page.waitForResponse(
      (r) => r.url().startsWith(target.split('?')[0] ?? target) && r.request().method() === 'POST',
      { timeout: 30_000 },
    );
    await page.goto(`http://${site}:${attackerPort}/?${query.toString()}`);
    const response = await answered;
    const sent = await response.request().allHeaders();
    return { status: response.status(), origin: sent.origin, fetchSite: sent['sec-fetch-site'] };
  } finally {
    await page.close();
  }
}

describeWithChromium('state-changing routes refuse forms from other sites, in Chromium', () => {
  it('does not cancel a run when a page on another site auto-submits a text/plain form to /cancel', async () => {
    const runId = await waitingRun();
    const sent = await submitFrom(
      'localhost',
      `${product.baseUrl}/api/agent-runs/${runId}/cancel`,
      'text/plain',
      {
        x: 'y',
      },
    );
    expect(sent).toMatchObject({
      status: 403,
      origin: `http://localhost:${attackerPort}`,
      fetchSite: 'cross-site',
    });
    expect(await view(runId)).toMatchObject({ status: 'awaiting-approval', approval: { round: 0 } });
  });

  it('does not suspend a run from a page on another origin of the same site (another port)', async () => {
    const runId = await waitingRun();
    const sent = await submitFrom(
      '127.0.0.1',
      `${product.baseUrl}/api/agent-runs/${runId}/suspend?reason=prize`,
      'application/x-www-form-urlencoded',
    );
    expect(sent).toMatchObject({ status: 403, fetchSite: 'same-site' });
    const after = await view(runId);
    expect(after.status).toBe('awaiting-approval');
    expect(after.suspended).toBeUndefined();
  });

  it('does not resume a suspended run from another site, with a multipart form and no fields', async () => {
    const runId = await waitingRun();
    // The owner suspends it from a script (no Origin, no Sec-Fetch-*): that still works.
    expect(
      (await call(`${product.baseUrl}/api/agent-runs/${runId}/suspend`, { method: 'POST' })).status,
    ).toBe(202);
    await pollUntil(
      () => view(runId),
      (v) => v.suspended === true,
    );
    const sent = await submitFrom(
      'localhost',
      `${product.baseUrl}/api/agent-runs/${runId}/resume`,
      'multipart/form-data',
    );
    expect(sent.status).toBe(403);
    expect((await view(runId)).suspended).toBe(true);
  });

  it('does not take an approval from another site', async () => {
    const runId = await waitingRun();
    // text/plain can carry a JSON-looking body: {"decision":"approve","round":0,"pad":"="}
    const sent = await submitFrom(
      'localhost',
      `${product.baseUrl}/api/agent-runs/${runId}/approval`,
      'text/plain',
      {
        '{"decision":"approve","round":0,"pad":"': '"}',
      },
    );
    expect([403, 415]).toContain(sent.status);
    expect(await view(runId)).toMatchObject({ status: 'awaiting-approval' });
  });

  it("does not terminate an instance through the devhost dashboard's management API from another site", async () => {
    const runId = await waitingRun();
    const sent = await submitFrom(
      'localhost',
      `${product.baseUrl}/runtime/webhooks/durabletask/instances/${runId}/terminate?reason=prize`,
      'text/plain',
    );
    expect(sent.status).toBe(403);
    expect(await view(runId)).toMatchObject({ status: 'awaiting-approval' });
  });
});
