/**
 * Fidelity to the Durable Task extension: orchestration versions from host.json, the 16 KB custom status
 * limit, the warning for a storageProvider, and log lines a person can read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type DevHostProcess, startDevHostProcess } from './harness';
import { type Status, call, fixture, pollUntil, sleep, waitForLog } from './support';

jest.setTimeout(30_000);

describe('versions, limits and log lines', () => {
  let host: DevHostProcess;
  const webhook = (route: string) => `${host.baseUrl}/runtime/webhooks/durabletask${route}`;
  const status = async (id: string) =>
    (await call<Status & { version?: string }>(webhook(`/instances/${id}`))).body;
  const begin = async (name: string, id: string, input?: unknown, query = '') => {
    const answer = await call(webhook(`/orchestrators/${name}/${id}${query}`), {
      method: 'POST',
      ...(input !== undefined ? { body: input } : {}),
    });
    expect(answer.status).toBe(202);
  };
  const done = (id: string) =>
    pollUntil(
      () => status(id),
      (s) => ['Completed', 'Failed', 'Terminated'].includes(s.runtimeStatus),
    );

  beforeAll(async () => {
    host = await startDevHostProcess({ appDir: fixture('fidelity-app') });
  });
  afterAll(async () => {
    await host.stop();
  });

  it('warns once that a storageProvider in host.json is not used', () => {
    const warnings = host
      .logs()
      .match(/WARNING: host\.json sets extensions\.durableTask\.storageProvider \(type 'azureManaged'\)/g);
    expect(warnings).toHaveLength(1);
  });

  it('gives a new orchestration the defaultVersion, in status, context.df.version and its sub-orchestrations', async () => {
    await begin('Versioned', 'v-default');
    const finished = await done('v-default');
    expect(finished).toMatchObject({
      runtimeStatus: 'Completed',
      version: '2.0',
      output: { version: '2.0', child: '2.0' },
    });
  });

  it('runs an older version (CurrentOrOlder) and holds back a newer one (Reject) without failing it', async () => {
    await begin('Versioned', 'v-old', undefined, '?version=1.5');
    // The child named no version, so it gets the host's defaultVersion, not its parent's 1.5.
    expect(await done('v-old')).toMatchObject({ output: { version: '1.5', child: '2.0' } });
    await begin('Versioned', 'v-new', undefined, '?version=3.0');
    await waitForLog(() => host.logs(), /Orchestration 'v-new' is not run: .*'3\.0'.*'2\.0'/);
    await sleep(200);
    expect(await status('v-new')).toMatchObject({ runtimeStatus: 'Pending', version: '3.0' });
  });

  it('fails an orchestration whose custom status is over 16 KB of UTF-16 JSON, with the extension’s message, and keeps one at the limit', async () => {
    await begin('BigStatus', 'big', 8704);
    const failed = await done('big');
    expect(failed).toMatchObject({
      runtimeStatus: 'Failed',
      output:
        "Orchestrator function 'BigStatus' failed: The UTF-16 size of the JSON-serialized payload must not " +
        'exceed 16 KB. The current payload size is 17 KB.',
    });
    await begin('BigStatus', 'fits', 8703);
    expect(await done('fits')).toMatchObject({ runtimeStatus: 'Completed' });
  });

  it('logs why an activity failed, one line per stage, escalation and end, and not the app’s durable API calls', async () => {
    await begin('FailingActivity', 'fa');
    await done('fa');
    await waitForLog(
      () => host.logs(),
      /Executed 'Functions\.Fails' \(Failed, Id=[0-9a-f-]+, Duration=\d+ms\): .*the disk is full/,
    );
    await waitForLog(() => host.logs(), /Orchestration 'FailingActivity' \(fa\) failed: .*the disk is full/);

    await begin('Stages', 'st');
    await waitForLog(() => host.logs(), /Orchestration 'Stages' \(st\): awaiting-approval/);
    await call(webhook('/instances/st/raiseEvent/go'), { body: 1 });
    await waitForLog(() => host.logs(), /Orchestration 'Stages' \(st\): approval escalated/);
    await call(webhook('/instances/st/raiseEvent/go'), { body: 2 });
    await done('st');
    await waitForLog(() => host.logs(), /Orchestration 'Stages' \(st\) completed \(expired\)/);
    expect(host.logs().match(/\(st\): awaiting-approval/g)).toHaveLength(1);
    // The status polls above went to the public base; the rpc base the app's client uses is not logged.
    await waitForLog(() => host.logs(), /GET \/runtime\/webhooks\/durabletask\/instances\/st /);
    const rpc = await call(`${host.baseUrl}/durabletask/instances/st`);
    expect(rpc.status).toBe(200);
    await sleep(50);
    expect(host.logs()).not.toMatch(/GET \/durabletask\/instances\/st/);
  });
});

describe('a version bump while a run waits', () => {
  let dataDir: string;
  let host: DevHostProcess | undefined;
  const webhook = (route: string) => `${host?.baseUrl ?? ''}/runtime/webhooks/durabletask${route}`;
  const status = async (id: string) =>
    (await call<Status & { version?: string }>(webhook(`/instances/${id}`))).body;

  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'devhost-version-bump-'));
  });
  afterAll(async () => {
    await host?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('gives a child the version its parent names, and a child that names none the new defaultVersion', async () => {
    host = await startDevHostProcess({ appDir: fixture('version-bump-app'), dataDir });
    expect((await call(webhook('/orchestrators/FanOutAfterWait/bump'), { method: 'POST' })).status).toBe(202);
    await pollUntil(
      () => status('bump'),
      (s) => s.runtimeStatus === 'Running',
    );
    await host.stop();

    // The next deployment: host.json's defaultVersion is now 1.1 (here through the app setting that
    // overrides it, as in Azure).
    host = await startDevHostProcess({
      appDir: fixture('version-bump-app'),
      dataDir,
      env: { AzureFunctionsJobHost__extensions__durableTask__defaultVersion: '1.1' },
    });
    expect((await call(webhook('/instances/bump/raiseEvent/go'), { body: { go: true } })).status).toBe(202);
    const ended = await pollUntil(
      () => status('bump'),
      (s) => ['Completed', 'Failed'].includes(s.runtimeStatus),
    );
    expect(ended).toMatchObject({
      runtimeStatus: 'Completed',
      version: '1.0',
      output: { version: '1.0', asked: '1.0', unnamed: '1.1' },
    });
    expect(await status('bump-asked')).toMatchObject({ version: '1.0' });
    expect(await status('bump-unnamed')).toMatchObject({ version: '1.1' });
  });
});

describe('versionFailureStrategy Fail', () => {
  let host: DevHostProcess;
  const webhook = (route: string) => `${host.baseUrl}/runtime/webhooks/durabletask${route}`;

  beforeAll(async () => {
    host = await startDevHostProcess({ appDir: fixture('version-fail-app') });
  });
  afterAll(async () => {
    await host.stop();
  });

  it('fails a mismatched version (Strict) with the framework’s message, and runs the matching one', async () => {
    for (const [id, version] of [
      ['older', '1.0'],
      ['same', '2.0'],
    ] as const) {
      const answer = await call(webhook(`/orchestrators/Versioned/${id}?version=${version}`), {
        method: 'POST',
      });
      expect(answer.status).toBe(202);
    }
    const ended = (id: string) =>
      pollUntil(
        async () => (await call<Status>(webhook(`/instances/${id}`))).body,
        (s) => ['Completed', 'Failed'].includes(s.runtimeStatus),
      );
    expect(await ended('older')).toMatchObject({
      runtimeStatus: 'Failed',
      output: 'Orchestration version did not comply with Worker Versioning',
    });
    expect(await ended('same')).toMatchObject({
      runtimeStatus: 'Completed',
      output: { version: '2.0', child: '2.0' },
    });
  });
});
