import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Attributes,
  type Context,
  type Tracer,
} from '@opentelemetry/api';
import { RandomIdGenerator, type IdGenerator } from '@opentelemetry/sdk-trace-base';
import type { ApprovalWaitRecord, RunRecord, SubtaskRecord } from '../contracts/telemetry';
import { appAttributes } from './spans';
import { approvalSpanId, runSpanId, runTraceId, subtaskSpanId } from './tree';

/**
 * The spans of the run's tree itself: the run, its subtasks and its approval waits. Their ids are the
 * ones the activity spans already name as parents (src/telemetry/tree.ts), so they cannot come from the
 * SDK's random ids; a tracer provider of their own draws its ids from DerivedIdGenerator, which hands
 * out the derived ids for exactly the one span being started. Nothing here runs in an orchestrator:
 * the `recordSpans` activity and the product's cancellation call it, with times the orchestration read
 * from its durable clock.
 */
export class DerivedIdGenerator implements IdGenerator {
  private next: { traceId: string; spanId: string } | undefined;
  private readonly random = new RandomIdGenerator();

  /** Runs `start` (which starts one span, synchronously) with these ids. */
  withIds<T>(ids: { traceId: string; spanId: string }, start: () => T): T {
    this.next = ids;
    try {
      return start();
    } finally {
      this.next = undefined;
    }
  }

  generateTraceId(): string {
    return this.next?.traceId ?? this.random.generateTraceId();
  }

  generateSpanId(): string {
    return this.next?.spanId ?? this.random.generateSpanId();
  }
}

export interface RunTreeExport {
  ids: DerivedIdGenerator;
  tracer: Tracer;
  /** Sends what is buffered; the activity waits for it so that a run's last spans leave with it. */
  flush: () => Promise<void>;
  captureContent: boolean;
}

let current: RunTreeExport | undefined;

/** Set by setupTelemetry when spans go somewhere; until then (and with telemetry off) nothing is emitted. */
export function setRunTreeExport(value: RunTreeExport | undefined): void {
  current = value;
}

export const approvalAttributes = {
  round: 'approval.round',
  decision: 'approval.decision',
  outcome: 'approval.outcome',
  escalated: 'approval.escalated',
} as const;

/** The agent name the run and its subtasks carry as `gen_ai.agent.name`. */
export const runAgentName = 'agent-run';
export const subtaskAgentName = (kind: string): string => `${kind}-subtask`;

const runParent = (runId: string): Context =>
  trace.setSpanContext(ROOT_CONTEXT, {
    traceId: runTraceId(runId),
    spanId: runSpanId(runId),
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  });

const usageAttributes = (usage: { promptTokens: number; completionTokens: number }): Attributes => ({
  'gen_ai.usage.input_tokens': usage.promptTokens,
  'gen_ai.usage.output_tokens': usage.completionTokens,
});

interface TreeSpan {
  name: string;
  traceId: string;
  spanId: string;
  parent: Context;
  startedAt: string;
  endedAt: string;
  attributes: Attributes;
  error?: string;
  events?: { name: string; at: string; attributes?: Attributes }[];
}

function emit(tree: RunTreeExport, span: TreeSpan): void {
  const started = tree.ids.withIds({ traceId: span.traceId, spanId: span.spanId }, () =>
    tree.tracer.startSpan(
      span.name,
      { kind: SpanKind.INTERNAL, startTime: new Date(span.startedAt), attributes: span.attributes },
      span.parent,
    ),
  );
  for (const event of span.events ?? [])
    started.addEvent(event.name, event.attributes ?? {}, new Date(event.at));
  if (span.error !== undefined) started.setStatus({ code: SpanStatusCode.ERROR, message: span.error });
  // A clock that went backwards between episodes must not give a negative duration.
  const end = Math.max(new Date(span.endedAt).getTime(), new Date(span.startedAt).getTime());
  started.end(new Date(end));
}

function approvalWaitSpan(runId: string, wait: ApprovalWaitRecord): TreeSpan {
  return {
    name: `await_approval round ${wait.round}`,
    traceId: runTraceId(runId),
    spanId: approvalSpanId(runId, wait.round),
    parent: runParent(runId),
    startedAt: wait.startedAt,
    endedAt: wait.endedAt,
    attributes: {
      [appAttributes.runId]: runId,
      [approvalAttributes.round]: wait.round,
      [approvalAttributes.outcome]: wait.outcome,
      [approvalAttributes.escalated]: wait.escalatedAt !== undefined,
      ...(wait.decision ? { [approvalAttributes.decision]: wait.decision } : {}),
    },
    events: wait.escalatedAt ? [{ name: 'approval.escalated', at: wait.escalatedAt }] : [],
  };
}

/** The run's span (the root of its trace) and one span per approval wait under it. */
export function emitRunSpans(run: RunRecord): void {
  const tree = current;
  if (!tree) return;
  emit(tree, {
    name: `invoke_agent ${runAgentName}`,
    traceId: runTraceId(run.runId),
    spanId: runSpanId(run.runId),
    parent: ROOT_CONTEXT,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': runAgentName,
      'gen_ai.conversation.id': run.runId,
      [appAttributes.runId]: run.runId,
      'app.run.outcome': run.outcome,
      ...usageAttributes(run.usage),
      ...(run.error !== undefined ? { 'error.type': run.outcome } : {}),
      // Who asked is personal data: only with content capture on, like the prompts.
      ...(tree.captureContent && run.owner ? { 'user.id': run.owner } : {}),
    },
    // A failure's message can quote what a tool returned, so it is content too.
    ...(run.error !== undefined ? { error: tree.captureContent ? run.error : `run ${run.outcome}` } : {}),
  });
  for (const wait of run.approvalWaits) emit(tree, approvalWaitSpan(run.runId, wait));
}

/** One subtask's span, under the run's. */
export function emitSubtaskSpan(subtask: SubtaskRecord): void {
  const tree = current;
  if (!tree) return;
  const agent = subtaskAgentName(subtask.kind);
  emit(tree, {
    name: `invoke_agent ${agent}`,
    traceId: runTraceId(subtask.runId),
    spanId: subtaskSpanId(subtask.runId, subtask.subtaskId),
    parent: runParent(subtask.runId),
    startedAt: subtask.startedAt,
    endedAt: subtask.endedAt,
    attributes: {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': agent,
      'gen_ai.conversation.id': subtask.runId,
      [appAttributes.runId]: subtask.runId,
      [appAttributes.subtaskId]: subtask.subtaskId,
      'app.subtask.kind': subtask.kind,
      'app.subtask.ok': subtask.ok,
      ...(subtask.outcome ? { 'app.subtask.outcome': subtask.outcome } : {}),
      ...usageAttributes(subtask.usage),
      ...(subtask.error !== undefined ? { 'error.type': 'subtask_failed' } : {}),
    },
    ...(subtask.error !== undefined ? { error: tree.captureContent ? subtask.error : 'subtask failed' } : {}),
  });
}

/** Waits for the tree's spans to be exported; never throws (telemetry must not fail a run). */
export async function flushRunTree(): Promise<void> {
  await current?.flush().catch(() => undefined);
}
