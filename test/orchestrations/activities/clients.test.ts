import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createAgentsClient,
  createClients,
  isLoopbackHost,
  localEmulatorCredential,
} from '../../../src/clients';
import { testConfig } from './support';

/** A stand-in Agent Service that records what it is sent and answers GET /assistants/{id}. */
function startRecorder(): Promise<{ url: string; requests: IncomingMessage[]; server: Server }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        id: 'asst_1',
        object: 'assistant',
        created_at: 1,
        name: 'x',
        description: null,
        model: 'gpt-4o-mini',
        instructions: '',
        tools: [],
        tool_resources: null,
        temperature: null,
        top_p: null,
        metadata: {},
      }),
    );
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server }),
    ),
  );
}

describe('createClients', () => {
  it('talks to a loopback http Agent Service endpoint over http with the local token', async () => {
    const recorder = await startRecorder();
    try {
      const client = createAgentsClient(`${recorder.url}/api/projects/local`, localEmulatorCredential);
      const agent = await client.getAgent('asst_1');
      expect(agent.id).toBe('asst_1');
      expect(recorder.requests).toHaveLength(1);
      expect(recorder.requests[0]?.url).toMatch(/^\/api\/projects\/local\/assistants\/asst_1\?api-version=/);
      expect(recorder.requests[0]?.headers.authorization).toBe('Bearer local-emulator-token');
    } finally {
      recorder.server.close();
    }
  });

  it('never sends a token over plain http to a host that is not loopback', async () => {
    const client = createAgentsClient('http://10.255.255.1/api/projects/p', localEmulatorCredential);
    await expect(client.getAgent('asst_1')).rejects.toThrow(/not permitted for non-TLS/);
  });

  it.each([
    ['127.0.0.1', true],
    ['localhost', true],
    ['[::1]', true],
    ['127.0.0.2', false],
    ['localhost.example.com', false],
  ])('treats %s as loopback: %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });

  it('creates the Agents client only when research is configured', () => {
    const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true' };
    expect(createClients(testConfig(base)).agents).toBeUndefined();
    const withAgents = createClients(
      testConfig({
        ...base,
        AZURE_AI_PROJECT_ENDPOINT: 'http://127.0.0.1:9/api/projects/p',
        BING_CONNECTION_ID: 'bing',
      }),
    );
    expect(withAgents.agents).toBeDefined();
  });

  it('uses Entra ID for the model when no API key is set, and never SDK retries', () => {
    const clients = createClients(
      testConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', AZURE_OPENAI_API_KEY: '' }),
    );
    expect(clients.openai.maxRetries).toBe(0);
    expect(clients.openai.apiKey).not.toBe('test-key');
  });
});
