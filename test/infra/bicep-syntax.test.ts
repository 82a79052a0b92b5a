import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  bicepDir,
  bicepFiles,
  declarationBody,
  declarations,
  declaredName,
  literalString,
  namedChildren,
  objectProperties,
  parseBicepFile,
  parseBicepSource,
  relativeName,
  syntaxProblems,
} from './bicep-tree';

// The Bicep compiler is a .NET program and is not available here, so these tests hold the templates to
// what a grammar can prove: they parse, their modules exist, and the parameters file fits main.bicep.

const files = bicepFiles();
const mainBicep = path.join(bicepDir, 'main.bicep');
const parametersFile = path.join(bicepDir, 'main.parameters.json');

describe('the Bicep templates', () => {
  it('include main.bicep and its modules', () => {
    expect(files.map(relativeName)).toEqual(
      expect.arrayContaining([
        'bicep/main.bicep',
        'bicep/modules/ai.bicep',
        'bicep/modules/durabletask.bicep',
        'bicep/modules/functionapp.bicep',
        'bicep/modules/identity.bicep',
        'bicep/modules/monitoring.bicep',
        'bicep/modules/rbac.bicep',
        'bicep/modules/storage.bicep',
      ]),
    );
  });

  it.each(files.map((f) => [relativeName(f), f]))(
    '%s parses without ERROR or MISSING nodes',
    async (_, file) => {
      const { root } = await parseBicepFile(file);

      expect(syntaxProblems(root)).toEqual([]);
    },
  );

  it.each(files.map((f) => [relativeName(f), f]))('every module in %s points at a file', async (_, file) => {
    const parsed = await parseBicepFile(file);
    const modules = declarations(parsed, 'module_declaration').map((m) => ({
      name: declaredName(m),
      target: literalString(namedChildren(m).find((c) => c.type === 'string')),
    }));

    const unresolved = modules
      .filter(({ target }) => target === undefined || !existsSync(path.resolve(path.dirname(file), target)))
      .map(({ name, target }) => `module ${name} '${target ?? '(not a plain string)'}'`);

    expect(unresolved).toEqual([]);
  });
});

describe('the grammar check itself', () => {
  it('reports a broken file: a missing closing brace and a stray token', async () => {
    const broken = ["param location string = 'westeurope'", "resource sa 'x@1' = {", "  name: 'a' ?? ]"].join(
      '\n',
    );

    const { root } = await parseBicepSource(broken);

    expect(syntaxProblems(root).length).toBeGreaterThan(0);
  });

  it('names where the problem is', async () => {
    const { root } = await parseBicepSource('param location string = {\n');

    expect(syntaxProblems(root)).toEqual([expect.stringMatching(/^MISSING } at \d+:\d+$/)]);
  });

  it('accepts a well-formed snippet, so a pass means something', async () => {
    const { root } = await parseBicepSource(
      "param location string = 'westeurope'\noutput where string = location\n",
    );

    expect(syntaxProblems(root)).toEqual([]);
  });
});

describe('main.parameters.json', () => {
  const parameters = (
    JSON.parse(readFileSync(parametersFile, 'utf8')) as { parameters: Record<string, { value: unknown }> }
  ).parameters;

  it('only sets parameters that main.bicep declares', async () => {
    const declared = new Set(
      declarations(await parseBicepFile(mainBicep), 'parameter_declaration').map(declaredName),
    );

    const unknown = Object.keys(parameters).filter((name) => !declared.has(name));

    expect(unknown).toEqual([]);
  });

  it('gives every required parameter of main.bicep a value (azd substitutes ${VAR})', async () => {
    const main = await parseBicepFile(mainBicep);
    // A parameter is required when its declaration has no default: name, type, and nothing after.
    const required = declarations(main, 'parameter_declaration')
      .filter((p) => namedChildren(p).length === 2)
      .map(declaredName);

    expect(required.filter((name) => !(name in parameters))).toEqual([]);
  });

  it('uses the same default in ${VAR=default} as the parameter has in main.bicep', async () => {
    const main = await parseBicepFile(mainBicep);
    const bicepDefaults = new Map(
      declarations(main, 'parameter_declaration').map((p) => {
        const value = namedChildren(p).at(-1);
        return [declaredName(p), literalString(value) ?? value?.text] as const;
      }),
    );

    const disagreements = Object.entries(parameters).flatMap(([name, { value }]) => {
      const match = typeof value === 'string' ? /^\$\{[A-Z0-9_]+=(.*)\}$/.exec(value) : null;
      if (!match) return [];
      const fileDefault = match[1];
      return fileDefault === bicepDefaults.get(name)
        ? []
        : [`${name}: parameters file ${fileDefault}, main.bicep ${bicepDefaults.get(name)}`];
    });

    expect(disagreements).toEqual([]);
  });
});

describe('modules called from main.bicep', () => {
  it('receive only parameters the module declares', async () => {
    const main = await parseBicepFile(mainBicep);

    const problems: string[] = [];
    for (const module of declarations(main, 'module_declaration')) {
      const target = literalString(namedChildren(module).find((c) => c.type === 'string'));
      const body = declarationBody(module);
      if (!target || !body) continue;
      const params = objectProperties(body).get('params');
      const passed = params ? [...objectProperties(params).keys()] : [];
      const moduleFile = await parseBicepFile(path.resolve(bicepDir, target));
      const declared = new Set(declarations(moduleFile, 'parameter_declaration').map(declaredName));
      const required = declarations(moduleFile, 'parameter_declaration')
        .filter((p) => namedChildren(p).length === 2)
        .map(declaredName);
      problems.push(
        ...passed.filter((p) => !declared.has(p)).map((p) => `${target}: no parameter named ${p}`),
        ...required
          .filter((p) => !passed.includes(p))
          .map((p) => `${target}: required parameter ${p} not passed`),
      );
    }

    expect(problems).toEqual([]);
  });
});
