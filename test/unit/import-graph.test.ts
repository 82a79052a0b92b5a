import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

/**
 * The house as its imports draw it: every relative import (type-only ones too, since a reader follows
 * those as well) between the TypeScript sources of the app, the host, the emulators and the CLI.
 */
const root = resolve(__dirname, '../..');
const trees = ['src', 'devhost/src', 'emulators/src', 'cli/src'];

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourcesUnder(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Resolves a relative specifier the way Node16 resolution does for our extensionless imports. */
function resolveImport(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier.replace(/\.js$/, ''));
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) if (existsSync(candidate)) return candidate;
  return undefined;
}

function drawGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of trees.flatMap((tree) => sourcesUnder(join(root, tree)))) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((i) => i.fileName)
      .filter((s) => s.startsWith('.'))
      .map((s) => {
        const target = resolveImport(file, s);
        if (!target) throw new Error(`${name(file)} imports ${s}, which resolves to no .ts file`);
        return name(target);
      });
    graph.set(name(file), [...new Set(targets)]);
  }
  return graph;
}

/** The pure lib modules: no I/O, no SDK, nothing of the app above them; contracts may use them. */
const pureLib = new Set(['src/lib/errors.ts', 'src/lib/safeErrors.ts', 'src/lib/ids.ts', 'src/lib/json.ts']);

const name = (path: string) => relative(root, path).split(sep).join('/');

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** Every edge from a file matching `from` to a file matching `to`, as "a -> b". */
function edges(graph: Map<string, string[]>, from: RegExp, to: (target: string) => boolean): string[] {
  return [...graph].flatMap(([file, targets]) =>
    from.test(file) ? targets.filter(to).map((t) => `${file} -> ${t}`) : [],
  );
}

describe('the import graph', () => {
  const graph = drawGraph();

  it('is drawn from all four trees', () => {
    for (const tree of trees) expect([...graph.keys()].some((f) => f.startsWith(`${tree}/`))).toBe(true);
  });

  it('has no import cycle', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('has no cycle between folders either', () => {
    // Each folder below a tree's top is one room: rooms import one way. Files at a tree's top (index.ts,
    // config.ts, names.ts, log.ts, ...) are rooms of their own, and so are the pure lib modules, which
    // sit below the contracts while the rest of lib/ uses them.
    const roomOf = (file: string) => {
      if (pureLib.has(file)) return file;
      const tree = trees.find((t) => file.startsWith(`${t}/`)) ?? '';
      const inner = file.slice(tree.length + 1).split('/');
      return inner.length > 1 ? `${tree}/${inner[0]}/` : file;
    };
    const rooms = new Map<string, string[]>();
    for (const [file, targets] of graph) {
      const from = roomOf(file);
      const to = targets.map(roomOf).filter((room) => room !== from);
      rooms.set(from, [...new Set([...(rooms.get(from) ?? []), ...to])]);
    }
    expect(cycles(rooms)).toEqual([]);
  });

  it('keeps the app free of the host and the emulators', () => {
    expect(edges(graph, /^src\//, (t) => !t.startsWith('src/'))).toEqual([]);
  });

  it('lets contracts depend only on contracts and the pure helpers of lib', () => {
    expect(
      edges(graph, /^src\/contracts\//, (t) => !t.startsWith('src/contracts/') && !pureLib.has(t)),
    ).toEqual([]);
  });

  it('lets the HTTP layer and the lifecycle use the names, not the orchestrators', () => {
    expect(
      edges(graph, /^src\/(functions|lifecycle|runView)\//, (t) => t.startsWith('src/orchestrators/')),
    ).toEqual([]);
  });

  it('has one module that reserves and settles tokens for every orchestration', () => {
    const callers = [...graph.keys()].filter(
      (file) =>
        file.startsWith('src/orchestrators/') &&
        /callEntity\([^)]*'(reserve|settle)'/.test(readFileSync(join(root, file), 'utf8')),
    );
    expect(callers).toEqual(['src/orchestrators/reservation.ts']);
  });

  it("gives the CLI the app's run view type", () => {
    expect(graph.get('cli/src/render.ts')).toContain('src/runView/view.ts');
  });

  it('keeps the pure lib modules pure', () => {
    expect(
      edges(graph, /^src\/lib\//, (t) => !pureLib.has(t)).filter((e) =>
        pureLib.has(e.split(' -> ')[0] ?? ''),
      ),
    ).toEqual([]);
  });

  it('keeps the names and id rules below everything else in the app', () => {
    expect(edges(graph, /^src\/names\.ts$/, () => true)).toEqual([]);
  });

  it("keeps the devhost's shared HTTP helpers below the parts that use them", () => {
    // httpIo.ts serves the server, the management API and the dashboard: it imports nothing of the
    // devhost, and nothing below the server reaches up into http/.
    expect(edges(graph, /^devhost\/src\/httpIo\.ts$/, () => true)).toEqual([]);
    expect(
      edges(graph, /^devhost\/src\/(durable|dashboard|functions)\//, (t) =>
        t.startsWith('devhost/src/http/'),
      ),
    ).toEqual([]);
    // The dashboard shows instances with the durable code's status shaping, not through its routes.
    expect(
      edges(graph, /^devhost\/src\/dashboard\//, (t) => t === 'devhost/src/durable/management.ts'),
    ).toEqual([]);
  });

  it('keeps the CLI and the emulators out of the app and the host', () => {
    expect(edges(graph, /^emulators\/src\//, (t) => !t.startsWith('emulators/src/'))).toEqual([]);
    expect(edges(graph, /^(src|devhost\/src|emulators\/src)\//, (t) => t.startsWith('cli/src/'))).toEqual([]);
  });
});
