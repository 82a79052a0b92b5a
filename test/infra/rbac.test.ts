import type { Node } from 'web-tree-sitter';
import {
  bicepFiles,
  declarationBody,
  literalString,
  namedChildren,
  objectProperties,
  parseBicepFile,
  relativeName,
  resources,
  resourceType,
  variables,
  type BicepFile,
} from './bicep-tree';

// Every role assignment lives in bicep/modules/rbac.bicep, is named guid(scope, principal, role) so a
// re-deployment is idempotent, and together they grant the app's identity every role the app needs.

const requiredAppRoles: Record<string, string> = {
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  'Cognitive Services OpenAI User': '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd',
  'Azure AI User': '53ca6127-db72-4b80-b1b0-d745d6d5456d',
  // Not in the list, but needed: Application Insights has local auth disabled, and the Durable
  // Task Scheduler (when chosen) accepts only identities with this data role.
  'Monitoring Metrics Publisher': '3913510d-42f4-4e42-8a64-420c390055eb',
  'Durable Task Data Contributor': '0ad04412-c4d5-4796-b79c-f76d14c8d402',
};

interface Assignment {
  file: string;
  line: number;
  name: Node | undefined;
  principal: Node | undefined;
  roleDefinitionId: Node | undefined;
  parsed: BicepFile;
}

async function roleAssignments(): Promise<Assignment[]> {
  const found: Assignment[] = [];
  for (const file of bicepFiles()) {
    const parsed = await parseBicepFile(file);
    for (const resource of resources(parsed)) {
      if (!resourceType(resource).startsWith('Microsoft.Authorization/roleAssignments@')) continue;
      const body = objectProperties(declarationBody(resource)!);
      const properties = body.get('properties');
      const props = properties ? objectProperties(properties) : new Map<string, Node>();
      found.push({
        file: relativeName(file),
        line: resource.startPosition.row + 1,
        name: body.get('name'),
        principal: props.get('principalId'),
        roleDefinitionId: props.get('roleDefinitionId'),
        parsed,
      });
    }
  }
  return found;
}

/** The role GUID of subscriptionResourceId('...roleDefinitions', roles.x) or of a literal GUID. */
function roleGuid(expression: Node | undefined, parsed: BicepFile): string | undefined {
  if (!expression) return undefined;
  const args = expression.childForFieldName('arguments');
  const last = args ? namedChildren(args).at(-1) : expression;
  if (!last) return undefined;
  const literal = literalString(last);
  if (literal) return literal;
  if (last.type === 'member_expression') {
    const object = last.childForFieldName('object')?.text;
    const property = last.childForFieldName('property')?.text;
    const table = object ? variables(parsed).get(object) : undefined;
    return table && property ? literalString(objectProperties(table).get(property)) : undefined;
  }
  return undefined;
}

function guidArguments(name: Node | undefined): Node[] | undefined {
  if (name?.type !== 'call_expression' || name.childForFieldName('function')?.text !== 'guid')
    return undefined;
  const args = name.childForFieldName('arguments');
  return args ? namedChildren(args) : undefined;
}

describe('role assignments', () => {
  it('are all in bicep/modules/rbac.bicep', async () => {
    const elsewhere = (await roleAssignments())
      .filter((a) => a.file !== 'bicep/modules/rbac.bicep')
      .map((a) => `${a.file}:${a.line}`);

    expect(elsewhere).toEqual([]);
  });

  it('have deterministic names: guid(scope, principal, role) with the principal and role they assign', async () => {
    const problems = (await roleAssignments()).flatMap((a) => {
      const args = guidArguments(a.name);
      if (!args || args.length < 3)
        return [`${a.file}:${a.line} name is \`${a.name?.text}\`, not guid(scope, principal, role)`];
      const [, principal, role] = args;
      return [
        ...(principal?.text === a.principal?.text
          ? []
          : [`${a.file}:${a.line} guid() does not use principal ${a.principal?.text}`]),
        ...(roleGuid(role, a.parsed) === roleGuid(a.roleDefinitionId, a.parsed)
          ? []
          : [`${a.file}:${a.line} guid() does not use the role it assigns`]),
      ];
    });

    expect(problems).toEqual([]);
  });

  it.each(Object.entries(requiredAppRoles))('grant the app identity %s', async (_, guid) => {
    const toApp = (await roleAssignments()).filter((a) => a.principal?.text === 'appPrincipalId');

    expect(toApp.map((a) => roleGuid(a.roleDefinitionId, a.parsed))).toContain(guid);
  });

  it('give every assignment a role the test can read, so none escapes the checks above', async () => {
    const unreadable = (await roleAssignments())
      .filter((a) => !/^[0-9a-f-]{36}$/.test(roleGuid(a.roleDefinitionId, a.parsed) ?? ''))
      .map((a) => `${a.file}:${a.line}`);

    expect(unreadable).toEqual([]);
  });
});
