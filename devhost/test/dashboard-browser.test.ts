import { type Browser, type Page } from 'playwright-core';
import { chromiumDescribe, expectInjectedHtmlRuns, haveChromium, launchChromium } from './chromium';
import { type DevHostProcess, startDevHostProcess } from './harness';
import { type Status, call, fixture, pollUntil } from './support';

const describeWithChromium = chromiumDescribe('the devhost dashboard browser tests');

jest.setTimeout(120_000);

// What a model might put in an instance's input: it must stay text.
const hostile =
  'Result <script>window.__owned = 1; document.title = "owned"</script>' +
  '<img src=x onerror="window.__owned = 2; alert(1)">';
const shots = process.env.TMPDIR ?? '/tmp';

let host: DevHostProcess;
let browser: Browser;
const webhook = (p: string) => `${host.baseUrl}/runtime/webhooks/durabletask${p}`;
const start = (name: string, id: string, input: unknown) =>
  call(webhook(`/orchestrators/${name}/${id}`), { body: JSON.stringify(input) });
const status = async (id: string) => call<Status>(webhook(`/instances/${id}`));

beforeAll(async () => {
  if (!haveChromium()) return;
  host = await startDevHostProcess({ appDir: fixture('dashboard-app'), args: ['--log', 'quiet'] });
  await start('Steps', 'br-steps', 'hello');
  await start('WaitForApproval', 'br-hostile', { text: hostile });
  await start('WaitForApproval', 'br-control', { text: 'plain' });
  for (const id of ['br-hostile', 'br-control']) {
    await pollUntil(
      async () => (await status(id)).body,
      (s) => s.customStatus !== null,
    );
  }
  await pollUntil(
    async () => (await status('br-steps')).body,
    (s) => s.runtimeStatus === 'Completed',
  );
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await host?.stop();
});

/** A page that records dialogs and CSP violations, so a test can prove nothing ran or was blocked. */
async function watchedPage(): Promise<{ page: Page; dialogs: string[]; csp: string[]; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const dialogs: string[] = [];
  const csp: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return { page, dialogs, csp, errors };
}

const statusText = (page: Page) => page.locator('#runtime-status');

