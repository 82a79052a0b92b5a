import type * as df from 'durable-functions';
import type { OrchestrationContext, TimerTask } from 'durable-functions';
import { revisionPrompt } from '../agents/prompts';
import {
  approvalEventSchema,
  approversOf,
  type AgentRunInput,
  type ApprovalEvent,
} from '../contracts/agentRun';
import {
  approvalChannelOutputSchema,
  verifyApprovalOutputSchema,
  type ApprovalChannelInput,
  type VerifyApprovalInput,
} from '../contracts/approvalProof';
import { checked } from '../contracts/orchestrations';
import { draftPreviewChars, saveDraftOutputSchema, type SaveDraftInput } from '../contracts/result';
import { activityNames, revisionReservationKey } from '../names';
import { TokenBudget } from './budget';
import { maxTokensPerCall, type ApprovalOutcome, type Draft } from './draft';
import { activityRetry, type Durable } from './durable';
import type { RunProgress } from './progress';
import { reserveTokens, settleReservation } from './reservation';

/**
 * Waits for the `approval` event against a deadline. A rejection with a comment revises the draft and
 * asks again (a bounded number of rounds); at the deadline the run escalates once, then expires.
 * Events carry the round they answer, so a late or repeated click never decides a newer draft.
 */
export function* awaitApproval(
  context: OrchestrationContext,
  input: AgentRunInput,
  run: RunProgress,
  firstDraft: Draft,
  quota: df.EntityId,
): Durable<ApprovalOutcome> {
  const settings = input.approval;
  if (!settings) return { outcome: 'completed', rounds: 0, escalated: false };
  const timeoutMs = settings.timeoutMinutes * 60_000;
  let draft = firstDraft;
  let escalated = false;
  let round = 0;
  let deadline = new Date(context.df.currentUtcDateTime.getTime() + timeoutMs);
  let draftBlob: { round: number; blobName: string; draftId?: string } | undefined;
  let channel: { round: number; eventName: string } | undefined;
  for (;;) {
    const approvers = approversOf(input.owner, settings, escalated);
    // The custom status must stay small whatever the model wrote, so the draft goes to a blob (once per
    // round; an escalation offers the same draft) and the status carries a reference and a preview.
    if (draftBlob?.round !== round) {
      const saved = checked(
        saveDraftOutputSchema,
        yield context.df.callActivityWithRetry(activityNames.saveDraft, activityRetry(), {
          runId: context.df.instanceId,
          round,
          text: draft.text,
          citations: draft.citations,
        } satisfies SaveDraftInput),
        'The saved draft',
      );
      draftBlob = { round, blobName: saved.blobName, ...(saved.draftId ? { draftId: saved.draftId } : {}) };
    }
    // The round's own event name, once per round (an escalation keeps it): see waitForDecision.
    if (channel?.round !== round) {
      const opened = checked(
        approvalChannelOutputSchema,
        yield context.df.callActivityWithRetry(activityNames.approvalChannel, activityRetry(), {
          runId: context.df.instanceId,
          round,
        } satisfies ApprovalChannelInput),
        "The round's approval channel",
      );
      channel = { round, eventName: opened.eventName };
    }
    run.approval = {
      round,
      draftPreview: draft.text.slice(0, draftPreviewChars),
      draftChars: draft.text.length,
      citationCount: draft.citations.length,
      draftBlob: draftBlob.blobName,
      ...(draftBlob.draftId ? { draftId: draftBlob.draftId } : {}),
      deadline: deadline.toISOString(),
      escalated,
    };
    run.stage = 'awaiting-approval';
    run.publish();
    yield* run.notify('run.awaiting_approval', {
      status: 'awaiting-approval',
      approval: {
        round,
        ...(draftBlob.draftId ? { draftId: draftBlob.draftId } : {}),
        deadline: deadline.toISOString(),
        approvers,
        escalated,
      },
    });

    const event = yield* waitForDecision(context, channel.eventName, round, draftBlob.draftId, deadline);
    const base = { rounds: round, escalated, draft };
    if (!event) {
      if (!escalated && settings.escalateTo.length > 0) {
        escalated = true;
        deadline = new Date(context.df.currentUtcDateTime.getTime() + timeoutMs);
        continue;
      }
      return {
        ...base,
        outcome: 'expired',
        message: `Nobody approved the answer before ${deadline.toISOString()}.`,
      };
    }
    // Shown in the custom status from the next publish on, so the endpoint that raised it can tell
    // its caller that this decision, and no other, was taken.
    run.decision = {
      ...(event.decisionId ? { id: event.decisionId } : {}),
      round,
      decision: event.decision,
      by: event.by,
    };
    const decided = {
      ...base,
      decision: event.decision,
      by: event.by,
      ...(event.comment ? { comment: event.comment } : {}),
      ...(event.decisionId ? { decisionId: event.decisionId } : {}),
    };
    if (event.decision === 'approve') return { ...decided, outcome: 'completed' };
    if (!event.comment || round >= input.limits.maxRevisions) {
      const why = event.comment ? ` after ${round} revision${round === 1 ? '' : 's'}` : '';
      return { ...decided, outcome: 'rejected', message: `Rejected by ${event.by}${why}.` };
    }

    round += 1;
    run.setStage('revising');
    const revised = yield* revise(context, input, run, quota, draft, event.comment, round);
    if (!revised.ok) return { ...decided, rounds: round, outcome: 'rejected', message: revised.message };
    draft = revised.draft;
    // A revision restarts the clock for the approvers.
    deadline = new Date(context.df.currentUtcDateTime.getTime() + timeoutMs);
  }
}

