import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Node } from 'web-tree-sitter';
import { modelKindFromName } from '../../src/agents/modelKinds';
import {
  bicepDir,
  declarationBody,
  declarations,
  declaredName,
  descendants,
  literalString,
  namedChildren,
  objectProperties,
  parseBicepFile,
  repoRoot,
  resources,
  resourceType,
} from './bicep-tree';

// The properties the deployment depends on, read from the templates. They cannot prove Azure accepts them (only a
// deployment can), but they stop a property the issue depends on from being dropped or changed unnoticed.

const modules = path.join(bicepDir, 'modules');

async function resourceOf(file: string, typePrefix: string, name?: string): Promise<Node> {
  const parsed = await parseBicepFile(path.join(modules, file));
  const matches = resources(parsed).filter((r) => {
    if (!resourceType(r).startsWith(typePrefix)) return false;
    return name === undefined || literalString(objectProperties(declarationBody(r)!).get('name')) === name;
  });
  if (matches.length !== 1) throw new Error(`expected one ${typePrefix} in ${file}, found ${matches.length}`);
  return declarationBody(matches[0]!)!;
}

/** The value at a dotted path of object properties, as literal text (strings unquoted). */
function at(body: Node, dotted: string): string | undefined {
  let node: Node | undefined = body;
  for (const key of dotted.split('.')) {
    node = node?.type === 'object' ? objectProperties(node).get(key) : undefined;
  }
  return node ? (literalString(node) ?? node.text) : undefined;
}

function arrayItems(body: Node, dotted: string): string[] {
  let node: Node | undefined = body;
  for (const key of dotted.split('.'))
    node = node?.type === 'object' ? objectProperties(node).get(key) : undefined;
  return node?.type === 'array' ? namedChildren(node).map((n) => literalString(n) ?? n.text) : [];
}

describe('the Function App', () => {
  it('runs on the Flex Consumption plan (FC1)', async () => {
    const plan = await resourceOf('functionapp.bicep', 'Microsoft.Web/serverfarms@');

    expect([at(plan, 'sku.name'), at(plan, 'sku.tier')]).toEqual(['FC1', 'FlexConsumption']);
  });

  it('runs Node.js 22 as the user-assigned identity, and deploys its package with that identity', async () => {
    const site = await resourceOf('functionapp.bicep', 'Microsoft.Web/sites@');

    expect(at(site, 'properties.functionAppConfig.runtime.name')).toBe('node');
    expect(at(site, 'properties.functionAppConfig.runtime.version')).toBe('22');
    expect(at(site, 'identity.type')).toBe('UserAssigned');
    expect(at(site, 'properties.functionAppConfig.deployment.storage.authentication.type')).toBe(
      'UserAssignedIdentity',
    );
  });

  it('protects the API and the durable webhook with Microsoft Entra ID, except health', async () => {
    const auth = await resourceOf('functionapp.bicep', 'config', 'authsettingsV2');

    // Browsers are sent to sign in, other clients get 401 (test/infra/easyauth-settings.test.ts).
    expect(at(auth, 'properties.globalValidation.unauthenticatedClientAction')).toBe('RedirectToLoginPage');
    expect(at(auth, 'properties.globalValidation.requireAuthentication')).toBe('true');
    expect(at(auth, 'properties.identityProviders.azureActiveDirectory.enabled')).toBe('true');
    expect(arrayItems(auth, 'properties.globalValidation.excludedPaths')).toEqual(['/api/health']);
  });
});

/** The defaults of main.bicep's parameters, as literal text (strings unquoted). */
async function mainDefaults(): Promise<Map<string, string | undefined>> {
  const main = await parseBicepFile(path.join(bicepDir, 'main.bicep'));
  return new Map(
    declarations(main, 'parameter_declaration').map((p) => {
      const parts = namedChildren(p);
      const value = parts.length > 2 ? parts.at(-1) : undefined;
      return [declaredName(p), value ? (literalString(value) ?? value.text) : undefined] as const;
    }),
  );
}

