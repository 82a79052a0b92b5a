import { AzureError } from '../errors';
import type { Service } from '../http';
import { nonNegative, type Fault, type FaultRequest } from './fault';

/**
 * The fault "the service answered with an error": 429 (with `retry-after-ms` and `retry-after`), 500 or
 * 503, with the body and headers Azure OpenAI or the Agent Service send. Asked for with
 * POST /_emulator/faults {"status": 429|500|503, "retryAfterMs"?: n}.
 */

export function checkErrorStatus(body: FaultRequest): string | undefined {
  const { status } = body;
  if (status !== undefined && status !== 429 && status !== 500 && status !== 503) {
    return `"status" must be 429, 500 or 503 (or left out for a delay-only fault), got ${JSON.stringify(status)}.`;
  }
  return undefined;
}

export function checkRetryAfter(body: FaultRequest): string | undefined {
  const { retryAfterMs } = body;
  if (retryAfterMs !== undefined && !nonNegative(retryAfterMs)) {
    return `"retryAfterMs" must be a number of milliseconds, 0 or more, got ${JSON.stringify(retryAfterMs)}.`;
  }
  return undefined;
}

/** The error the request is answered with, to throw; undefined for a fault without a status. */
export function errorOf(fault: Fault, service: Service, apiVersion: string | null): AzureError | undefined {
  if (!fault.status) return undefined;
  const note = ` (Injected by the emulator: fault ${fault.id}.)`;
  switch (fault.status) {
    case 429: {
      const retryAfterMs = fault.retryAfterMs ?? 1000;
      const retrySeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
      const headers = {
        'retry-after-ms': String(retryAfterMs),
        'retry-after': String(retrySeconds),
        'x-ratelimit-remaining-requests': '0',
        'x-ratelimit-remaining-tokens': '0',
      };
      if (service === 'agents') {
        return new AzureError(
          429,
          'rate_limit_exceeded',
          `Rate limit is exceeded. Try again in ${retrySeconds} seconds.${note}`,
          {},
          headers,
        );
      }
      return new AzureError(
        429,
        '429',
        `Requests to the ChatCompletions_Create Operation under Azure OpenAI API version ${apiVersion ?? 'v1'} have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after ${retrySeconds} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit.${note}`,
        {},
        headers,
      );
    }
    case 503:
      return new AzureError(
        503,
        'ServiceUnavailable',
        `The service is temporarily unable to process your request. Please try again later.${note}`,
      );
    default:
      return new AzureError(
        500,
        'InternalServerError',
        `The server had an error while processing your request. Sorry about that!${note}`,
      );
  }
}
