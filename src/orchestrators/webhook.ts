import * as df from 'durable-functions';
import type { OrchestrationContext } from 'durable-functions';
import type { AgentRunInput, WebhookDelivery, WebhookEventType } from '../contracts/agentRun';
import type { DeliverWebhookInput } from '../contracts/webhook';
import { forLog } from '../lib/logText';
import { activityNames } from '../names';
import { failureMessage, type Durable } from './durable';

/**
 * Delivery tries four times, waiting 1 s, 2 s and 4 s on durable timers in between, so a receiver that
 * is briefly down still gets the message while the run goes on within seconds of it.
 */
export function webhookRetry(): df.RetryOptions {
  const retry = new df.RetryOptions(1000, 4);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 10_000;
  return retry;
}

/**
 * Sends one notification if the run asked for webhooks. A delivery that still fails after its retries
 * is recorded as failed and the run carries on: a receiver's outage never fails the run.
 */
export function* notifyWebhook(
  context: OrchestrationContext,
  input: AgentRunInput,
  sent: readonly WebhookDelivery[],
  type: WebhookEventType,
  data: Record<string, unknown>,
): Durable<WebhookDelivery | undefined> {
  const target = input.webhook;
  if (!target) return undefined;
  const webhookId = `msg_${input.runId}_${sent.length + 1}`;
  const body = JSON.stringify({
    type,
    timestamp: context.df.currentUtcDateTime.toISOString(),
    data: { runId: input.runId, links: target.links, ...data },
  });
  const delivery: DeliverWebhookInput = { url: target.url, webhookId, type, body };
  try {
    yield context.df.callActivityWithRetry(activityNames.deliverWebhook, webhookRetry(), delivery);
    return { webhookId, type, state: 'delivered' };
  } catch (error) {
    if (!context.df.isReplaying) {
      context.log(
        `Run ${input.runId}: webhook ${webhookId} (${type}) failed: ${forLog(failureMessage(error))}`,
      );
    }
    return { webhookId, type, state: 'failed', error: failureMessage(error).slice(0, 300) };
  }
}
