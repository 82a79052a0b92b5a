import { type Browser } from 'playwright-core';
import {
  chromiumDescribe,
  expectInjectedHtmlRuns,
  haveChromium,
  launchChromium,
} from '../../devhost/test/chromium';
import { call, pollUntil, startProduct, type Product } from '../support/product';

const describeWithChromium = chromiumDescribe('the approval page browser tests');

// The model's every answer is the attacker's: script, an image with onerror, a javascript: link.
const hostile =
  'Result <script>window.__owned = 1; document.title = "owned"</script>' +
  '<img src=x onerror="window.__owned = 2; alert(1)"> <a href="javascript:alert(3)">details</a>';

let product: Product;
let browser: Browser;

beforeAll(async () => {
  if (!haveChromium()) return;
  product = await startProduct();
  await call(`${product.emulatorUrl}/_emulator/faults`, { body: { content: hostile, count: 1000 } });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await product?.stop();
});

async function waitingRun(): Promise<string> {
  const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
    body: { prompt: 'Say something.', approval: { required: true } },
  });
  await pollUntil(
    () => call<{ status: string }>(`${product.baseUrl}/api/agent-runs/${started.body.runId}`),
    (r) => r.body.status === 'awaiting-approval',
  );
  return started.body.runId;
}

describeWithChromium('the approval page in Chromium', () => {
  it('shows hostile model output as text, runs none of it, and takes the decision', async () => {
    const runId = await waitingRun();
    const page = await browser.newPage();
    const dialogs: string[] = [];
    const cspViolations: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(`${product.baseUrl}/api/agent-runs/${runId}/approval`);
    await page.screenshot({
      path: `${process.env.TMPDIR ?? '/tmp'}/approval-page-waiting.png`,
      fullPage: true,
    });

    expect(await page.title()).toBe(`Approve run ${runId}`);
    expect(await page.evaluate('window.__owned')).toBeUndefined();
    expect(await page.locator('#draft img, #draft script, #draft a').count()).toBe(0);
    expect(await page.locator('#draft').textContent()).toContain('<script>window.__owned = 1;');
    expect(await page.locator('#status').textContent()).toBe('awaiting-approval');

    await page.fill('#comment', 'Looks fine <b>really</b>');
    await page.click('button[value="approve"]');
    await page.locator('#outcome').filter({ hasText: 'Recorded: approve' }).waitFor({ timeout: 15_000 });
    // The event stream moves the page on to the end, again through textContent only.
    await page.locator('#status').filter({ hasText: 'completed' }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: `${process.env.TMPDIR ?? '/tmp'}/approval-page-done.png`, fullPage: true });
    expect(await page.locator('#decide').isHidden()).toBe(true);
    expect(await page.locator('#draft img, #draft script').count()).toBe(0);

    expect(await page.evaluate('window.__owned')).toBeUndefined();
    expect(await page.title()).toBe(`Approve run ${runId}`);
    expect(dialogs).toEqual([]);
    expect(cspViolations).toEqual([]);
    const view = await call<{ status: string; approvalDecision?: { decision: string } }>(
      `${product.baseUrl}/api/agent-runs/${runId}`,
    );
    expect(view.body).toMatchObject({ status: 'completed', approvalDecision: { decision: 'approve' } });
    await page.close();
  });

  it('shows a revision as the model writes it, as text only', async () => {
    const runId = await waitingRun();
    const page = await browser.newPage();
    await page.goto(`${product.baseUrl}/api/agent-runs/${runId}/approval`);
    await page.locator('#status').filter({ hasText: 'awaiting-approval' }).waitFor({ timeout: 15_000 });
    // Slow chunks: the revision (the same hostile text) takes a few seconds to write.
    await call(`${product.emulatorUrl}/_emulator/streaming`, { body: { chunkDelayMs: 400 } });
    try {
      await page.fill('#comment', 'Shorter, please.');
      await page.click('button[value="reject"]');
      // Part of the text, not all of it: the page is showing the answer while it grows.
      // Part of the text, not all of it: the page is showing the answer while it grows.
      await pollUntil(
        async () => (await page.locator('#draft').textContent()) ?? '',
        (text) => text.length > 0 && text.length < hostile.length && hostile.startsWith(text),
        15_000,
      );
      expect(await page.locator('#draft img, #draft script, #draft a').count()).toBe(0);
      await page.locator('#draft').filter({ hasText: 'javascript:alert(3)' }).waitFor({ timeout: 15_000 });
      expect(await page.evaluate('window.__owned')).toBeUndefined();
    } finally {
      await call(`${product.emulatorUrl}/_emulator/streaming`, { body: { chunkDelayMs: 0 } });
      await page.close();
    }
  });

  it('proves the check can fail: the same text injected as HTML would run', async () => {
    await expectInjectedHtmlRuns(browser, hostile);
  });
});
