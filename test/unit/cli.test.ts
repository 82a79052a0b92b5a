import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { ApiClient, describeProblem, isLoopback } from '../../cli/src/api';
import { CliError, exitCodeForStatus, exitCodes } from '../../cli/src/exitCodes';
import { formatList, formatResult, stripControls } from '../../cli/src/render';

/** Entra ID has no local stand-in: a credential that hands out a fixed token and records the scopes asked. */
function fixedCredential(token: string): TokenCredential & { scopes: string[] } {
  const scopes: string[] = [];
  return {
    scopes,
    getToken: (scope: string | string[]): Promise<AccessToken> => {
      scopes.push(...(Array.isArray(scope) ? scope : [scope]));
      return Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000 });
    },
  };
}

describe('the client signs in only off loopback', () => {
  it.each([
    ['http://127.0.0.1:7071', true],
    ['http://127.8.9.10', true],
    ['http://localhost:7071', true],
    ['http://[::1]:7071', true],
    ['https://func-agent-runs.azurewebsites.net', false],
    ['http://127.0.0.1.example.com', false],
    ['http://10.0.0.4:7071', false],
  ])('%s is loopback: %s', (url, loopback) => {
    expect(isLoopback(new URL(url))).toBe(loopback);
  });

  it('sends no token to a loopback app, and the function key when given', async () => {
    const credential = fixedCredential('secret-token');
    const client = new ApiClient({
      baseUrl: new URL('http://127.0.0.1:7071'),
      credential,
      functionKey: 'k1',
    });
    const headers = await client.headers();
    expect(headers.authorization).toBeUndefined();
    expect(headers['x-functions-key']).toBe('k1');
    expect(credential.scopes).toEqual([]);
  });

  it('asks for a token for the scope off loopback and sends it as a bearer token', async () => {
    const credential = fixedCredential('secret-token');
    const client = new ApiClient({
      baseUrl: new URL('https://func-agent-runs.azurewebsites.net'),
      scope: 'api://1234/user_impersonation',
      credential,
    });
    expect((await client.headers()).authorization).toBe('Bearer secret-token');
    expect(credential.scopes).toEqual(['api://1234/user_impersonation']);
  });

  it('refuses to call a deployed app without a scope, as a usage error', async () => {
    const client = new ApiClient({ baseUrl: new URL('https://func-agent-runs.azurewebsites.net') });
    const refused = client.headers();
    await expect(refused).rejects.toBeInstanceOf(CliError);
    await expect(refused).rejects.toMatchObject({ exitCode: exitCodes.usage });
    await expect(refused).rejects.toThrow(/--scope .*AGENT_RUNS_SCOPE/);
  });
});

describe('what the client prints', () => {
  it('names each bad field of a problem document', () => {
    const text = describeProblem(
      400,
      {
        title: 'Invalid request body',
        detail: 'prompt: must not be empty',
        errors: [{ field: 'prompt', message: 'must not be empty' }],
      },
      'Starting the run',
    );
    expect(text).toBe(
      'Starting the run: HTTP 400 Invalid request body: prompt: must not be empty\n  prompt: must not be empty',
    );
  });

  it('keeps terminal control characters of model text off the screen', () => {
    expect(stripControls('a\u001b[2J\u001b]0;title\u0007b\rc\u009bd\n\te')).toBe('a[2J]0;titlebcd\n\te');
    const shown = formatResult({
      id: 'r1',
      status: 'completed',
      answer: 'The answer\u001b[8m hidden',
      citations: [{ title: 'A\u001b[1m title', url: 'https://example.com/a' }],
      usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3 },
      links: {
        run: 'http://127.0.0.1:7071/api/agent-runs/r1',
        approval: 'http://127.0.0.1:7071/api/agent-runs/r1/approval',
      },
    });
    expect(shown).not.toContain('\u001b');
    expect(shown).toContain('  [1] A[1m title - https://example.com/a');
    expect(shown).toContain('Usage: 3 tokens (prompt 1, completion 2)');
    expect(shown).toContain('Approval: http://127.0.0.1:7071/api/agent-runs/r1/approval');
  });

  it('lists runs as columns and says how to get the next page', () => {
    const text = formatList(
      [
        {
          id: 'r1',
          status: 'completed',
          createdTime: '2026-01-01T00:00:00Z',
          usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
          preview: 'What is\n2 + 2?',
        },
      ],
      'tok',
    );
    expect(text.split('\n')).toEqual([
      'ID  STATUS     CREATED               TOKENS  PROMPT',
      'r1  completed  2026-01-01T00:00:00Z  2       What is 2 + 2?',
      '',
      'More: npm run agent -- list --next tok',
    ]);
  });

  it.each([
    ['completed', 0],
    ['failed', 3],
    ['rejected', 4],
    ['expired', 5],
    ['terminated', 6],
    ['quota-exceeded', 7],
    ['budget-spent', 8],
    ['awaiting-approval', 10],
  ])('a run that is %s exits %i', (status, code) => {
    expect(exitCodeForStatus(status)).toBe(code);
  });
});
