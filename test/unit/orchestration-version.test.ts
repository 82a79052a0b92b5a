import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { OrchestrationContext } from 'durable-functions';
import {
  compareVersions,
  currentOrchestrationVersion,
  versionAtLeast,
} from '../../src/orchestrators/version';

const contextAt = (version: string | undefined) => ({ df: { version } }) as unknown as OrchestrationContext;

describe('orchestration versions', () => {
  it('starts new runs with the version the code branches against (host.json defaultVersion)', () => {
    const host = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'host.json'), 'utf8')) as {
      extensions: { durableTask: Record<string, unknown> };
      extensionBundle: { version: string };
    };
    expect(host.extensions.durableTask).toMatchObject({
      defaultVersion: currentOrchestrationVersion,
      versionMatchStrategy: 'CurrentOrOlder',
      versionFailureStrategy: 'Reject',
    });
    // Orchestration versioning needs extension bundle 4.26.0 or later for non-.NET apps; the range starts
    // at 4.30.0 for the Durable Task Scheduler provider (test/infra/deployment-shape.test.ts).
    expect(host.extensionBundle.version).toBe('[4.30.0, 5.0.0)');
  });

  it.each([
    ['1.0', '1.0', 0],
    ['1.0', '1', 0],
    ['1.0', '1.1', -1],
    ['1.2', '1.10', -1],
    ['2', '1.10', 1],
    [undefined, '1.0', -1],
    ['', '0', 0],
  ])('compares %p with %p as %p', (a, b, expected) => {
    expect(Math.sign(compareVersions(a, b))).toBe(expected);
  });

  it('takes the new branch only for runs started at that version or later', () => {
    expect(versionAtLeast(contextAt('1.1'), '1.1')).toBe(true);
    expect(versionAtLeast(contextAt('1.0'), '1.1')).toBe(false);
    expect(versionAtLeast(contextAt(undefined), '1.0')).toBe(false);
  });
});
