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

  it('name every field that does not fit', () => {
    expect(() =>
      checked(subtaskResultSchema.array(), [{ id: 's1', kind: 'poem', ok: 'yes' }], "The subtasks' results"),
    ).toThrow(/The subtasks' results does not match its contract: 0\.kind: .*; 0\.title: .*; 0\.ok: /);
    expect(() => checked(agentRunInputSchema, null, 'The agent run input')).toThrow(/\(root\)/);
  });
});
