import { z } from 'zod';
import type { ModelUsage } from './model';
import type { Citation } from './research';
import { toolNames } from './tools';

/**
 * Everything an agent run carries across durable boundaries: the HTTP body, the orchestration input,
 * the custom status and the result. Pure (zod only): orchestrators import it.
 */

/**
 * Control characters, line separators and invisible formatting characters (bidi overrides such as
 * U+202E, zero-width spaces, the BOM). The zero-width joiner and tag characters stay allowed: emoji
 * sequences are built from them.
 */
export const invisibleCharacter = /[\p{Cc}\p{Zl}\p{Zp}]|(?![\u200d\u{e0020}-\u{e007f}])\p{Cf}/u;

/** Text a person could read: something other than whitespace and invisible characters. */
const visibleCharacter = /[^\s\p{Cc}\p{Cf}]/u;

/** A person's user id, name or email, as an approver list holds it. */
const principalName = z
  .string({ error: 'must be a string: a user id, name or email' })
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(256, { error: 'must be at most 256 characters' })
  .refine((name) => !invisibleCharacter.test(name), {
    error: 'must not contain control or invisible formatting characters (such as U+202E or U+200B)',
  });

/**
 * A list of at most `max` items in which none appears twice, by `sameKey`. The length is checked here,
 * after the type, because zod's own `.max()` also runs on a string sent in place of the list.
 */
function uniqueList<T extends z.ZodType<string>>(
  item: T,
  options: { max: number; what: string; sameKey: (value: string) => string; sameHint?: string },
) {
  return z.array(item, { error: `must be a list of ${options.what}` }).superRefine((values, ctx) => {
    if (values.length > options.max) {
      ctx.addIssue({ code: 'custom', message: `must list at most ${options.max} ${options.what}` });
      return;
    }
    const seen = new Set<string>();
    values.forEach((value, index) => {
      const key = options.sameKey(value);
      if (seen.has(key)) {
        ctx.addIssue({
          code: 'custom',
          path: [index],
          message: `repeats ${JSON.stringify(value.slice(0, 100))}; list each once${options.sameHint ?? ''}`,
        });
      }
      seen.add(key);
    });
  });
}

/** People by user id, name or email; `Bob` and `bob` are the same entry, as approvals match them. */
const principalList = (what: string) =>
  uniqueList(principalName, {
    max: 20,
    what,
    sameKey: (name) => name.toLowerCase(),
    sameHint: ' (names match ignoring case)',
  });

