import { AgentsClient } from '@azure/ai-agents';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { createDefaultHttpClient, type HttpClient } from '@azure/core-rest-pipeline';

// The loopback recipe from emulators/README.md, exactly as documented there.
export const emulatorCredential: TokenCredential = {
  getToken: (): Promise<AccessToken> =>
    Promise.resolve({ token: 'local-emulator-token', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

function loopbackHttpClient(): HttpClient {
  const inner = createDefaultHttpClient();
  return {
    sendRequest(request) {
      const url = new URL(request.url);
      if (url.protocol === 'https:' && (url.hostname === '127.0.0.1' || url.hostname === 'localhost')) {
        url.protocol = 'http:';
        request.url = url.toString();
        request.allowInsecureConnection = true;
      }
      return inner.sendRequest(request);
    },
  };
}

/** An AgentsClient for the emulator's project endpoint, with the SDK's own retry policy left on. */
export function emulatorAgentsClient(projectEndpoint: string): AgentsClient {
  return new AgentsClient(projectEndpoint.replace(/^http:/, 'https:'), emulatorCredential, {
    httpClient: loopbackHttpClient(),
  });
}
