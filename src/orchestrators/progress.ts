import type { OrchestrationContext } from 'durable-functions';
import {
  addUsage,
  emptyUsage,
  type AgentRunInput,
  type AgentRunResult,
  type AgentRunStatus,
  type PendingApproval,
  type RunOutcome,
  type TakenDecision,
  type RunStage,
  type SubtaskResult,
  type WebhookDelivery,
  type WebhookEventType,
} from '../contracts/agentRun';
import type { ModelUsage } from '../contracts/model';
import type { Citation } from '../contracts/research';
import type { ApprovalOutcome } from './draft';
import type { Durable } from './durable';
import { notifyWebhook } from './webhook';

/** Tracks stage, progress and usage, and publishes them as the custom status at every change. */
export class RunProgress {
  usage: ModelUsage = emptyUsage;
  stage: RunStage = 'reserving';
  done = 0;
  total = 0;
  subtasks: NonNullable<AgentRunStatus['subtasks']> = [];
  approval: PendingApproval | undefined;
  /** The last approval decision taken; published with every status after it. */
  decision: TakenDecision | undefined;
  webhookDeliveries: WebhookDelivery[] = [];
  readonly startedAt: string;

  constructor(
    private readonly context: OrchestrationContext,
    private readonly input: AgentRunInput,
  ) {
    this.startedAt = context.df.currentUtcDateTime.toISOString();
  }

  setStage(stage: RunStage): void {
    this.stage = stage;
    if (stage !== 'awaiting-approval') this.approval = undefined;
    this.publish();
  }

  addUsage(usage: ModelUsage): void {
    this.usage = addUsage(this.usage, usage);
  }

  publish(): void {
    const status: AgentRunStatus = {
      stage: this.stage,
      progress: { done: this.done, total: this.total },
      usage: this.usage,
      owner: this.input.owner,
      ...(this.subtasks.length > 0 ? { subtasks: this.subtasks } : {}),
      ...(this.approval ? { approval: this.approval } : {}),
      ...(this.decision ? { decision: this.decision } : {}),
      ...(this.webhookDeliveries.length > 0 ? { webhook: { deliveries: this.webhookDeliveries } } : {}),
    };
    this.context.df.setCustomStatus(status);
  }

  /** Sends a webhook if the run asked for them, and shows what became of it. */
  *notify(type: WebhookEventType, data: Record<string, unknown>): Durable<void> {
    const delivery = yield* notifyWebhook(this.context, this.input, this.webhookDeliveries, type, data);
    if (!delivery) return;
    this.webhookDeliveries = [...this.webhookDeliveries, delivery];
    this.publish();
  }

  withWebhook<T extends AgentRunResult>(result: T): T {
    return this.webhookDeliveries.length > 0
      ? { ...result, webhook: { deliveries: this.webhookDeliveries } }
      : result;
  }

  result(
    outcome: RunOutcome,
    extra: {
      answer?: string;
      citations?: Citation[];
      subtasks?: SubtaskResult[];
      message?: string;
      quota?: AgentRunResult['quota'];
      approvalDecision?: ApprovalOutcome;
    },
  ): AgentRunResult {
    const decision = extra.approvalDecision;
    return {
      runId: this.context.df.instanceId,
      owner: this.input.owner,
      outcome,
      prompt: this.input.prompt,
      answer: extra.answer ?? null,
      citations: extra.citations ?? [],
      subtasks: extra.subtasks ?? [],
      usage: this.usage,
      approval: {
        required: this.input.approval !== null,
        ...(decision?.decision ? { decision: decision.decision } : {}),
        ...(decision?.by ? { by: decision.by } : {}),
        ...(decision?.comment ? { comment: decision.comment } : {}),
        ...(decision?.decisionId ? { decisionId: decision.decisionId } : {}),
        rounds: decision?.rounds ?? 0,
        escalated: decision?.escalated ?? false,
      },
      ...(extra.message ? { message: extra.message } : {}),
      ...(extra.quota ? { quota: extra.quota } : {}),
      startedAt: this.startedAt,
      finishedAt: this.context.df.currentUtcDateTime.toISOString(),
    };
  }
}
