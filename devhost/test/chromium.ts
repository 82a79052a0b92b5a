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
