import { openPartition, ownerRowKey, parseOwnerRowKey, promptPreview } from '../../src/runIndex/table';

describe('the run index keys', () => {
  it('orders an owner’s rows newest first in the table’s ascending key order', () => {
    const times = ['2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.001Z', '2030-06-30T12:00:00.000Z'];
    const keys = times.map((t, i) => ownerRowKey(t, `run-${i}`));
    expect([...keys].sort()).toEqual([...keys].reverse());
  });

  it('gives back the time and id a row key was made from, and nothing for other keys', () => {
    const key = ownerRowKey('2026-12-07T23:00:10.627Z', '0fa65731-3c4e-4ef9-84f4-a8fed36b3409');
    expect(parseOwnerRowKey(key)).toEqual({
      createdTime: '2026-12-07T23:00:10.627Z',
      runId: '0fa65731-3c4e-4ef9-84f4-a8fed36b3409',
    });
    expect(parseOwnerRowKey('state')).toBeUndefined();
    expect(parseOwnerRowKey('123_x')).toBeUndefined();
  });

  it('spreads open rows over sixteen partitions by the run id', () => {
    expect(openPartition('0fa65731')).toBe('open:0');
    expect(openPartition('Fa65731')).toBe('open:f');
    expect(openPartition('run-without-hex')).toBe('open:0');
  });

  it('previews a prompt on one line, at most 120 characters', () => {
    expect(promptPreview('What is\n  2 + 3?\tUse it.')).toBe('What is 2 + 3? Use it.');
    const long = promptPreview('é'.repeat(300));
    expect([...long]).toHaveLength(120);
    expect(long.endsWith('…')).toBe(true);
  });
});
