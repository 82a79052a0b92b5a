import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Node } from 'web-tree-sitter';
import { parseAppInsightsAuthentication, settingNames, settingsSchema } from '../../src/config';
import {
  bicepDir,
  bicepFiles,
  declarationBody,
  declarations,
  declaredName,
  literalString,
  namedChildren,
  objectEntries,
  objectProperties,
  parseBicepFile,
  relativeName,
  repoRoot,
  resources,
  resourceType,
  variables,
  type BicepFile,
} from './bicep-tree';

// One set of settings: what Bicep writes to the Function App, what local.settings.sample.json lists, and
// what src/config.ts reads are the same keys, except for the gaps below, each with its reason. A key
// that appears in one place and not the others fails the test with its name and where it is missing.

type Place = 'bicep' | 'sample' | 'config';

const placeNames: Record<Place, string> = {
  bicep: 'the Function App settings in bicep/',
  sample: 'local.settings.sample.json',
  config: 'settingsSchema in src/config.ts',
};

/** Keys that are deliberately not in all three places. Every other key must be in all three. */
const allowedGaps: Record<string, { onlyIn: Place[]; why: string }> = {
  // --- Host-level settings: the Functions host reads them in Azure; the app code never does. ---
  AzureWebJobsStorage__queueServiceUri: {
    onlyIn: ['bicep'],
    why: 'identity-based host storage: the host and the Azure Storage durable provider use queues',
  },
  AzureWebJobsStorage__tableServiceUri: {
    onlyIn: ['bicep'],
    why: 'identity-based host storage: the Azure Storage durable provider keeps history in tables',
  },
  AzureWebJobsStorage__credential: {
    onlyIn: ['bicep'],
    why: 'tells the host to authenticate to storage with a managed identity (value managedidentity)',
  },
  AzureWebJobsStorage__clientId: {
    onlyIn: ['bicep'],
    why: 'which managed identity the host uses for storage (the user-assigned one)',
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    onlyIn: ['sample', 'config'],
    why: 'local only: an OTLP collector on the developer machine; Azure uses Application Insights',
  },
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: {
    onlyIn: ['bicep'],
    why: 'only with durableStorageProvider=DurableTaskScheduler: the endpoint the Durable extension uses',
  },
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: {
    onlyIn: ['bicep'],
    why: 'only with the Durable Task Scheduler: overrides host.json storageProvider.type (azureManaged)',
  },
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: {
    onlyIn: ['bicep'],
    why: 'only with the Durable Task Scheduler: names the setting that holds its connection string',
  },

  // --- Local-only settings: func start needs them, Azure must not have them. ---
  FUNCTIONS_WORKER_RUNTIME: {
    onlyIn: ['sample'],
    why: 'func start reads it locally; on Flex Consumption functionAppConfig.runtime replaces it and the app setting is not allowed',
  },
  AzureWebJobsStorage: {
    onlyIn: ['sample', 'config'],
    why: 'a connection string (Azurite locally); Azure uses the identity-based AzureWebJobsStorage__* form because shared keys are disabled',
  },
  AZURE_OPENAI_API_KEY: {
    onlyIn: ['sample', 'config'],
    why: 'optional key for local runs against a keyed endpoint; in Azure the account has local auth disabled and the app uses its identity',
  },
};

const places: Place[] = ['bicep', 'sample', 'config'];

async function parsedBicep(): Promise<BicepFile[]> {
  return Promise.all(bicepFiles().map(parseBicepFile));
}

/** The one `config` resource named 'appsettings' under Microsoft.Web/sites, with its file. */
async function appSettingsResource(): Promise<{ file: BicepFile; properties: Node }> {
  const found: { file: BicepFile; properties: Node }[] = [];
  for (const file of await parsedBicep()) {
    for (const resource of resources(file)) {
      const type = resourceType(resource);
      if (type !== 'config' && !type.startsWith('Microsoft.Web/sites/config@')) continue;
      const body = declarationBody(resource);
      const fields = body ? objectProperties(body) : new Map<string, Node>();
      const properties = fields.get('properties');
      if (literalString(fields.get('name')) === 'appsettings' && properties) found.push({ file, properties });
    }
  }
  if (found.length !== 1) {
    throw new Error(`expected one Function App 'appsettings' resource in bicep/, found ${found.length}`);
  }
  return found[0]!;
}

async function bicepSettings(): Promise<Map<string, Node>> {
  const { file, properties } = await appSettingsResource();
  return objectEntries(properties, variables(file));
}

function sampleSettings(): string[] {
  const sample = JSON.parse(readFileSync(path.join(repoRoot, 'local.settings.sample.json'), 'utf8')) as {
    Values: Record<string, string>;
  };
  return Object.keys(sample.Values);
}

