import type { z } from 'zod';
import { EventType } from '../../devhost/src/durable/history';
import { callModelOutputSchema, runToolResultSchema } from '../../src/contracts/model';
import {
  agentRunInputSchema,
  answerSubtaskInputSchema,
  checked,
  researchSubtaskInputSchema,
  subtaskResultSchema,
  toolSubtaskInputSchema,
} from '../../src/contracts/orchestrations';
import { reserveResultSchema } from '../../src/contracts/quota';
import {
  collectResearchOutputSchema,
  pollResearchOutputSchema,
  startResearchOutputSchema,
} from '../../src/contracts/research';
import { saveDraftOutputSchema, saveResultOutputSchema } from '../../src/contracts/result';
import { readHistories } from '../replay/replay';

const inputSchemas: Record<string, z.ZodType> = {
  agentRunOrchestrator: agentRunInputSchema,
  answerSubtaskOrchestrator: answerSubtaskInputSchema,
  researchSubtaskOrchestrator: researchSubtaskInputSchema,
  toolSubtaskOrchestrator: toolSubtaskInputSchema,
};

const activityResultSchemas: Record<string, z.ZodType> = {
  callModel: callModelOutputSchema,
  runTool: runToolResultSchema,
  startResearch: startResearchOutputSchema,
  pollResearch: pollResearchOutputSchema,
  collectResearch: collectResearchOutputSchema,
  saveResult: saveResultOutputSchema,
  saveDraft: saveDraftOutputSchema,
};

describe('orchestration contracts', () => {
  it('accept the inputs of every recorded history', () => {
    for (const { recorded } of readHistories()) {
      if (recorded.orchestrator === 'agentRunOrchestrator') {
        expect(agentRunInputSchema.safeParse(recorded.input).success).toBe(true);
      }
      if (recorded.orchestrator === 'researchSubtaskOrchestrator') {
        expect(researchSubtaskInputSchema.safeParse(recorded.input).success).toBe(true);
      }
    }
  });

  it('keep every field the recorded inputs carry (zod drops keys a schema does not name)', () => {
    let agentRunInputs = 0;
    for (const { recorded } of readHistories()) {
      if (recorded.orchestrator === 'agentRunOrchestrator') {
        agentRunInputs += 1;
        expect(agentRunInputSchema.parse(recorded.input)).toEqual(recorded.input);
      }
      if (recorded.orchestrator === 'researchSubtaskOrchestrator') {
        expect(researchSubtaskInputSchema.parse(recorded.input)).toEqual(recorded.input);
      }
    }
    expect(agentRunInputs).toBeGreaterThan(0);
  });

  it('name every field that does not fit', () => {
    expect(() =>
      checked(subtaskResultSchema.array(), [{ id: 's1', kind: 'poem', ok: 'yes' }], "The subtasks' results"),
    ).toThrow(/The subtasks' results does not match its contract: 0\.kind: .*; 0\.title: .*; 0\.ok: /);
    expect(() => checked(agentRunInputSchema, null, 'The agent run input')).toThrow(/\(root\)/);
  });

  it('read every recorded input and result exactly as it was recorded (nothing dropped or changed)', () => {
    let checkedValues = 0;
    for (const { file, recorded } of readHistories()) {
      const inputSchema = inputSchemas[recorded.orchestrator];
      if (!inputSchema) throw new Error(`${file}: no input contract for ${recorded.orchestrator}`);
      expect(checked(inputSchema, recorded.input, `${file} input`)).toEqual(recorded.input);
      checkedValues++;
      const scheduled = new Map<number, string>();
      const reserves = new Set<string>();
      for (const e of recorded.history) {
        if (e.EventType === EventType.TaskScheduled) scheduled.set(e.EventId, e.Name ?? '');
        if (e.EventType === EventType.EventSent) {
          const call = JSON.parse(e.Input ?? '{}') as { id?: string; op?: string };
          if (call.op === 'reserve' && call.id) reserves.add(call.id);
        }
        const result: unknown = e.Result ? JSON.parse(e.Result) : undefined;
        if (e.EventType === EventType.TaskCompleted) {
          const name = scheduled.get(e.TaskScheduledId ?? -1) ?? '';
          const schema = activityResultSchemas[name];
          if (!schema) continue;
          expect(checked(schema, result, `${file} ${name} result`)).toEqual(result);
          checkedValues++;
        }
        if (e.EventType === EventType.SubOrchestrationInstanceCompleted) {
          expect(checked(subtaskResultSchema, result, `${file} subtask result`)).toEqual(result);
          checkedValues++;
        }
        if (e.EventType === EventType.EventRaised && reserves.has(e.Name ?? '')) {
          const reply: unknown = JSON.parse((JSON.parse(e.Input ?? '{}') as { result: string }).result);
          expect(checked(reserveResultSchema, reply, `${file} reservation`)).toEqual(reply);
          checkedValues++;
        }
      }
    }
    // Inputs, model calls, tool results, research steps, subtask results and reservations.
    expect(checkedValues).toBeGreaterThan(20);
  });

  it('keep the research timeout of an agent run input', () => {
    const [recorded] = readHistories().filter((h) => h.recorded.orchestrator === 'agentRunOrchestrator');
    const input = {
      ...(recorded?.recorded.input as object),
      limits: { maxSubtasks: 2, maxToolTurns: 1, maxRevisions: 0, researchTimeoutMs: 5000 },
    };
    expect(checked(agentRunInputSchema, input, 'The agent run input').limits.researchTimeoutMs).toBe(5000);
  });

  it.each([
    ['saved result', saveResultOutputSchema, { container: 'results' }, /blobName: /],
    [
      'reservation',
      reserveResultSchema,
      { granted: true, quota: {}, reason: 'bored' },
      /quota\.userId: .*; reason: /,
    ],
    [
      'collectResearch result',
      collectResearchOutputSchema,
      {
        ok: true,
        value: {
          text: 'x',
          citations: [{ url: 1 }],
          usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 },
        },
      },
      /value\.citations\.0\.url: .*; value\.citations\.0\.title: /,
    ],
    [
      'rate-limited outcome',
      pollResearchOutputSchema,
      { ok: false, kind: 'rate-limited', message: 'slow' },
      /retryAfterMs: /,
    ],
    ['permanent outcome', callModelOutputSchema, { ok: false, kind: 'permanent' }, /message: /],
  ] as const)('refuse a malformed %s, naming the field', (what, schema, value, fields) => {
    expect(() => checked(schema as z.ZodType, value, `The ${what}`)).toThrow(
      new RegExp(`The ${what} does not match its contract: ${fields.source}`),
    );
  });
});
