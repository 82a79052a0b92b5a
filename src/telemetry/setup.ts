import { useAzureMonitor } from '@azure/monitor-opentelemetry';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { TelemetryConfig } from '../config';

/** The service name spans carry, locally; in Azure the distro names it after the Function App. */
export const serviceName = 'durable-agent-runs';

export type TelemetryExport = 'azure-monitor' | 'otlp' | 'none';

/**
 * Chooses where spans go, once per process, at app start. Azure: the Azure Monitor distro, which the
 * Bicep-created Application Insights component receives. Locally: an OTLP/HTTP collector when one is
 * configured. Otherwise no provider is registered and every span is the API's no-op.
 */
export function setupTelemetry(config: TelemetryConfig): TelemetryExport {
  if (config.applicationInsightsConnectionString) {
    useAzureMonitor({
      azureMonitorExporterOptions: { connectionString: config.applicationInsightsConnectionString },
    });
    return 'azure-monitor';
  }
  if (config.otlpEndpoint) {
    const url = `${config.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`;
    const provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ 'service.name': serviceName }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
    });
    provider.register();
    return 'otlp';
  }
  return 'none';
}
