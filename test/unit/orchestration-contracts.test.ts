import {
  agentRunInputSchema,
  checked,
  researchSubtaskInputSchema,
  subtaskResultSchema,
} from '../../src/contracts/orchestrations';
import { readHistories } from '../replay/replay';

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
});
