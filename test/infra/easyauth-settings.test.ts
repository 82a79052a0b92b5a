import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Node } from 'web-tree-sitter';
import {
  bicepDir,
  declarationBody,
  literalString,
  namedChildren,
  objectProperties,
  parseBicepFile,
  resources,
  resourceType,
} from './bicep-tree';

/**
 * App Service Authentication is written twice: in Bicep (what Azure gets) and in
 * functionapp.authsettings.json (what the devhost plays with --auth azure, so the browser tests see what
 * Azure does). Every value the JSON holds must be the one Bicep writes, and every globalValidation and
 * token store value Bicep writes must be in the JSON.
 */
const modules = path.join(bicepDir, 'modules');
const jsonFile = path.join(modules, 'functionapp.authsettings.json');

type Value = string | boolean | number | Value[] | { [key: string]: Value } | undefined;

/** A literal Bicep value as JSON; an expression (a parameter, an interpolation) as undefined. */
function literal(node: Node | undefined): Value {
  if (!node) return undefined;
  switch (node.type) {
    case 'object':
      return Object.fromEntries([...objectProperties(node)].map(([key, value]) => [key, literal(value)]));
    case 'array':
      return namedChildren(node).map((item) => literal(item));
    case 'boolean':
      return node.text === 'true';
    case 'number':
      return Number(node.text);
    case 'string':
      return literalString(node);
    default:
      return undefined;
  }
}

async function bicepAuthSettings(): Promise<Record<string, Value>> {
  const file = await parseBicepFile(path.join(modules, 'functionapp.bicep'));
  const auth = resources(file).find(
    (r) =>
      resourceType(r) === 'config' &&
      literalString(objectProperties(declarationBody(r)!).get('name')) === 'authsettingsV2',
  );
  if (!auth) throw new Error('no authsettingsV2 in functionapp.bicep');
  const properties = literal(objectProperties(declarationBody(auth)!).get('properties'));
  return properties as Record<string, Value>;
}

/** Every leaf of `expected`, with its path, compared with the same path in `actual`. */
function differences(expected: Value, actual: Value, at = ''): string[] {
  if (typeof expected === 'object' && !Array.isArray(expected)) {
    return Object.entries(expected).flatMap(([key, value]) =>
      differences(
        value,
        typeof actual === 'object' && !Array.isArray(actual) ? actual[key] : undefined,
        `${at}.${key}`,
      ),
    );
  }
  return JSON.stringify(expected) === JSON.stringify(actual)
    ? []
    : [`${at.slice(1)}: ${JSON.stringify(expected)} vs ${JSON.stringify(actual)}`];
}

describe('App Service Authentication settings', () => {
  it('are the same in the Bicep and in the JSON the devhost plays', async () => {
    const bicep = await bicepAuthSettings();
    const json = JSON.parse(readFileSync(jsonFile, 'utf8')) as Record<string, Value>;

    expect(differences(json, bicep)).toEqual([]);
    const played = {
      globalValidation: bicep.globalValidation,
      login: { tokenStore: (bicep.login as Record<string, Value>).tokenStore },
    };
    expect(differences(played, json)).toEqual([]);
  });

  it('redirect browsers to sign in, answer 401 to API clients, and exclude only the health probe', async () => {
    const bicep = await bicepAuthSettings();

    expect(bicep.globalValidation).toEqual({
      requireAuthentication: true,
      unauthenticatedClientAction: 'RedirectToLoginPage',
      redirectToProvider: 'azureactivedirectory',
      excludedPaths: ['/api/health'],
    });
    expect(bicep.login).toEqual({ tokenStore: { enabled: false } });
  });

  it('notices a difference (the check can fail)', () => {
    expect(
      differences(
        { globalValidation: { unauthenticatedClientAction: 'RedirectToLoginPage' } },
        { globalValidation: { unauthenticatedClientAction: 'Return401' } },
      ),
    ).toEqual(['globalValidation.unauthenticatedClientAction: "RedirectToLoginPage" vs "Return401"']);
  });
});
