import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Language, Parser, type Node } from 'web-tree-sitter';

/**
 * Reads Bicep through the tree-sitter-bicep grammar (WebAssembly, through web-tree-sitter), so the infra
 * tests can read the templates' structure; the Bicep CLI (bicep/cli/check.sh) compiles and lints them in CI.
 * A grammar is not the compiler: it proves syntax and lets tests read structure, not types or API shapes.
 */

export const repoRoot = path.resolve(__dirname, '..', '..');
export const bicepDir = path.join(repoRoot, 'bicep');

const grammarWasm = path.join(repoRoot, 'node_modules', 'tree-sitter-bicep', 'tree-sitter-bicep.wasm');

let parser: Promise<Parser> | undefined;

/** One parser per test file; loading the grammar takes a few milliseconds. */
export function bicepParser(): Promise<Parser> {
  parser ??= (async () => {
    await Parser.init();
    // Bytes, not a path: given a path, web-tree-sitter reads it with a dynamic import() that Jest's module
    // sandbox refuses. A Uint8Array made here belongs to the same realm as web-tree-sitter's check.
    const language = await Language.load(new Uint8Array(readFileSync(grammarWasm)));
    return new Parser().setLanguage(language);
  })();
  return parser;
}

export interface BicepFile {
  /** Path relative to the repository root, with forward slashes, for messages. */
  readonly name: string;
  readonly path: string;
  readonly root: Node;
}

export async function parseBicepSource(source: string, name = '(inline)'): Promise<BicepFile> {
  const tree = (await bicepParser()).parse(source);
  if (!tree) throw new Error(`tree-sitter returned no tree for ${name}`);
  return { name, path: name, root: tree.rootNode };
}

export async function parseBicepFile(file: string): Promise<BicepFile> {
  const parsed = await parseBicepSource(readFileSync(file, 'utf8'), relativeName(file));
  return { ...parsed, path: file };
}

export function relativeName(file: string): string {
  return path.relative(repoRoot, file).split(path.sep).join('/');
}

/** Every .bicep file under bicep/, sorted, as absolute paths. */
export function bicepFiles(dir = bicepDir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return bicepFiles(full);
      return entry.name.endsWith('.bicep') ? [full] : [];
    })
    .sort();
}

const commentTypes = new Set(['comment', 'diagnostic_comment']);

/** Named children without comments (and without the nulls web-tree-sitter's typings allow). */
export function namedChildren(node: Node): Node[] {
  return node.namedChildren.filter((c): c is Node => c !== null && !commentTypes.has(c.type));
}

export function* descendants(node: Node): Generator<Node> {
  for (const child of node.children) {
    if (!child) continue;
    yield child;
    yield* descendants(child);
  }
}

/** ERROR and MISSING nodes, each as "ERROR at line:column near `text`". Empty means it parsed cleanly. */
export function syntaxProblems(root: Node): string[] {
  const problems: string[] = [];
  for (const node of [root, ...descendants(root)]) {
    const where = `${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
    if (node.isMissing) problems.push(`MISSING ${node.type} at ${where}`);
    else if (node.isError) problems.push(`ERROR at ${where} near \`${node.text.slice(0, 60)}\``);
  }
  return problems;
}

/** The text of a string literal without interpolation; undefined for anything else. */
export function literalString(node: Node | undefined): string | undefined {
  if (node?.type !== 'string') return undefined;
  const parts = namedChildren(node);
  if (parts.some((p) => p.type !== 'string_content' && p.type !== 'escape_sequence')) return undefined;
  return parts.map((p) => p.text).join('');
}

/** Top-level declarations of one kind: parameter_declaration, variable_declaration, module_declaration... */
export function declarations(file: BicepFile, type: string): Node[] {
  return namedChildren(file.root).filter((n) => n.type === type);
}

/** The declared name: the first identifier of a param, var, output, module or resource declaration. */
export function declaredName(declaration: Node): string {
  const id = namedChildren(declaration).find((c) => c.type === 'identifier');
  if (!id) throw new Error(`no name in ${declaration.type} at line ${declaration.startPosition.row + 1}`);
  return id.text;
}

