import type { IncomingMessage } from 'node:http';
import { AzureError } from './errors';
import type { Service } from './http';

/**
 * Who may call the emulated services, as Azure decides it: Azure OpenAI takes the `api-key` header or
 * any bearer token; the Agent Service takes bearer tokens only. Throws the error Azure answers with.
 */
export function authorize(service: Service, request: IncomingMessage, apiKey: string): void {
  const key = request.headers['api-key'];
  const authorization = request.headers.authorization ?? '';
  const bearer = /^Bearer\s+\S+/i.test(authorization);
  if (service === 'openai') {
    // An Entra ID token cannot be checked offline: any bearer token is accepted, like a valid one would be.
    if (bearer) return;
    if (key === undefined) {
      throw new AzureError(
        401,
        '401',
        'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.',
      );
    }
    if (key !== apiKey) {
      throw new AzureError(
        401,
        '401',
        'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.',
      );
    }
    return;
  }
  if (!bearer) {
    throw new AzureError(
      401,
      'Unauthorized',
      'The request is missing an Authorization: Bearer token. The Agent Service accepts Microsoft Entra ID tokens only; give the client a TokenCredential.',
    );
  }
}
