import { ManagedIdentityCredential } from '@azure/identity';
import {
  AzureMonitorTraceExporter,
  type AzureMonitorExporterOptions,
} from '@azure/monitor-opentelemetry-exporter';
import { useAzureMonitor } from '@azure/monitor-opentelemetry';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { TelemetryConfig } from '../config';
import { DerivedIdGenerator, setRunTreeExport } from './runTree';
import { tracerName } from './spans';

/** The service name spans carry, locally; in Azure the distro names it after the Function App. */
export const serviceName = 'durable-agent-runs';

export type TelemetryExport = 'azure-monitor' | 'otlp' | 'none';

/**
 * Chooses where spans go, once per process, at app start. Azure: the Azure Monitor distro, which the
 * Bicep-created Application Insights component receives. Locally: an OTLP/HTTP collector when one is
 * configured. Otherwise no provider is registered and every span is the API's no-op.
 *
 * The run, subtask and approval-wait spans carry ids derived from the run (src/telemetry/runTree.ts),
 * which needs an id generator of its own; the distro takes none, so they go through a second, unregistered
 * provider with the same destination.
 */
export function setupTelemetry(config: TelemetryConfig): TelemetryExport {
  const azureMonitor = azureMonitorExporterOptions(config);
  if (azureMonitor) {
    useAzureMonitor({ azureMonitorExporterOptions: azureMonitor });
    // The distro names the cloud role after the Function App (WEBSITE_SITE_NAME); so does this provider.
    setupRunTree(new AzureMonitorTraceExporter(azureMonitor), process.env.WEBSITE_SITE_NAME, config);
    return 'azure-monitor';
  }
  if (config.otlpEndpoint) {
    const url = `${config.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`;
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': serviceName }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
    });
    provider.register();
    setupRunTree(new OTLPTraceExporter({ url }), undefined, config);
    return 'otlp';
  }
  setRunTreeExport(undefined);
  return 'none';
}

/**
 * What both Azure Monitor exporters (the distro's and the run tree's) are given. With Microsoft Entra ID
 * configured (APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD;ClientId=..., which Bicep
 * writes because the Application Insights component has local auth disabled) they get the managed
 * identity's credential: ingestion refuses telemetry sent with the connection string's key alone. The
 * distro reads that setting only for Live Metrics (@azure/monitor-opentelemetry,
 * metrics/quickpulse/credentialUtils), so the span exporters must be handed the credential.
 */
export function azureMonitorExporterOptions(
  config: TelemetryConfig,
): AzureMonitorExporterOptions | undefined {
  const connectionString = config.applicationInsightsConnectionString;
  if (!connectionString) return undefined;
  const entra = config.applicationInsightsEntra;
  if (!entra) return { connectionString };
  const credential = entra.clientId
    ? new ManagedIdentityCredential({ clientId: entra.clientId })
    : new ManagedIdentityCredential();
  return { connectionString, credential };
}

function setupRunTree(exporter: SpanExporter, name: string | undefined, config: TelemetryConfig): void {
  const ids = new DerivedIdGenerator();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': name || serviceName }),
    idGenerator: ids,
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  setRunTreeExport({
    ids,
    tracer: provider.getTracer(tracerName),
    flush: () => provider.forceFlush(),
    captureContent: config.captureContent,
  });
}
