import {
  boundedToolResult,
  maxToolResultChars,
  turnMessages,
  type ToolExchange,
} from '../../src/agents/transcript';
import type { ChatMessage } from '../../src/contracts/model';

const opening: ChatMessage[] = [
  { role: 'system', content: 'system prompt' },
  { role: 'user', content: 'the part' },
];

function exchange(n: number, result = `result ${n}`): ToolExchange {
  return {
    call: {
      role: 'assistant',
      content: null,
      tool_calls: [
        { id: `call-${n}`, type: 'function', function: { name: 'calculator', arguments: `{"n":${n}}` } },
      ],
    },
    results: [{ tool_call_id: `call-${n}`, content: result }],
  };
}

describe('what a tool-loop turn sends', () => {
  it('sends the opening and every exchange whole while there are few', () => {
    const messages = turnMessages(opening, [exchange(1), exchange(2)]);
    expect(messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool', 'assistant', 'tool']);
  });

  it('keeps the latest two exchanges whole and notes the older ones, so a turn stays bounded', () => {
    const exchanges = Array.from({ length: 10 }, (_, i) => exchange(i + 1));
    const closing: ChatMessage[] = [{ role: 'user', content: 'answer now' }];
    const messages = turnMessages(opening, exchanges, closing);
    expect(messages.map((m) => m.role)).toEqual([
      'system',
      'user',
      'user',
      'assistant',
      'tool',
      'assistant',
      'tool',
      'user',
    ]);
    const note = messages[2]?.content ?? '';
    expect(note).toContain('calculator({"n":1}) -> result 1');
    expect(note).toContain('calculator({"n":8}) -> result 8');
    expect(note).not.toContain('result 9');
    // Every tool result sent follows the assistant turn that called it.
    expect(messages[4]).toEqual({ role: 'tool', tool_call_id: 'call-9', content: 'result 9' });
    expect(messages[7]).toEqual(closing[0]);
  });

  it('cuts a long tool result and says how long it was', () => {
    const long = 'x'.repeat(maxToolResultChars + 10);
    const cut = boundedToolResult(long);
    expect(cut.startsWith('x'.repeat(maxToolResultChars))).toBe(true);
    expect(cut).toContain(`${long.length} characters in all`);
    expect(boundedToolResult('short')).toBe('short');
  });
});