/** A type error that says whether the field was missing or present with the wrong type. */
const requiredAs = (what: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? `is required and must be ${what}` : `must be ${what}`;

/** Longest approval wait a run may ask for: a week. */
export const maxApprovalTimeoutMinutes = 7 * 24 * 60;

export interface StartAgentRunLimits {
  readonly maxPromptChars: number;
  readonly maxRunTokens: number;
  /** False when this deployment has no Agent Service project: then `research: true` is refused. */
  readonly researchAvailable?: boolean;
}

/** The approval settings that mean something only when approval is required. */
const approvalOnlyFields = ['approvers', 'timeoutMinutes', 'escalateTo'] as const;

/** The body of `POST /api/agent-runs`. Unknown fields are refused so that typos do not pass silently. */
export function startAgentRunBodySchema(limits: StartAgentRunLimits) {
  return z.strictObject({
    prompt: z
      .string({ error: requiredAs('a string') })
      .trim()
      .min(1, { error: 'must not be empty', abort: true })
      .max(limits.maxPromptChars, { error: `must be at most ${limits.maxPromptChars} characters` })
      .refine((prompt) => visibleCharacter.test(prompt), {
        error: 'must contain visible text, not only spaces or invisible characters',
      }),
    approval: z
      .strictObject(
        {
          required: z.boolean({ error: requiredAs('true or false') }),
          approvers: principalList('approvers').optional(),
          timeoutMinutes: z
            .number({ error: 'must be a number of minutes' })
            .positive({ error: 'must be greater than 0' })
            .max(maxApprovalTimeoutMinutes, {
              error: `must be at most ${maxApprovalTimeoutMinutes} (a week)`,
            })
            .optional(),
          escalateTo: principalList('people to escalate to').optional(),
        },
        { error: 'must be an object such as {"required": true}' },
      )
      .superRefine((approval, ctx) => {
        // Settings for an approval that will not happen were a mistake in the caller's mind, not ours
        // to drop silently.
        if (approval.required) return;
        for (const field of approvalOnlyFields) {
          if (approval[field] === undefined) continue;
          ctx.addIssue({
            code: 'custom',
            path: [field],
            message: 'applies only when approval.required is true; remove it or set required to true',
          });
        }
      })
      .optional(),
    maxTokens: z
      .number({ error: 'must be a whole number of tokens' })
      .int({ error: 'must be a whole number of tokens' })
      .min(256, { error: 'must be at least 256 tokens' })
      .max(limits.maxRunTokens, { error: `must be at most ${limits.maxRunTokens} tokens` })
      .optional(),
    model: z.enum(['auto', 'fast', 'strong'], { error: 'must be one of auto, fast, strong' }).optional(),
    tools: uniqueList(
      z.enum(toolNames as [string, ...string[]], {
        error: `must name known tools: ${toolNames.join(', ')}`,
      }),
      { max: toolNames.length, what: `tool names (${toolNames.join(', ')})`, sameKey: (tool) => tool },
    ).optional(),
    webhook: z
      .strictObject(
        {
          url: z
            .string({ error: requiredAs('a URL string') })
            .min(1, { error: 'must not be empty' })
            .max(2048, { error: 'must be at most 2048 characters' }),
        },
        { error: 'must be an object such as {"url": "https://example.com/hooks/runs"}' },
      )
      .optional(),
    research: z
      .boolean({ error: 'must be true or false' })
      .refine((research) => !research || limits.researchAvailable !== false, {
        error:
          'research is not available on this deployment (no Azure AI Foundry project is configured); leave it out or send false',
      })
      .optional(),
  });
}

export type StartAgentRunBody = z.output<ReturnType<typeof startAgentRunBodySchema>>;

/** How a draft on offer is named: 16 hex digits of a hash of the run, round, text and citations. */
export const draftIdPattern = /^[0-9a-f]{16}$/;

/**
 * The body of `POST /api/agent-runs/{id}/approval`. `round` is required: a decision names the draft its
 * maker saw (the run view's `approval.round`), so it can never apply to a newer draft offered meanwhile.
 * `draftId` (the run view's `approval.draftId`) pins it to that draft's exact text as well.
 */
export const approvalBodySchema = z.strictObject({
  decision: z.enum(['approve', 'reject'], { error: requiredAs('approve or reject') }),
  round: z
    .number({
      error: (issue) =>
        issue.input === undefined
          ? "is required: the round of the draft you decide (the run view's approval.round); a decision applies only to that draft"
          : 'must be a whole number: the round of the draft you decide',
    })
    .int({ error: 'must be a whole number: the round of the draft you decide' })
    .min(0, { error: 'must be 0 or more: the round of the draft you decide' }),
  draftId: z
    .string({ error: "must be a string: the run view's approval.draftId" })
    .regex(draftIdPattern, { error: "must be 16 hex digits, as the run view's approval.draftId shows it" })
    .optional(),
  comment: z
    .string({ error: 'must be a string' })
    .trim()
    .max(4000, { error: 'must be at most 4000 characters' })
    .optional(),
});

export type ApprovalBody = z.output<typeof approvalBodySchema>;

/**
 * What the approval endpoint raises on the round's channel. `round` and `draftId` tie it to the draft the
 * person saw; `decisionId` names this one decision, so the endpoint can tell whether the run took it.
 * `draftId` and `decisionId` are absent in events raised before they existed.
 */
export const approvalEventSchema = z.object({
  decision: z.enum(['approve', 'reject']),
  comment: z.string().optional(),
  by: z.string(),
  round: z.number().int().min(0),
  draftId: z.string().max(64).optional(),
  decisionId: z.string().max(64).optional(),
  /** The product's signature over all of the above and the run (see lib/capability). */
  proof: z.string().max(200).optional(),
});

export type ApprovalEvent = z.output<typeof approvalEventSchema>;

/** The decision a run took, as its custom status shows it: which one, for which round, by whom. */
export interface TakenDecision {
  /** The endpoint's id for the decision; absent for events raised before decisions had ids. */
  id?: string;
  round: number;
  decision: 'approve' | 'reject';
  by: string;
}

/**
 * The reason given to terminate, cancel, suspend or resume a run (`?reason=`): it reaches logs and the
 * run's output, so it is one line of visible text, bounded.
 */
export const maxReasonChars = 500;
export const runControlReasonSchema = z
  .string()
  .trim()
  .max(maxReasonChars, { error: `must be at most ${maxReasonChars} characters` })
  .refine((reason) => !invisibleCharacter.test(reason), {
    error:
      'must be one line without control or invisible formatting characters (no line breaks, escape sequences, U+202E or U+200B)',
  });

export interface ApprovalSettings {
  approvers: string[];
  timeoutMinutes: number;
  escalateTo: string[];
}

/** The orchestration input: the request as validated, the owner, and the settings the run needs. */
export interface AgentRunInput {
  runId: string;
  owner: string;
  /** When the starter took the request (ISO, ms): orders the run list, as the host's created time has whole seconds. */
  requestedAt?: string;
  prompt: string;
  approval: ApprovalSettings | null;
  maxTokens: number;
  model: 'auto' | 'fast' | 'strong';
  tools: string[];
  /** true: at least one research subtask; false: none; null: the planner decides. */
  research: boolean | null;
  researchAvailable: boolean;
  /** Where to POST signed notifications, with the links they carry (checked by the starter). */
  webhook?: WebhookTarget;
  limits: {
    maxSubtasks: number;
    maxToolTurns: number;
    maxRevisions: number;
    /** How long a research subtask may take; absent in runs started before it was a setting (10 min). */
    researchTimeoutMs?: number;
  };
}

export const subtaskKinds = ['answer', 'research', 'tool'] as const;
export type SubtaskKind = (typeof subtaskKinds)[number];

export interface Subtask {
  id: string;
  kind: SubtaskKind;
  title: string;
  instructions: string;
  toolName?: string;
  toolArguments?: string;
}

export interface SubtaskResult {
  id: string;
  kind: SubtaskKind;
  title: string;
  ok: boolean;
  text?: string;
  error?: string;
  citations: Citation[];
  usage: ModelUsage;
}

export const runStages = [
  'reserving',
  'planning',
  'working',
  'synthesizing',
  'awaiting-approval',
  'revising',
  'saving',
  'done',
] as const;
export type RunStage = (typeof runStages)[number];

/**
 * The approval on offer, as the custom status carries it: bounded, whatever the model wrote. The whole
 * draft and its citations are in `draftBlob` (inside the results container); the approvers follow from
 * the input and `escalated` (see approversOf).
 */
export interface PendingApproval {
  round: number;
  /** The draft's first characters (at most draftPreviewChars). */
  draftPreview: string;
  draftChars: number;
  citationCount: number;
  /** `<container>/<runId>/draft-<round>.json`. */
  draftBlob: string;
  /** Names this draft (see draftIdPattern); absent in runs whose draft was saved before drafts had ids. */
  draftId?: string;
  deadline: string;
  escalated: boolean;
}

/** Who may decide: the owner, the approvers, and after an escalation those it went to. */
export function approversOf(owner: string, settings: ApprovalSettings | null, escalated: boolean): string[] {
  const approvers = [owner, ...(settings?.approvers ?? [])];
  return escalated ? [...new Set([...approvers, ...(settings?.escalateTo ?? [])])] : approvers;
}

/** Longest subtask title the custom status carries. */
export const statusTitleChars = 80;

/** The orchestration's custom status, readable through the status URL at every stage. */
export interface WebhookTarget {
  url: string;
  links: { run: string; approval: string };
}

export const webhookEventTypes = ['run.awaiting_approval', 'run.ended'] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

/** What became of one notification; shown in the run view. */
export interface WebhookDelivery {
  webhookId: string;
  type: WebhookEventType;
  state: 'delivered' | 'failed';
  error?: string;
}

export interface AgentRunStatus {
  stage: RunStage;
  progress: { done: number; total: number };
  usage: ModelUsage;
  owner: string;
  subtasks?: { id: string; kind: SubtaskKind; title: string; state: 'pending' | 'succeeded' | 'failed' }[];
  approval?: PendingApproval;
  /** The last approval decision the run took (kept after the round it decided). */
  decision?: TakenDecision;
  webhook?: { deliveries: WebhookDelivery[] };
}

/** `budget-spent`: the run used up its reservation before it could write an answer; it says what it has. */
export const runOutcomes = [
  'completed',
  'rejected',
  'expired',
  'failed',
  'quota-exceeded',
  'budget-spent',
] as const;
export type RunOutcome = (typeof runOutcomes)[number];

/** The orchestration output, and the JSON saved to Blob Storage. */
export interface AgentRunResult {
  runId: string;
  owner: string;
  outcome: RunOutcome;
  prompt: string;
  answer: string | null;
  citations: Citation[];
  subtasks: SubtaskResult[];
  usage: ModelUsage;
  approval: {
    required: boolean;
    decision?: 'approve' | 'reject';
    by?: string;
    comment?: string;
    /** The id of the decision taken (see TakenDecision). */
    decisionId?: string;
    rounds: number;
    escalated: boolean;
  };
  message?: string;
  quota?: { remaining: number; monthlyTokenLimit: number; periodEnd: string };
  startedAt: string;
  finishedAt: string;
  blobName?: string;
  /** Set on the orchestration output after the last notification: the saved blob is written before it. */
  webhook?: { deliveries: WebhookDelivery[] };
}

/** The plan the fast model returns (response format with this schema). */
export function planSchema(maxSubtasks: number, tools: readonly string[]) {
  return z.strictObject({
    subtasks: z
      .array(
        z.strictObject({
          kind: z.enum(subtaskKinds),
          title: z.string().min(1).max(200),
          instructions: z.string().min(1).max(4000),
          toolName: z.enum(['none', ...tools] as [string, ...string[]]),
          toolArguments: z.string().max(2000),
        }),
      )
      .min(1)
      .max(maxSubtasks),
  });
}

export type Plan = z.output<ReturnType<typeof planSchema>>;

export const emptyUsage: ModelUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };

export function addUsage(a: ModelUsage, b: ModelUsage): ModelUsage {
  const reasoning =
    a.reasoningTokens === undefined && b.reasoningTokens === undefined
      ? undefined
      : (a.reasoningTokens ?? 0) + (b.reasoningTokens ?? 0);
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    // Only where some call reported any, so usage without reasoning keeps the shape it always had.
    ...(reasoning === undefined ? {} : { reasoningTokens: reasoning }),
  };
}