describeWithChromium('the devhost dashboard in Chromium', () => {
  it('lists and filters instances, and opens a timeline', async () => {
    const { page, dialogs, csp, errors } = await watchedPage();
    await page.goto(`${host.baseUrl}/_devhost/`);
    await page.screenshot({ path: `${shots}/devhost-dashboard-list.png`, fullPage: true });
    expect(await page.locator('#local-banner').textContent()).toContain('Local development host — not Azure');
    const ids = await page.locator('#instances tbody tr td:first-child').allTextContents();
    expect(ids).toEqual(expect.arrayContaining(['br-steps', 'br-hostile', 'br-control']));

    await page.check('input[name="status"][value="Running"]');
    await page.click('form.filters button[type="submit"]');
    await page.waitForURL(/status=Running/);
    expect((await page.locator('#instances tbody tr td:first-child').allTextContents()).sort()).toEqual([
      'br-control',
      'br-hostile',
    ]);

    await page.goto(`${host.baseUrl}/_devhost/`);
    await page.click('a:text-is("br-steps")');
    await page.waitForURL(/\/_devhost\/instances\/br-steps$/);
    await page.screenshot({ path: `${shots}/devhost-dashboard-timeline.png`, fullPage: true });
    const kinds = await page.locator('#timeline tbody td.kind').allTextContents();
    expect(kinds).toEqual(['started', 'activity', 'timer', 'sub-orchestration', 'event sent', 'completed']);
    // The timer waited its 50 ms: its duration is shown in ms or s.
    expect(await page.locator('#timeline tbody tr.k-timer td:nth-child(5)').textContent()).toMatch(
      /^\d+(\.\d+)? (ms|s)$/,
    );
    expect(await page.locator('#output').textContent()).toContain('"child": "echo: from parent"');
    // The sub-orchestration links to its own page.
    await page.locator('#timeline tr.k-sub-orchestration a').click();
    await page.waitForURL(/\/_devhost\/instances\/.+%3A2$/);
    expect(await page.locator('#timeline tbody td.kind').allTextContents()).toContain('activity');
    expect([dialogs, csp, errors]).toEqual([[], [], []]);
    await page.close();
  });

  it('shows hostile input as text, runs none of it, and raises the event that completes the instance', async () => {
    const { page, dialogs, csp, errors } = await watchedPage();
    await page.goto(`${host.baseUrl}/_devhost/instances/br-hostile`);
    expect(await page.title()).toBe('Instance br-hostile · devhost');
    expect(await page.locator('#input').textContent()).toContain('<script>window.__owned = 1;');
    expect(await page.locator('main script, main img').count()).toBe(0);
    expect(await page.evaluate('window.__owned')).toBeUndefined();
    // The timeline's input details hold the same text, also inert.
    await page.locator('#timeline tr.k-started details summary').click();
    expect(await page.locator('#timeline tr.k-started pre').textContent()).toContain('onerror=');

    await page.fill('#event-name', 'Approve');
    await page.fill('#event-payload', '{"by": "<img src=x onerror=alert(4)>ann"}');
    await page.click('#raise');
    await statusText(page).filter({ hasText: 'Completed' }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: `${shots}/devhost-dashboard-raised.png`, fullPage: true });
    expect(await page.locator('#output').textContent()).toContain('"by": "<img src=x onerror=alert(4)>ann"');
    expect(await page.locator('#timeline tbody td.kind').allTextContents()).toContain('event raised');
    expect((await status('br-hostile')).body.output).toEqual({
      approved: true,
      by: '<img src=x onerror=alert(4)>ann',
    });

    expect(await page.evaluate('window.__owned')).toBeUndefined();
    expect(await page.title()).toBe('Instance br-hostile · devhost');
    expect([dialogs, csp, errors]).toEqual([[], [], []]);
    await page.close();
  });

  it('refuses a payload that is not JSON without calling the host', async () => {
    const { page } = await watchedPage();
    await page.goto(`${host.baseUrl}/_devhost/instances/br-control`);
    await page.fill('#event-name', 'Approve');
    await page.fill('#event-payload', '{not json');
    await page.click('#raise');
    await page.locator('#outcome.bad').filter({ hasText: 'not JSON' }).waitFor();
    expect((await status('br-control')).body.runtimeStatus).toBe('Running');
    await page.close();
  });

  it('suspends, resumes, terminates and purges through the management API', async () => {
    const { page, dialogs, csp, errors } = await watchedPage();
    await page.goto(`${host.baseUrl}/_devhost/instances/br-control`);
    await page.fill('#suspend-reason', 'a pause');
    await page.click('#suspend');
    await statusText(page).filter({ hasText: 'Suspended' }).waitFor({ timeout: 15_000 });
    expect((await status('br-control')).body.runtimeStatus).toBe('Suspended');
    await page.click('#resume');
    await statusText(page).filter({ hasText: 'Running' }).waitFor({ timeout: 15_000 });
    await page.fill('#terminate-reason', 'no longer needed');
    await page.click('#terminate');
    await statusText(page).filter({ hasText: 'Terminated' }).waitFor({ timeout: 15_000 });
    expect(await page.locator('#timeline tbody td.kind').allTextContents()).toEqual(
      expect.arrayContaining(['suspended', 'resumed', 'terminated']),
    );
    expect(await page.locator('#timeline tr.k-terminated').textContent()).toContain('no longer needed');
    await page.screenshot({ path: `${shots}/devhost-dashboard-terminated.png`, fullPage: true });
    expect((await status('br-control')).body).toMatchObject({
      runtimeStatus: 'Terminated',
      output: 'no longer needed',
    });

    await page.click('#purge');
    await page.waitForURL(/\/_devhost\/\?purged=br-control$/);
    expect(await page.locator('#notice').textContent()).toBe('Purged instance br-control.');
    expect(await page.locator('#instances tbody tr td:first-child').allTextContents()).not.toContain(
      'br-control',
    );
    expect((await status('br-control')).status).toBe(404);
    expect([dialogs, csp, errors]).toEqual([[], [], []]);
    await page.close();
  });

  it("shows an entity's state", async () => {
    // Steps signals the entity as it ends; the signal is handled after the orchestration completes.
    await pollUntil(
      async () => (await call(webhook('/entities/Tally/steps'))).status,
      (code) => code === 200,
    );
    const { page, csp } = await watchedPage();
    await page.goto(`${host.baseUrl}/_devhost/entities`);
    await page.screenshot({ path: `${shots}/devhost-dashboard-entities.png`, fullPage: true });
    await page.click('#entities a:text-is("steps")');
    await page.waitForURL(/\/_devhost\/entity\?id=/);
    expect(await page.locator('#entity-key').textContent()).toBe('steps');
    expect(await page.locator('#entity-state').textContent()).toBe('1');
    expect(csp).toEqual([]);
    await page.close();
  });

  it('proves the check can fail: the same text injected as HTML would run', async () => {
    await expectInjectedHtmlRuns(browser, hostile);
  });
});
