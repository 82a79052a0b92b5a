import { complexityScore, routeModel } from '../../src/agents/routing';

describe('routeModel', () => {
  it('honours an explicit tier whatever the task', () => {
    const hard = { kind: 'answer', text: 'Explain why and compare the trade-offs, then design a plan.' };
    expect(routeModel('fast', hard)).toBe('fast');
    expect(routeModel('strong', { kind: 'tool', text: '2+2' })).toBe('strong');
  });

  it.each([
    ['a short lookup', { kind: 'answer', text: 'What is the capital of France?' }],
    ['a short calculation', { kind: 'answer', text: 'Compute 17% of 2,340.' }],
    ['a tool step even when it is wordy', { kind: 'tool', text: 'Explain and compare the result of 2+2' }],
    ['a single reasoning word in a short brief', { kind: 'answer', text: 'Explain what a mutex is.' }],
  ])('auto sends %s to the fast model', (_, task) => {
    expect(routeModel('auto', task)).toBe('fast');
  });

  it.each([
    [
      'reasoning',
      { kind: 'answer', text: 'Explain why the bridge failed and compare it with similar collapses.' },
    ],
    [
      'several steps',
      { kind: 'answer', text: 'First list the options. Then estimate each cost. Finally recommend one.' },
    ],
    ['a long brief', { kind: 'answer', text: 'word '.repeat(300) }],
    ['synthesis', { kind: 'synthesis', text: 'Combine the findings.' }],
  ])('auto sends %s to the strong model', (_, task) => {
    expect(routeModel('auto', task)).toBe('strong');
  });

  it('is deterministic, so a replayed orchestration routes the same way', () => {
    const task = { kind: 'answer', text: 'Analyze the trade-offs, then decide.' };
    expect(complexityScore(task)).toBe(complexityScore({ ...task }));
    expect(routeModel('auto', task)).toBe(routeModel('auto', task));
  });
});
