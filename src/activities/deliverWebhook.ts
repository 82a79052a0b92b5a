import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { InvocationContext } from '@azure/functions';
import type { AppConfig } from '../config';
import { deliverWebhookInputSchema, type DeliverWebhookOutput } from '../contracts/webhook';
import { PermanentError, RetryableError } from '../lib/errors';
import { checkWebhookUrl, guardedLookup, signWebhook, type LookupAll } from '../lib/webhooks';

export interface DeliverWebhookDeps {
  config: AppConfig;
  /** Name resolution; tests give a fixed table. */
  lookupAll?: LookupAll;
  timeoutMs?: number;
}

/** Longest answer body read from a receiver: only the status matters, the rest is drained. */
const maxAnswerBytes = 64 * 1024;

/**
 * POSTs one signed notification. Any answer but 2xx, and any network fault, is thrown, so that the
 * orchestrator's retry policy tries again after a durable backoff; the same webhook-id goes with every
 * attempt, so a receiver can drop repeats. Each attempt is signed with its own timestamp.
 */
export function createDeliverWebhook(
  deps: DeliverWebhookDeps,
): (input: unknown, context: InvocationContext) => Promise<DeliverWebhookOutput> {
  const timeoutMs = deps.timeoutMs ?? 10_000;
  const rules = deps.config.webhooks;
  return async (raw, context) => {
    const parsed = deliverWebhookInputSchema.safeParse(raw);
    if (!parsed.success) throw new PermanentError('deliverWebhook got an input it does not understand');
    const input = parsed.data;
    const key = rules.key;
    if (!key) throw new PermanentError('WEBHOOK_SECRET is not set, so webhooks cannot be signed');
    // Checked again at send time: the rules may have changed since the run started, and a literal
    // address never passes through the lookup below.
    const checked = await checkWebhookUrl(input.url, {
      requireHttps: rules.requireHttps,
      allowPrivateNetworks: rules.allowPrivateNetworks,
      ...(deps.lookupAll ? { lookupAll: deps.lookupAll } : {}),
    });
    if (!checked.ok) throw new PermanentError(`webhook URL refused: ${checked.reason}`);
    const timestamp = Math.floor(Date.now() / 1000);
    const status = await post(
      checked.url,
      input.body,
      {
        'content-type': 'application/json',
        'user-agent': 'durable-agent-runs-webhooks/1',
        'webhook-id': input.webhookId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signWebhook(key, input.webhookId, timestamp, input.body),
      },
      {
        timeoutMs,
        lookup: guardedLookup(rules.allowPrivateNetworks, deps.lookupAll),
      },
    );
    if (status < 200 || status > 299) {
      throw new RetryableError(`the receiver answered ${status}`, status);
    }
    context.log(`Webhook ${input.webhookId} (${input.type}) delivered to ${checked.url.host}: ${status}.`);
    return { status };
  };
}

function post(
  url: URL,
  body: string,
  headers: Record<string, string>,
  options: { timeoutMs: number; lookup: ReturnType<typeof guardedLookup> },
): Promise<number> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: options.lookup,
        timeout: options.timeoutMs,
        // A redirect is not followed: the signature was made for this receiver alone.
      },
      (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > maxAnswerBytes) res.destroy();
        });
        res.on('close', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      const message =
        error.code === 'EWEBHOOKBLOCKED' ? error.message : `could not reach the receiver: ${error.message}`;
      reject(error.code === 'EWEBHOOKBLOCKED' ? new PermanentError(message) : new RetryableError(message));
    });
    req.end(body);
  });
}