describe('app settings: bicep/, local.settings.sample.json and src/config.ts', () => {
  it('are one set, apart from the documented host-only and local-only gaps', async () => {
    const found: Record<Place, Set<string>> = {
      bicep: new Set((await bicepSettings()).keys()),
      sample: new Set(sampleSettings()),
      config: new Set(settingNames),
    };
    const allKeys = new Set([...places.flatMap((p) => [...found[p]]), ...Object.keys(allowedGaps)]);

    const drift = [...allKeys].sort().flatMap((key) => {
      const expected = allowedGaps[key]?.onlyIn ?? places;
      const present = places.filter((p) => found[p].has(key));
      const missing = expected.filter((p) => !found[p].has(key));
      const unexpected = present.filter((p) => !expected.includes(p));
      if (present.length === 0)
        return [`${key}: listed in allowedGaps but found nowhere; remove it from the list`];
      return [
        ...missing.map(
          (p) =>
            `${key}: missing from ${placeNames[p]} (found in ${present.map((q) => placeNames[q]).join(', ')})`,
        ),
        ...unexpected.map(
          (p) =>
            `${key}: in ${placeNames[p]}, but allowedGaps says only ${expected.map((q) => placeNames[q]).join(', ')}`,
        ),
      ];
    });

    expect(drift).toEqual([]);
  });

  it('read the app settings from the template itself, not from a loose text search', async () => {
    const keys = [...(await bicepSettings()).keys()];

    // Spot checks that the reader follows union(), the ternary and the variables it is built from.
    expect(keys).toEqual(
      expect.arrayContaining(['AUTH_MODE', 'TASK_HUB_NAME', 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING']),
    );
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('set AUTH_MODE to appservice in Azure: callers come from App Service Authentication', async () => {
    const settings = await bicepSettings();

    expect(literalString(settings.get('AUTH_MODE'))).toBe('appservice');
  });

  it('authenticate telemetry with the app identity, in the form the app and the host read', async () => {
    const settings = await bicepSettings();
    const value = settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')?.text;

    // The same identity as the app's other settings.
    expect(value).toBe("'Authorization=AAD;ClientId=${identityClientId}'");
    expect(settings.get('AZURE_CLIENT_ID')?.text).toBe('identityClientId');
    expect(
      parseAppInsightsAuthentication(value!.slice(1, -1).replace('${identityClientId}', 'id-1')),
    ).toEqual({
      clientId: 'id-1',
    });
  });

  it('never put a key or connection string with a secret into an app setting', async () => {
    const settings = await bicepSettings();
    const secretLooking = [...settings.entries()]
      .filter(([, value]) => /listKeys|AccountKey=|SharedAccessSignature/i.test(value.text))
      .map(([key]) => key);

    expect(secretLooking).toEqual([]);
  });
});

describe('defaults: main.bicep parameters and src/config.ts', () => {
  it('agree for every setting Bicep takes straight from a main.bicep parameter', async () => {
    const settings = await bicepSettings();
    const { file: appFile } = await appSettingsResource();
    const main = await parseBicepFile(path.join(bicepDir, 'main.bicep'));

    // Which module parameter feeds each setting, then which main.bicep parameter feeds that.
    const appModule = declarations(main, 'module_declaration').find((m) =>
      namedChildren(m).some((c) => c.type === 'string' && c.text.includes(path.basename(appFile.path))),
    );
    const moduleArgs = objectProperties(objectProperties(declarationBody(appModule!)!).get('params')!);
    const mainDefaults = new Map(
      declarations(main, 'parameter_declaration').map((p) => {
        const parts = namedChildren(p);
        const value = parts.length > 2 ? parts.at(-1) : undefined;
        return [declaredName(p), value ? (literalString(value) ?? value.text) : undefined] as const;
      }),
    );
    const shape = settingsSchema.shape as Record<
      string,
      { safeParse(v: unknown): { success: boolean; data?: unknown } }
    >;

    const compared: string[] = [];
    const disagreements = [...settings.entries()].flatMap(([key, value]) => {
      const schema = shape[key];
      const configDefault = schema?.safeParse(undefined);
      if (!configDefault?.success || configDefault.data === undefined) return [];
      const moduleParam = [value, ...descendantsOf(value)].find(
        (n) => n.type === 'identifier' && n.parent?.type !== 'call_expression',
      );
      const mainArg = moduleParam ? moduleArgs.get(moduleParam.text) : undefined;
      if (mainArg?.type !== 'identifier' || !mainDefaults.has(mainArg.text)) return [];
      compared.push(key);
      const bicepDefault = mainDefaults.get(mainArg.text);
      // Bicep writes 8 and false; zod gives 8 and false; strings compare without quotes.
      const codeDefault =
        typeof configDefault.data === 'string' ? configDefault.data : JSON.stringify(configDefault.data);
      return bicepDefault === codeDefault
        ? []
        : [`${key}: main.bicep ${mainArg.text} = ${bicepDefault}, src/config.ts default ${codeDefault}`];
    });

    expect(disagreements).toEqual([]);
    // Guard against a reader that silently compares nothing.
    expect(compared).toEqual(
      expect.arrayContaining(['RUN_MAX_SUBTASKS', 'TASK_HUB_NAME', 'TOOLS_ALLOW_NETWORK']),
    );
  });
});

function descendantsOf(node: Node): Node[] {
  return namedChildren(node).flatMap((c) => [c, ...descendantsOf(c)]);
}

describe('the allowedGaps list', () => {
  it('gives a reason for every entry', () => {
    const withoutReason = Object.entries(allowedGaps)
      .filter(([, gap]) => gap.why.trim().length < 20 || gap.onlyIn.length === 0)
      .map(([key]) => key);

    expect(withoutReason).toEqual([]);
  });

  it('is the one documented in docs/deployment.md', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs', 'deployment.md'), 'utf8');

    expect(Object.keys(allowedGaps).filter((key) => !doc.includes(`\`${key}\``))).toEqual([]);
  });
});

describe('where the templates say they are', () => {
  it('keep the app settings in the functionapp module', async () => {
    const { file } = await appSettingsResource();

    expect(relativeName(file.path)).toBe('bicep/modules/functionapp.bicep');
  });
});
