import { ManagedIdentityCredential } from '@azure/identity';
import { ConfigError, loadConfig, parseAppInsightsAuthentication } from '../../src/config';
import { azureMonitorExporterOptions } from '../../src/telemetry/setup';

// Application Insights has local auth disabled in Azure (monitoring.bicep), so spans sent with the
// connection string alone are refused: the exporters must carry the managed identity's credential when
// APPLICATIONINSIGHTS_AUTHENTICATION_STRING says Entra ID, as Bicep writes it.

const connectionString =
  'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/';

const telemetryOf = (settings: Record<string, string>) =>
  loadConfig({
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:7072',
    AZURE_OPENAI_FAST_DEPLOYMENT: 'gpt-5.4-mini',
    AZURE_OPENAI_STRONG_DEPLOYMENT: 'gpt-5.4',
    AUTH_MODE: 'dev',
    APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString,
    ...settings,
  }).telemetry;

/** The client id a ManagedIdentityCredential was built for (it keeps it in a private field). */
const clientIdOf = (credential: unknown) => (credential as { clientId?: string }).clientId;

describe('the Azure Monitor exporter options', () => {
  it('carry the user-assigned managed identity when the setting says Entra ID with a client id', () => {
    const options = azureMonitorExporterOptions(
      telemetryOf({
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
          'Authorization=AAD;ClientId=11111111-2222-3333-4444-555555555555',
      }),
    );

    expect(options?.connectionString).toBe(connectionString);
    expect(options?.credential).toBeInstanceOf(ManagedIdentityCredential);
    expect(clientIdOf(options?.credential)).toBe('11111111-2222-3333-4444-555555555555');
  });

  it('carry the system-assigned identity when the setting names no client id', () => {
    const options = azureMonitorExporterOptions(
      telemetryOf({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD' }),
    );

    expect(options?.credential).toBeInstanceOf(ManagedIdentityCredential);
    expect(clientIdOf(options?.credential)).toBeUndefined();
  });

  it('carry no credential without the setting (a component with local auth on), and are absent without a connection string', () => {
    expect(azureMonitorExporterOptions(telemetryOf({}))).toEqual({ connectionString });
    expect(
      azureMonitorExporterOptions(telemetryOf({ APPLICATIONINSIGHTS_CONNECTION_STRING: '' })),
    ).toBeUndefined();
  });

  it('refuse an authentication string that is not Entra ID, rather than export without a credential', () => {
    for (const bad of [
      'Authorization=Key',
      'ClientId=abc',
      'Authorization=AAD;ClientId',
      'Authorization=AAD;Foo=1',
    ]) {
      expect(parseAppInsightsAuthentication(bad)).toBeUndefined();
      expect(() => telemetryOf({ APPLICATIONINSIGHTS_AUTHENTICATION_STRING: bad })).toThrow(ConfigError);
    }
    expect(parseAppInsightsAuthentication(' authorization=AAD ; clientid=abc ')).toEqual({ clientId: 'abc' });
  });
});
