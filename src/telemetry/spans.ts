import type { InvocationContext } from '@azure/functions';
import {
  context as otelContext,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@opentelemetry/api';
import type { CallModelInput, CallModelOutput, RunToolInput, RunToolResult } from '../contracts/model';
import type { CollectResearchOutput, StartResearchInput } from '../contracts/research';
import { activityNames } from '../names';
import { parentContext, placeOf } from './tree';

export const tracerName = 'durable-agent-runs';

/** Application attributes, beside the GenAI semantic conventions. */
export const appAttributes = {
  runId: 'app.run.id',
  subtaskId: 'app.subtask.id',
  cacheHit: 'app.cache.hit',
  activity: 'app.activity',
  /** Of gen_ai.usage.output_tokens, those a reasoning model spent reasoning. */
  reasoningTokens: 'app.usage.reasoning_tokens',
} as const;

export interface SpanOptions {
  /** Prompts and answers as span events; off unless OTEL_GENAI_CAPTURE_CONTENT is on. */
  captureContent: boolean;
}

interface Shape {
  name: string;
  kind: SpanKind;
  attributes: Attributes;
  /** Called with the handler's result; adds what only the answer knows. */
  end?: (span: Span, output: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; message: string };
const isFailedOutcome = (output: unknown): output is Extract<Outcome, { ok: false }> =>
  typeof output === 'object' && output !== null && (output as { ok?: unknown }).ok === false;

const genAiSystem = 'azure.ai.openai';

function shapeOf(name: string, input: unknown, options: SpanOptions): Shape {
  if (name === activityNames.callModel) {
    const call = input as Partial<CallModelInput>;
    return {
      name: `chat ${call.tier ?? 'model'}`,
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': genAiSystem,
        'gen_ai.provider.name': genAiSystem,
        'app.model.tier': call.tier,
        'gen_ai.request.max_tokens': call.maxTokens,
        'gen_ai.request.temperature': call.temperature,
      },
      end: (span, output) => {
        const outcome = output as CallModelOutput;
        if (options.captureContent)
          span.addEvent('gen_ai.content.prompt', { 'gen_ai.prompt': JSON.stringify(call.messages ?? []) });
        if (!outcome?.ok) return;
        const r = outcome.value;
        // The span is named after what was asked for; the deployment is only known once it answered.
        span.updateName(`chat ${r.deployment}`);
        span.setAttributes({
          'gen_ai.request.model': r.deployment,
          'gen_ai.response.model': r.deployment,
          'gen_ai.usage.input_tokens': r.usage.promptTokens,
          'gen_ai.usage.output_tokens': r.usage.completionTokens,
          'gen_ai.response.finish_reasons': [r.finishReason],
          [appAttributes.cacheHit]: r.cached,
          ...(r.usage.reasoningTokens === undefined
            ? {}
            : { [appAttributes.reasoningTokens]: r.usage.reasoningTokens }),
        });
        if (options.captureContent)
          span.addEvent('gen_ai.content.completion', {
            'gen_ai.completion': JSON.stringify(r.message),
          });
      },
    };
  }
  if (name === activityNames.runTool) {
    const call = input as Partial<RunToolInput>;
    return {
      name: `execute_tool ${call.name ?? ''}`.trim(),
      kind: SpanKind.INTERNAL,
      attributes: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': call.name },
      end: (span, output) => {
        const result = output as RunToolResult;
        if (result?.isError)
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool reported an error' });
        if (options.captureContent)
          span.addEvent('gen_ai.tool.message', {
            'gen_ai.tool.call.arguments': call.arguments ?? '',
            'gen_ai.tool.call.result': result?.content ?? '',
          });
      },
    };
  }
  if (
    name === activityNames.startResearch ||
    name === activityNames.pollResearch ||
    name === activityNames.collectResearch
  ) {
    const step =
      name === activityNames.startResearch
        ? 'start'
        : name === activityNames.pollResearch
          ? 'poll'
          : 'collect';
    return {
      name: `invoke_agent research ${step}`,
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'invoke_agent',
        'gen_ai.system': 'azure.ai.agents',
        'gen_ai.provider.name': 'azure.ai.agents',
        'gen_ai.agent.name': 'research',
        'app.research.step': step,
        'app.research.question.chars':
          step === 'start' ? ((input as Partial<StartResearchInput>)?.query?.length ?? 0) : undefined,
      },
      // The research run's tokens are counted once, when its answer is collected.
      end:
        step === 'collect'
          ? (span, output) => {
              const outcome = output as CollectResearchOutput;
              if (!outcome?.ok) return;
              span.setAttributes({
                'gen_ai.usage.input_tokens': outcome.value.usage.promptTokens,
                'gen_ai.usage.output_tokens': outcome.value.usage.completionTokens,
              });
              if (options.captureContent)
                span.addEvent('gen_ai.content.completion', { 'gen_ai.completion': outcome.value.text });
            }
          : undefined,
    };
  }
  return { name: `activity ${name}`, kind: SpanKind.INTERNAL, attributes: {} };
}

/**
 * Wraps an activity so that each attempt is one span. Activities run once per attempt and never
 * replay, so spans emitted here are never duplicated by an orchestrator's replay.
 */
export function withActivitySpan<I, O>(
  name: string,
  handler: (input: I, context: InvocationContext) => O | Promise<O>,
  options: SpanOptions,
): (input: I, context: InvocationContext) => Promise<O> {
  const tracer = trace.getTracer(tracerName);
  return async (input, context) => {
    const place = placeOf(context.triggerMetadata?.instanceId);
    const shape = shapeOf(name, input, options);
    const attributes: Attributes = { ...shape.attributes, [appAttributes.activity]: name };
    if (place) {
      attributes[appAttributes.runId] = place.runId;
      if (place.subtaskId) attributes[appAttributes.subtaskId] = place.subtaskId;
    }
    const parent = place ? parentContext(place) : otelContext.active();
    return tracer.startActiveSpan(shape.name, { kind: shape.kind, attributes }, parent, async (span) => {
      try {
        const output = await handler(input, context);
        shape.end?.(span, output);
        if (isFailedOutcome(output)) span.setStatus({ code: SpanStatusCode.ERROR, message: output.message });
        return output;
      } catch (error) {
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
        throw error;
      } finally {
        span.end();
      }
    });
  };
}