/** The key of an object property, whether written as an identifier or as a quoted string. */
export function propertyKey(property: Node): string {
  const [key] = namedChildren(property);
  const text = key?.type === 'identifier' ? key.text : literalString(key);
  if (text === undefined)
    throw new Error(`unreadable property key at line ${property.startPosition.row + 1}`);
  return text;
}

/** key -> value of the properties written directly in an object literal (nested resources skipped). */
export function objectProperties(object: Node): Map<string, Node> {
  const properties = new Map<string, Node>();
  for (const property of namedChildren(object)) {
    if (property.type !== 'object_property') continue;
    const parts = namedChildren(property);
    if (parts.length < 2 || parts[0]?.type === 'resource_declaration') continue;
    const value = parts[parts.length - 1];
    if (value) properties.set(propertyKey(property), value);
  }
  return properties;
}

/** The body object of a resource or module declaration, through `if (...)` and `for ... :` forms. */
export function declarationBody(declaration: Node): Node | undefined {
  const last = namedChildren(declaration).at(-1);
  if (!last) return undefined;
  if (last.type === 'object') return last;
  return [...descendants(last)].find((n) => n.type === 'object' && n.parent?.type !== 'object_property');
}

/** Every resource declaration in a file, including resources nested inside other resources. */
export function resources(file: BicepFile): Node[] {
  return [...descendants(file.root)].filter((n) => n.type === 'resource_declaration');
}

/** The type string of a resource, such as 'Microsoft.Web/sites@2024-04-01' or 'config' when nested. */
export function resourceType(resource: Node): string {
  const type = literalString(namedChildren(resource).find((c) => c.type === 'string'));
  if (type === undefined)
    throw new Error(`no type string on resource at line ${resource.startPosition.row + 1}`);
  return type;
}

/** Variable declarations of a file by name, for following `identifier` references to their values. */
export function variables(file: BicepFile): Map<string, Node> {
  const values = new Map<string, Node>();
  for (const declaration of declarations(file, 'variable_declaration')) {
    const value = namedChildren(declaration).at(-1);
    if (value) values.set(declaredName(declaration), value);
  }
  return values;
}

/**
 * The entries (key -> value expression) an object-valued expression can produce: object literals,
 * union(...) of them, both branches of a ternary, parentheses, and variables of the same file. Anything
 * else (a parameter, a function result) cannot be read from the template, so it is an error rather than
 * a silent gap.
 */
export function objectEntries(expression: Node, vars: Map<string, Node>): Map<string, Node> {
  const entries = new Map<string, Node>();
  const visit = (node: Node, trail: string[]): void => {
    switch (node.type) {
      case 'object':
        for (const [key, value] of objectProperties(node)) entries.set(key, value);
        return;
      case 'parenthesized_expression':
        namedChildren(node).forEach((n) => visit(n, trail));
        return;
      case 'ternary_expression': {
        const consequence = node.childForFieldName('consequence');
        const alternative = node.childForFieldName('alternative');
        if (consequence) visit(consequence, trail);
        if (alternative) visit(alternative, trail);
        return;
      }
      case 'call_expression': {
        const fn = node.childForFieldName('function')?.text;
        const args = node.childForFieldName('arguments');
        if (fn === 'union' && args) {
          namedChildren(args).forEach((n) => visit(n, trail));
          return;
        }
        break;
      }
      case 'identifier': {
        const value = vars.get(node.text);
        if (value && !trail.includes(node.text)) {
          visit(value, [...trail, node.text]);
          return;
        }
        break;
      }
    }
    throw new Error(
      `cannot read object keys from \`${node.text.slice(0, 80)}\` (line ${node.startPosition.row + 1}): ` +
        'write app settings as object literals, union(...) of them, or variables of the same file',
    );
  };
  visit(expression, []);
  return entries;
}