describe('the Function App on Flex Consumption, for Durable Functions', () => {
  // Learn, "Azure Storage provider for Durable Functions", Flex Consumption plan: set the always ready
  // instance count for the durable group to 1, and the queue polling interval to 10 seconds or less.
  // https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-azure-storage-provider#flex-consumption-plan

  it('keeps one always-ready instance for the durable group by default', async () => {
    const site = await resourceOf('functionapp.bicep', 'Microsoft.Web/sites@');
    let alwaysReady: Node | undefined = site;
    for (const key of 'properties.functionAppConfig.scaleAndConcurrency.alwaysReady'.split('.')) {
      alwaysReady = alwaysReady?.type === 'object' ? objectProperties(alwaysReady).get(key) : undefined;
    }
    const entries = [...descendants(alwaysReady!)]
      .filter((n) => n.type === 'object')
      .map((o) => objectProperties(o))
      .map((o) => ({ name: literalString(o.get('name')), instanceCount: o.get('instanceCount')?.text }));

    expect(entries).toEqual([{ name: 'durable', instanceCount: 'durableAlwaysReadyInstanceCount' }]);
    expect((await mainDefaults()).get('durableAlwaysReadyInstanceCount')).toBe('1');
  });

  it('polls the durable queues at least every 10 seconds, and chose its partition count', () => {
    const host = JSON.parse(readFileSync(path.join(repoRoot, 'host.json'), 'utf8')) as {
      extensions: { durableTask: { storageProvider?: Record<string, unknown> } };
    };
    const provider = host.extensions.durableTask.storageProvider ?? {};
    const polling = /^(\d{2}):(\d{2}):(\d{2})$/.exec(String(provider.maxQueuePollingInterval));
    const seconds = polling ? Number(polling[1]) * 3600 + Number(polling[2]) * 60 + Number(polling[3]) : NaN;

    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual(10);
    // Fixed at the task hub's first start: set here on purpose (docs/deployment.md says why 8).
    expect(provider.partitionCount).toBe(8);
  });

  it('loads an extension bundle with the Durable Task Scheduler provider and orchestration versioning', () => {
    // The GA bundle carries Microsoft.Azure.WebJobs.Extensions.DurableTask.AzureManaged from 4.30.0 on
    // (Azure/azure-functions-extension-bundles, tag 4.30.0, src/Microsoft.Azure.Functions.ExtensionBundle/
    // extensions.json; 4.29.0 has no such entry); versioning for non-.NET apps needs 4.26.0 or later.
    const host = JSON.parse(readFileSync(path.join(repoRoot, 'host.json'), 'utf8')) as {
      extensionBundle: { id: string; version: string };
    };
    const range = /^\[(\d+)\.(\d+)\.(\d+), 5\.0\.0\)$/.exec(host.extensionBundle.version);

    expect(host.extensionBundle.id).toBe('Microsoft.Azure.Functions.ExtensionBundle');
    expect(range).not.toBeNull();
    const [major, minor] = [Number(range![1]), Number(range![2])];
    expect(major === 4 && minor >= 30).toBe(true);
  });
});

describe('the model deployments', () => {
  // The model retirement table (Learn, "Model retirement schedule", Foundry Models sold by Azure, revision
  // of 2026-07-07, read on 2026-12-07): GA models that take new customers, and the ones that no longer do.
  const deployable = new Map([
    ['gpt-5.4-mini', '2026-03-17'],
    ['gpt-5.4', '2026-03-05'],
    ['gpt-5.4-nano', '2026-03-17'],
    ['gpt-5.5', '2026-04-24'],
  ]);
  const gone = [
    'gpt-4o',
    'gpt-4o-mini',
    'gpt-4.1',
    'gpt-4.1-mini',
    'gpt-4.1-nano',
    'o1',
    'o3-mini',
    'o4-mini',
  ];

  it('default to models and versions the retirement table lists as deployable for new customers', async () => {
    const defaults = await mainDefaults();
    for (const tier of ['fast', 'strong']) {
      const model = defaults.get(`${tier}ModelName`) ?? '';
      expect(gone).not.toContain(model);
      expect([model, defaults.get(`${tier}ModelVersion`)]).toEqual([model, deployable.get(model)]);
    }
  });

  it('tell the app the request shape of the models they deploy, and talk the v1 API', async () => {
    const defaults = await mainDefaults();

    for (const tier of ['fast', 'strong']) {
      expect(defaults.get(`${tier}ModelKind`)).toBe(
        modelKindFromName(defaults.get(`${tier}ModelName`) ?? ''),
      );
    }
    expect(defaults.get('openAiApiVersion')).toBe('v1');
  });

  it('follow a retiring version to its replacement instead of stopping', async () => {
    const parsed = await parseBicepFile(path.join(modules, 'ai.bicep'));
    const deployments = resources(parsed).filter((r) =>
      resourceType(r).startsWith('Microsoft.CognitiveServices/accounts/deployments@'),
    );

    expect(deployments.map((d) => at(declarationBody(d)!, 'properties.versionUpgradeOption'))).toEqual([
      'OnceCurrentVersionExpired',
      'OnceCurrentVersionExpired',
    ]);
  });
});

describe('storage and monitoring', () => {
  it('turn shared keys and local auth off', async () => {
    const storage = await resourceOf('storage.bicep', 'Microsoft.Storage/storageAccounts@');
    const insights = await resourceOf('monitoring.bicep', 'Microsoft.Insights/components@');

    expect(at(storage, 'properties.allowSharedKeyAccess')).toBe('false');
    expect(at(storage, 'properties.allowBlobPublicAccess')).toBe('false');
    expect(at(insights, 'properties.DisableLocalAuth')).toBe('true');
  });
});

describe('Azure AI Foundry', () => {
  it('is an AIServices account with project management and no keys', async () => {
    const account = await resourceOf('ai.bicep', 'Microsoft.CognitiveServices/accounts@');

    expect(at(account, 'kind')).toBe('AIServices');
    expect(at(account, 'properties.allowProjectManagement')).toBe('true');
    expect(at(account, 'properties.disableLocalAuth')).toBe('true');
  });

  it('has a project, two model deployments, and Bing grounding connected to the project', async () => {
    const parsed = await parseBicepFile(path.join(modules, 'ai.bicep'));
    const types = resources(parsed).map(resourceType);
    const bing = await resourceOf('ai.bicep', 'Microsoft.Bing/accounts@');
    const connection = await resourceOf(
      'ai.bicep',
      'Microsoft.CognitiveServices/accounts/projects/connections@',
    );

    expect(types.filter((t) => t.startsWith('Microsoft.CognitiveServices/accounts/projects@'))).toHaveLength(
      1,
    );
    expect(
      types.filter((t) => t.startsWith('Microsoft.CognitiveServices/accounts/deployments@')),
    ).toHaveLength(2);
    expect(at(bing, 'kind')).toBe('Bing.Grounding');
    expect(at(connection, 'properties.metadata.ResourceId')).toBe('bing.id');
  });
});
