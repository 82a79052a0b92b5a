import { z } from 'zod';
import { approvalEventSchema } from './agentRun';

/** Input of the `verifyApproval` activity: the event as the run received it, and which run received it. */
export const verifyApprovalInputSchema = z.object({
  runId: z.string().min(1),
  event: approvalEventSchema,
});

export type VerifyApprovalInput = z.input<typeof verifyApprovalInputSchema>;

export const verifyApprovalOutputSchema = z.object({ valid: z.boolean() });

export type VerifyApprovalOutput = z.output<typeof verifyApprovalOutputSchema>;

/** Input of the `approvalChannel` activity: which run opens which approval round. */
export const approvalChannelInputSchema = z.object({
  runId: z.string().min(1),
  round: z.number().int().min(0),
});

export type ApprovalChannelInput = z.input<typeof approvalChannelInputSchema>;

/** The durable event name the run waits on for that round's decision. */
export const approvalChannelOutputSchema = z.object({ eventName: z.string().startsWith('approval-') });

export type ApprovalChannelOutput = z.output<typeof approvalChannelOutputSchema>;
