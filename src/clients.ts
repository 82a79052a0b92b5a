import { AgentsClient } from '@azure/ai-agents';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';
import { DefaultAzureCredential, getBearerTokenProvider } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { AzureOpenAI, OpenAI } from 'openai';
import type { AppConfig } from './config';

/**
 * The SDK clients, created once per process by src/index.ts and handed to the activity factories.
 * Tests build them the same way from a config that points at the emulators and Azurite.
 */
export interface AppClients {
  /** Chat completions: the v1 API (an OpenAI client on /openai/v1/) or, for a dated API version, AzureOpenAI. */
  openai: OpenAI;
  /** Absent when research is not configured (AZURE_AI_PROJECT_ENDPOINT / BING_CONNECTION_ID unset). */
  agents?: AgentsClient;
  blobService: BlobServiceClient;
  credential: TokenCredential;
}

export const cognitiveServicesScope = 'https://cognitiveservices.azure.com/.default';

export function createClients(config: AppConfig): AppClients {
  const credential = new DefaultAzureCredential(
    config.managedIdentityClientId ? { managedIdentityClientId: config.managedIdentityClientId } : {},
  );

  const openai = createOpenAIClient(config.openai, credential);

  const blobService =
    config.storage.kind === 'connectionString'
      ? BlobServiceClient.fromConnectionString(config.storage.connectionString)
      : new BlobServiceClient(config.storage.blobServiceUri, credential);

  return {
    openai,
    ...(config.agents ? { agents: createAgentsClient(config.agents.projectEndpoint, credential) } : {}),
    blobService,
    credential,
  };
}

// Activities decide about retries themselves (wait briefly, hand a long wait to a durable timer, or let
// Durable's retry policy retry a transient fault); SDK retries would hide all of that.
const openaiRequestOptions = { maxRetries: 0, timeout: 120_000 };

/**
 * The chat-completions client. With `AZURE_OPENAI_API_VERSION=v1` (the default) it is the plain OpenAI
 * client on `<endpoint>/openai/v1/`, the GA v1 API that needs no dated version and serves the GPT-5 family
 * and the o-series (Learn, "Azure OpenAI in Microsoft Foundry Models v1 API"); the deployment goes in the
 * body's `model`. A key goes in the `api-key` header, as Azure documents for v1 too, not as a bearer token.
 * A dated version keeps the AzureOpenAI client and its /openai/deployments/{name}/ paths.
 */
export function createOpenAIClient(settings: AppConfig['openai'], credential: TokenCredential): OpenAI {
  const tokenProvider = getBearerTokenProvider(credential, cognitiveServicesScope);
  if (settings.apiVersion === 'v1') {
    const baseURL = `${settings.endpoint.replace(/\/+$/, '')}/openai/v1/`;
    return settings.apiKey
      ? new OpenAI({
          baseURL,
          apiKey: settings.apiKey,
          defaultHeaders: { 'api-key': settings.apiKey, Authorization: null },
          ...openaiRequestOptions,
        })
      : new OpenAI({ baseURL, apiKey: tokenProvider, ...openaiRequestOptions });
  }
  return new AzureOpenAI({
    endpoint: settings.endpoint,
    apiVersion: settings.apiVersion,
    ...(settings.apiKey ? { apiKey: settings.apiKey } : { azureADTokenProvider: tokenProvider }),
    ...openaiRequestOptions,
  });
}

/**
 * The Agent Service SDK only sends a bearer token over https. The local emulator listens on plain http
 * on loopback, so for exactly that case the client is given the https form of the endpoint, an HTTP
 * client that sends those requests over http, and a static token the emulator accepts. Any other
 * endpoint (http on a non-loopback host included) gets the real credential and stays as it is, so a
 * token can never leave the machine unencrypted.
 */
export function createAgentsClient(projectEndpoint: string, credential: TokenCredential): AgentsClient {
  const url = new URL(projectEndpoint);
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) {
    url.protocol = 'https:';
    return new AgentsClient(url.toString(), localEmulatorCredential, {
      httpClient: loopbackHttpClient(url.host),
      retryOptions: { maxRetries: 0 },
    });
  }
  return new AgentsClient(projectEndpoint, credential, { retryOptions: { maxRetries: 0 } });
}

/** 127.0.0.1, localhost and ::1 only: other 127/8 addresses and host names are not treated as local. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]' || hostname === '::1';
}

/** A token the emulator accepts; never sent anywhere but loopback (see createAgentsClient). */
export const localEmulatorCredential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: 'local-emulator-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

/** Sends requests for `https://<host>` over http to the same loopback host; refuses any other host. */
function loopbackHttpClient(host: string): HttpClient {
  const inner = createDefaultHttpClient();
  const prefix = `https://${host}/`;
  return {
    sendRequest(request) {
      if (!request.url.startsWith(prefix)) {
        return Promise.reject(
          new Error(
            `The local Agent Service client only talks to ${host}; refusing a request to ${request.url}`,
          ),
        );
      }
      request.url = `http://${host}/${request.url.slice(prefix.length)}`;
      // The node HTTP client also refuses http unless told; this request only ever goes to loopback.
      request.allowInsecureConnection = true;
      return inner.sendRequest(request);
    },
  };
}
