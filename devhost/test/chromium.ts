import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** Real headless Chromium: Debian's package, which CI installs; never a browser download. */
const chromiumPath = '/usr/bin/chromium';

/**
 * `describe` where Chromium is installed; elsewhere `describe.skip`, saying once which tests are skipped
 * and why.
 */
export function chromiumDescribe(what: string): jest.Describe {
  if (existsSync(chromiumPath)) return describe;
  console.warn(`Skipping ${what}: ${chromiumPath} is absent (apt-get install -y chromium).`);
  return describe.skip;
}

export const haveChromium = (): boolean => existsSync(chromiumPath);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/**
 * The control for a "no script ran" test: the same text put in as HTML does run (it sets
 * `window.__owned = 2`), so the check that it did not is one that can fail.
 */
export async function expectInjectedHtmlRuns(browser: Browser, hostile: string): Promise<void> {
  const page = await browser.newPage();
  await page.setContent(`<div id="x"></div>`);
  await page.evaluate(`document.getElementById('x').innerHTML = ${JSON.stringify(hostile)}`);
  await page.waitForFunction('window.__owned === 2', undefined, { timeout: 5000 });
  await page.close();
}
