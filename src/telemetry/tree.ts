import { createHash } from 'node:crypto';
import { ROOT_CONTEXT, TraceFlags, trace, type Context } from '@opentelemetry/api';

/**
 * Where an activity sits in its run. Orchestrators replay, so they emit no spans; instead every span an
 * activity emits hangs under ids derived from the run id alone: one trace per run, one parent per
 * subtask. The same run always maps to the same trace, whichever worker runs which attempt. The run and
 * subtask spans themselves are emitted with those ids when they end (src/telemetry/runTree.ts).
 */
export interface RunPlace {
  runId: string;
  /** Absent for the run orchestrator's own activities (planning, synthesis, saving the result). */
  subtaskId?: string;
}

const hex = (text: string, chars: number) => createHash('sha256').update(text).digest('hex').slice(0, chars);

export const runTraceId = (runId: string): string => hex(`trace:${runId}`, 32);
export const runSpanId = (runId: string): string => hex(`run:${runId}`, 16);
export const subtaskSpanId = (runId: string, subtaskId: string): string =>
  hex(`subtask:${runId}:${subtaskId}`, 16);
/** One approval round's wait; derived too, so an emission repeated by an activity retry has the same id. */
export const approvalSpanId = (runId: string, round: number): string => hex(`approval:${runId}:${round}`, 16);

/** Subtask orchestrations are named `<runId>-s<N>` (subtaskInstanceId in src/names.ts). */
const subtaskInstance = /^(.+)-(s\d+)$/;

/** The run and subtask of an orchestration instance id, as the activity trigger's metadata gives it. */
export function placeOf(instanceId: unknown): RunPlace | undefined {
  if (typeof instanceId !== 'string' || instanceId === '') return undefined;
  const match = subtaskInstance.exec(instanceId);
  return match ? { runId: match[1]!, subtaskId: match[2]! } : { runId: instanceId };
}

/** A context whose (remote) parent is the run's or the subtask's derived span. */
export function parentContext(place: RunPlace): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: runTraceId(place.runId),
    spanId: place.subtaskId ? subtaskSpanId(place.runId, place.subtaskId) : runSpanId(place.runId),
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  });
}
