import type { AddressInfo } from 'node:net';
import { AgentService } from './agents/service';
import { EmulatorState } from './control';
import { defaultDeployments, toDeployment, type DeploymentOption } from './openai/deployments';
import { createEmulatorServer } from './server';

export { contentFilterMarker } from './openai/chat';
export { defaultDeployments, type DeploymentOption, type ModelKind } from './openai/deployments';

/**
 * Offline, deterministic stand-ins for Azure OpenAI chat completions and the Agent Service subset that
 * @azure/ai-agents uses, on one loopback HTTP server, with faults and a request log under /_emulator/.
 */

export interface EmulatorOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Loopback by default; the emulator is a local test tool. */
  host?: string;
  /** The key the OpenAI endpoint expects in the api-key header. Not a secret: a fixed local value. */
  apiKey?: string;
  /**
   * The deployments the OpenAI endpoint knows; others answer 404 DeploymentNotFound. A name alone takes its
   * kind from the model it names (gpt-5*, o-series: reasoning; others: chat); `{name, kind}` sets it.
   */
  deployments?: DeploymentOption[];
  /** How long an Agent Service run takes from creation to completed. */
  agentRunDurationMs?: number;
  /** Latency added to every answer (the control API can change it). */
  latencyMs?: number;
  /** The pause before each chunk of a streamed chat completion (the control API can change it). */
  streamChunkDelayMs?: number;
  log?: (line: string) => void;
}

export interface Emulators {
  /** http://127.0.0.1:PORT: the control API lives under /_emulator/. */
  url: string;
  /** For AZURE_OPENAI_ENDPOINT. */
  openaiEndpoint: string;
  /** For AZURE_AI_PROJECT_ENDPOINT. */
  projectEndpoint: string;
  apiKey: string;
  stop(): Promise<void>;
}

/** The well-known local key, documented in emulators/README.md. */
export const emulatorApiKey = 'emulator-key';

export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const host = options.host ?? '127.0.0.1';
  const apiKey = options.apiKey ?? emulatorApiKey;
  const runDurationMs = options.agentRunDurationMs ?? 1500;
  const latencyMs = options.latencyMs ?? 0;
  if (!Number.isFinite(runDurationMs) || runDurationMs < 0) {
    throw new Error(`agentRunDurationMs must be 0 or more milliseconds, got ${runDurationMs}.`);
  }
  if (!Number.isFinite(latencyMs) || latencyMs < 0) {
    throw new Error(`latencyMs must be 0 or more milliseconds, got ${latencyMs}.`);
  }
  const chunkDelayMs = options.streamChunkDelayMs ?? 0;
  if (!Number.isFinite(chunkDelayMs) || chunkDelayMs < 0) {
    throw new Error(`streamChunkDelayMs must be 0 or more milliseconds, got ${chunkDelayMs}.`);
  }
  const log = options.log ?? (() => undefined);
  const server = createEmulatorServer({
    apiKey,
    deployments: (options.deployments ?? defaultDeployments).map(toDeployment),
    state: new EmulatorState(latencyMs, chunkDelayMs),
    agents: new AgentService(runDurationMs),
    log,
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log(`emulator: listening on ${url}`);

  let stopped: Promise<void> | undefined;
  return {
    url,
    openaiEndpoint: url,
    projectEndpoint: `${url}/api/projects/emulator`,
    apiKey,
    stop: () => {
      stopped ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets of SDK clients would hold close() open.
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
