import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  bicepDir,
  declarations,
  declaredName,
  literalString,
  namedChildren,
  parseBicepFile,
} from './bicep-tree';

// The Bicep CLI (bicep/cli/check.sh, run by CI) compiles and lints the templates: syntax, types, module
// paths and module parameters. What it cannot see is azd's parameters file, whose values are ${VAR=default}
// strings that azd substitutes before the compiler runs; these tests hold that file to main.bicep.

const mainBicep = path.join(bicepDir, 'main.bicep');
const parametersFile = path.join(bicepDir, 'main.parameters.json');

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
