import { InvocationContext } from '@azure/functions';
import { startAzurite, type Azurite } from '../../../scripts/azurite';
import { loadConfig, type AppConfig } from '../../../src/config';

/**
 * Azurite on free loopback ports, in memory, for one test file: blob, and table too, since the app's
 * settings name a storage account that has the run index's table.
 */
export function startTestAzurite(): Promise<Azurite> {
  return startAzurite({ blobPort: 0, services: 'all' });
}

/** A config as the app would load it, from settings; the defaults point nowhere real. */
export function testConfig(settings: Record<string, string>): AppConfig {
  return loadConfig({
    AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:9',
    AZURE_OPENAI_API_KEY: 'test-key',
    AZURE_OPENAI_FAST_DEPLOYMENT: 'gpt-4o-mini',
    AZURE_OPENAI_STRONG_DEPLOYMENT: 'gpt-4o',
    // Activities never authenticate callers; dev mode spares them the run-URL signing key.
    AUTH_MODE: 'dev',
    ...settings,
  });
}

/** An InvocationContext without a host; its log lines are collected for assertions. */
export function testContext(functionName: string): InvocationContext & { lines: string[] } {
  const lines: string[] = [];
  const context = new InvocationContext({
    invocationId: `test-${functionName}-${Math.random().toString(16).slice(2)}`,
    functionName,
    logHandler: (level, ...args) => lines.push(`${level}: ${args.map(String).join(' ')}`),
  });
  return Object.assign(context, { lines });
}

/** Calls the emulators' control API (/_emulator/...) and answers its JSON, failing on any error status. */
export async function emulatorControl(
  emulatorUrl: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<unknown> {
  const response = await fetch(`${emulatorUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  const text = await response.text();
  return text ? (JSON.parse(text) as unknown) : undefined;
}