/**
 * The first decision for `round` (and, when the run knows its draft's id, for that draft) with a valid
 * proof, or null at the deadline. The first one wins: the round ends with it, and nothing waits on its
 * channel again, so a decision that raced it is never taken.
 *
 * What an ignored event costs: the run waits on the round's own channel, a name derived from the signing
 * key that only the product raises on. An event under any other name (the public `approval`, a guessed
 * name, an older round's channel) is recorded by the host and never delivered: no timer, no check, no
 * step. Only an event on this channel (the product's, or one raised by someone who read the run's
 * history) is looked at; its proof is checked in an activity, since the key is configuration, and a
 * failed check costs a new wait: listing the first timer in a second Task.any would make the host
 * schedule it again (durable-js #574), so each wait is a fresh timer and a fresh event task.
 */
function* waitForDecision(
  context: OrchestrationContext,
  eventName: string,
  round: number,
  draftId: string | undefined,
  deadline: Date,
): Durable<ApprovalEvent | null> {
  for (;;) {
    const timer: TimerTask = context.df.createTimer(deadline);
    const eventTask = context.df.waitForExternalEvent(eventName);
    // Task.any gives back the task that finished first (a task object of this replay, not a payload).
    const winner: unknown = yield context.df.Task.any([eventTask, timer]);
    if (winner === timer) return null;
    timer.cancel();
    const parsed = approvalEventSchema.safeParse(eventTask.result);
    if (!parsed.success || parsed.data.round !== round) {
      if (!context.df.isReplaying)
        context.log(`Run ${context.df.instanceId}: ignored an approval event it cannot read.`);
      continue;
    }
    // Runs whose draft was saved before drafts had ids (draftId undefined) take the round alone.
    if (draftId !== undefined && parsed.data.draftId !== draftId) {
      if (!context.df.isReplaying)
        context.log(`Run ${context.df.instanceId}: ignored an approval event for another draft.`);
      continue;
    }
    // Only the product signs approval events, after checking the decider may decide; one raised around
    // it (with the task hub's system key, or on the devhost's open API) carries no valid proof.
    const proof = checked(
      verifyApprovalOutputSchema,
      yield context.df.callActivity(activityNames.verifyApproval, {
        runId: context.df.instanceId,
        event: parsed.data,
      } satisfies VerifyApprovalInput),
      'The proof check',
    );
    if (proof.valid) return parsed.data;
    if (!context.df.isReplaying) {
      context.log(
        `Run ${context.df.instanceId}: ignored an approval event without a valid proof; it did not come through the product's approval endpoint.`,
      );
    }
  }
}

function* revise(
  context: OrchestrationContext,
  input: AgentRunInput,
  run: RunProgress,
  quota: df.EntityId,
  draft: Draft,
  comment: string,
  round: number,
): Durable<{ ok: true; draft: Draft } | { ok: false; message: string }> {
  // Each revision reserves and commits on its own key, so it is counted once, like the run itself.
  const revisionId = revisionReservationKey(context.df.instanceId, round);
  const budget = Math.min(input.maxTokens, maxTokensPerCall * 2);
  const reservation = yield* reserveTokens(context, quota, revisionId, budget, "The revision's reservation");
  if (!reservation.granted) {
    return {
      ok: false,
      message: `The quota has no room for a revision (${reservation.quota.remaining} tokens left).`,
    };
  }
  const revisionBudget = new TokenBudget(context, {
    owner: input.owner,
    reservationKey: revisionId,
    tokens: budget,
  });
  try {
    const sources = draft.citations.map((c, i) => `[${i + 1}] ${c.title} ${c.url}`).join('\n');
    const call = yield* revisionBudget.call({
      tier: input.model === 'fast' ? 'fast' : 'strong',
      messages: [
        { role: 'system', content: revisionPrompt },
        {
          role: 'user',
          content: `Request: ${input.prompt}\n\nDraft:\n${draft.text}\n\nSources:\n${sources || 'none'}\n\nReviewer comment: ${comment}`,
        },
      ],
      maxTokens: maxTokensPerCall,
      stream: { runId: context.df.instanceId, round },
    });
    if (!call.ok) return { ok: false, message: `The revision failed: ${call.message}` };
    run.addUsage(call.value.usage);
    const text = call.value.message.content?.trim() ?? '';
    if (text === '') return { ok: false, message: 'The revision came back empty.' };
    return { ok: true, draft: { text, citations: draft.citations } };
  } finally {
    yield settleReservation(context, quota, revisionId);
  }
}
