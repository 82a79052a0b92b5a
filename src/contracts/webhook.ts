import { z } from 'zod';
import { webhookEventTypes } from './agentRun';

/** Payloads of the `deliverWebhook` activity. The secret is not among them: it never enters history. */
export const deliverWebhookInputSchema = z.strictObject({
  url: z.string().min(1),
  webhookId: z.string().min(1).max(200),
  type: z.enum(webhookEventTypes),
  body: z.string(),
});
export type DeliverWebhookInput = z.output<typeof deliverWebhookInputSchema>;

export interface DeliverWebhookOutput {
  status: number;
}
