import { ConfigError, loadConfig, settingNames } from '../../src/config';
import sample from '../../local.settings.sample.json';

const validEnv = (): NodeJS.ProcessEnv => ({
  AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:7072',
  AZURE_OPENAI_FAST_DEPLOYMENT: 'gpt-4o-mini',
  AZURE_OPENAI_STRONG_DEPLOYMENT: 'gpt-4o',
  RUN_URL_SIGNING_KEY: 'test-signing-key-0123456789abcdef0123456789',
});

function configErrorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('accepts the minimal local settings and fills in defaults', () => {
    const config = loadConfig(validEnv());
    expect(config.storage).toEqual({
      kind: 'connectionString',
      connectionString: 'UseDevelopmentStorage=true',
    });
    expect(config.openai.apiVersion).toBe('v1');
    expect(config.authMode).toBe('appservice');
    expect(config.taskHubName).toBe('agentruns');
    expect(config.agents).toBeUndefined();
    expect(config.toolsAllowNetwork).toBe(false);
  });

  it('accepts every value in local.settings.sample.json once an endpoint is filled in', () => {
    const config = loadConfig({ ...sample.Values, AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:7072' });
    expect(config.authMode).toBe('dev');
    expect(config.limits.maxSubtasks).toBe(8);
  });

  it('runs in dev mode without a signing key (a public dev key) but refuses a short one', () => {
    const { RUN_URL_SIGNING_KEY: _key, ...withoutKey } = validEnv();
    expect(loadConfig({ ...withoutKey, AUTH_MODE: 'dev' }).runUrlSigningKey).toContain('dev-only');
    expect(configErrorOf({ ...validEnv(), RUN_URL_SIGNING_KEY: 'short' }).message).toMatch(
      /RUN_URL_SIGNING_KEY: expected a random secret of at least 32 characters/,
    );
    expect(configErrorOf({ ...validEnv(), RUN_URL_SIGNING_KEY: 'short' }).message).not.toContain('short"');
  });

  it('lists every missing setting in one message that says where settings live', () => {
    const error = configErrorOf({});
    const keys = error.problems.map((p) => p.key).sort();
    expect(keys).toEqual([
      'AZURE_OPENAI_ENDPOINT',
      'AZURE_OPENAI_FAST_DEPLOYMENT',
      'AZURE_OPENAI_STRONG_DEPLOYMENT',
      'AzureWebJobsStorage',
      'RUN_URL_SIGNING_KEY',
    ]);
    expect(error.message).toContain('Invalid configuration: 5 settings missing or invalid.');
    expect(error.message).toMatch(/- RUN_URL_SIGNING_KEY: missing; required with AUTH_MODE=appservice/);
    expect(error.message).toMatch(/- AZURE_OPENAI_ENDPOINT: missing; expected an http\(s\) URL/);
    expect(error.message).toMatch(/- AzureWebJobsStorage: missing; expected a storage connection string/);
    expect(error.message).toContain('local.settings.json');
    expect(error.message).toContain('local.settings.sample.json');
  });

  it('treats empty strings as missing, as func start and Azure write unset settings', () => {
    const error = configErrorOf({ ...validEnv(), AZURE_OPENAI_ENDPOINT: '  ' });
    expect(error.problems.map((p) => p.key)).toEqual(['AZURE_OPENAI_ENDPOINT']);
    expect(error.problems[0]?.message).toMatch(/^missing;/);
  });

  it('names each invalid value with its expected form', () => {
    const error = configErrorOf({
      ...validEnv(),
      AZURE_OPENAI_ENDPOINT: 'not a url',
      AUTH_MODE: 'open',
      RUN_MAX_SUBTASKS: 'many',
      TOOLS_ALLOW_NETWORK: 'yes',
    });
    const byKey = Object.fromEntries(error.problems.map((p) => [p.key, p.message]));
    expect(Object.keys(byKey).sort()).toEqual([
      'AUTH_MODE',
      'AZURE_OPENAI_ENDPOINT',
      'RUN_MAX_SUBTASKS',
      'TOOLS_ALLOW_NETWORK',
    ]);
    expect(byKey.AZURE_OPENAI_ENDPOINT).toContain('expected an http(s) URL');
    expect(byKey.AZURE_OPENAI_ENDPOINT).toContain('(got "not a url")');
    expect(byKey.AUTH_MODE).toContain('expected dev (local only) or appservice');
    expect(byKey.RUN_MAX_SUBTASKS).toContain('expected a positive whole number');
    expect(byKey.TOOLS_ALLOW_NETWORK).toContain('expected true or false');
  });

  it('never echoes a secret back in the message', () => {
    const error = configErrorOf({ ...validEnv(), AzureWebJobsStorage: undefined, AZURE_OPENAI_API_KEY: 'x' });
    expect(error.message).not.toContain('AccountKey');
    const keyError = configErrorOf({
      ...validEnv(),
      AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountKey=c2VjcmV0',
      AZURE_OPENAI_STRONG_DEPLOYMENT: 'bad name!',
    });
    expect(keyError.message).not.toContain('c2VjcmV0');
  });

  it('requires the Bing connection once the Foundry project is configured', () => {
    const error = configErrorOf({
      ...validEnv(),
      AZURE_AI_PROJECT_ENDPOINT: 'https://acct.services.ai.azure.com/api/projects/p1',
    });
    expect(error.problems.map((p) => p.key)).toEqual(['BING_CONNECTION_ID']);
  });

  it('uses identity-based storage when only the blob service URI is set', () => {
    const config = loadConfig({
      ...validEnv(),
      AzureWebJobsStorage: undefined,
      AzureWebJobsStorage__blobServiceUri: 'https://acct.blob.core.windows.net',
      AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001',
    });
    expect(config.storage).toEqual({
      kind: 'identity',
      blobServiceUri: 'https://acct.blob.core.windows.net',
      clientId: '00000000-0000-0000-0000-000000000001',
    });
  });

  it('knows every key of local.settings.sample.json except the host-only ones', () => {
    const hostOnly = ['FUNCTIONS_WORKER_RUNTIME'];
    expect(
      Object.keys(sample.Values)
        .filter((k) => !hostOnly.includes(k))
        .sort(),
    ).toEqual([...settingNames].sort());
  });
});
