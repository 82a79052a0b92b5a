import { startEmulators, type Emulators } from '../emulators/src';
import { startAzurite, type Azurite } from './azurite';

/**
 * The model deployments the app is pointed at offline: the emulator's reasoning deployments, named as the
 * ones Bicep creates, so every test runs the request shape the product uses in Azure.
 */
export const offlineDeployments = { fast: 'gpt-5.4-mini', strong: 'gpt-5.4' } as const;

/** Azurite and the AI emulators, started together, and the app settings that point the app at them. */
export interface OfflineBackends {
  azurite: Azurite;
  emulators: Emulators;
  /** Storage, both model deployments and research, as app settings (environment variables) of the app. */
  appSettings: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * What the app runs against in the tests and the history recorder: Azurite (blob, in memory) and the AI
 * emulators on free loopback ports. `npm start` chooses per service instead (scripts/start.ts).
 */
export async function startOfflineBackends(options: {
  agentRunDurationMs: number;
}): Promise<OfflineBackends> {
  const azurite = await startAzurite({ blobPort: 0, services: 'blob' });
  let emulators: Emulators;
  try {
    emulators = await startEmulators({ port: 0, agentRunDurationMs: options.agentRunDurationMs });
  } catch (error) {
    await azurite.stop();
    throw error;
  }
  return {
    azurite,
    emulators,
    appSettings: {
      AzureWebJobsStorage: azurite.connectionString,
      AZURE_OPENAI_ENDPOINT: emulators.openaiEndpoint,
      AZURE_OPENAI_API_KEY: emulators.apiKey,
      AZURE_OPENAI_FAST_DEPLOYMENT: offlineDeployments.fast,
      AZURE_OPENAI_STRONG_DEPLOYMENT: offlineDeployments.strong,
      AZURE_AI_PROJECT_ENDPOINT: emulators.projectEndpoint,
      BING_CONNECTION_ID: 'emulator-bing-connection',
    },
    stop: async () => {
      await emulators.stop().catch(() => undefined);
      await azurite.stop();
    },
  };
}
