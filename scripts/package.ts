/**
 * `npm run package`: builds the deployment package, the exact files the Function App receives, as a
 * folder and as a zip, and prints where they are and how big.
 *
 *   npm run package -- [--out dist/deploy]
 *
 * What goes in is what `.funcignore` leaves in (the compiled app, host.json, package.json), plus the
 * production dependencies: the lockfile entries that are not dev-only, copied from node_modules and
 * filtered by the same `.funcignore`. azd deploys the folder (azure.yaml `dist`), and
 * `func azure functionapp publish` run from the folder uploads the same files.
 */
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import ignore, { type Ignore } from 'ignore';
import { ZipFile } from 'yazl';

const root = path.resolve(__dirname, '..', '..');

export interface DeploymentPackage {
  /** The unpacked package: what azd zips and what `npm start -- --app DIR` runs. */
  dir: string;
  zip: string;
  /** Paths inside the package, posix separators, sorted. */
  files: string[];
  zipBytes: number;
  unpackedBytes: number;
}

interface LockEntry {
  dev?: boolean;
  link?: boolean;
}

/** The rules of `.funcignore`, as the Functions tooling reads them (gitignore syntax). */
export function funcignore(): Ignore {
  return ignore().add(readFileSync(path.join(root, '.funcignore'), 'utf8'));
}

export async function buildPackage(outDir: string): Promise<DeploymentPackage> {
  const rules = funcignore();
  const dir = path.join(outDir, 'app');
  const zip = path.join(outDir, `${packageName()}.zip`);
  rmSync(dir, { recursive: true, force: true });
  rmSync(zip, { force: true });

  const files: string[] = [];
  const take = (from: string, rel: string) => {
    const to = path.join(dir, rel);
    mkdirSync(path.dirname(to), { recursive: true });
    try {
      // Hard links: the package is a few thousand files, copying them would take longer for nothing.
      linkSync(from, to);
    } catch {
      copyFileSync(from, to);
    }
    files.push(rel);
  };

  // The app's own files. node_modules is taken from the lockfile below, never as installed here,
  // because the installed tree holds the devDependencies too.
  walk(root, '', rules, (rel) => rel === 'node_modules', take);

  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.startsWith('node_modules/') || entry.dev === true || entry.link === true) continue;
    const source = path.join(root, key);
    // An optional package for another platform is in the lockfile but not installed here.
    if (!existsSync(source)) continue;
    // A package's own node_modules holds other lockfile entries; those are taken as entries.
    walk(source, key, rules, (rel) => rel === `${key}/node_modules`, take);
  }
  files.sort();

  const unpackedBytes = files.reduce((sum, rel) => sum + statSync(path.join(dir, rel)).size, 0);
  await writeZip(dir, files, zip);
  return { dir, zip, files, zipBytes: statSync(zip).size, unpackedBytes };
}

function walk(
  from: string,
  rel: string,
  rules: Ignore,
  skip: (rel: string) => boolean,
  take: (from: string, rel: string) => void,
): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
    const child = path.join(from, entry.name);
    if (entry.isDirectory()) {
      if (skip(childRel) || rules.ignores(`${childRel}/`)) continue;
      walk(child, childRel, rules, skip, take);
    } else if (entry.isFile() && !rules.ignores(childRel)) {
      take(child, childRel);
    }
    // Symbolic links (node_modules/.bin) are left out: nothing in the app runs them.
  }
}

function writeZip(dir: string, files: string[], zip: string): Promise<void> {
  const archive = new ZipFile();
  // A fixed time stamp: the same sources make the same zip.
  const mtime = new Date('2020-01-01T00:00:00Z');
  for (const rel of files) {
    const mode = statSync(path.join(dir, rel)).mode;
    archive.addFile(path.join(dir, rel), rel, { mtime, mode });
  }
  return new Promise((resolve, reject) => {
    const out = createWriteStream(zip);
    out.once('close', () => resolve());
    out.once('error', reject);
    archive.outputStream.once('error', reject);
    archive.outputStream.pipe(out);
    archive.end();
  });
}

function packageName(): string {
  return (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string }).name;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { out: { type: 'string', default: path.join(root, 'dist', 'deploy') } },
  });
  const built = await buildPackage(path.resolve(values.out));
  console.log(`Package: ${built.zip}`);
  console.log(
    `  ${mb(built.zipBytes)} zipped (${built.zipBytes} bytes), ${mb(built.unpackedBytes)} in ${built.files.length} files unpacked at ${built.dir}`,
  );
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
