import { z } from 'zod';
import { approvalEventSchema } from './agentRun';

/** Input of the `verifyApproval` activity: the event as the run received it, and which run received it. */
export const verifyApprovalInputSchema = z.object({
  runId: z.string().min(1),
  event: approvalEventSchema,
});

export type VerifyApprovalInput = z.input<typeof verifyApprovalInputSchema>;

export interface VerifyApprovalOutput {
  valid: boolean;
}
