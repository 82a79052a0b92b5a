import { createRunTool } from '../../../src/activities/runTool';
import { testConfig, testContext } from './support';

describe('runTool activity', () => {
  const config = testConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' });
  const runTool = createRunTool({ config, now: () => new Date('2025-01-01T00:00:00Z') });

  it('runs a tool with the activity clock', async () => {
    await expect(
      runTool({ name: 'current_time', arguments: '{}' }, testContext('runTool')),
    ).resolves.toMatchObject({
      name: 'current_time',
      isError: false,
      content: expect.stringContaining('2025-01-01T00:00:00.000Z') as unknown,
    });
  });

  it('returns a bad call to the model as an error result, logged, not thrown', async () => {
    const context = testContext('runTool');
    const result = await runTool({ name: 'calculator', arguments: '{"expression":"2*(3"}' }, context);
    expect(result).toEqual({
      name: 'calculator',
      isError: true,
      content:
        'cannot evaluate "2*(3": expected ")" to close the parenthesis but found the end of the expression at position 5',
    });
    expect(context.lines.join('\n')).toContain('Tool calculator reported an error to the model');
  });

  it('survives a payload that lost its shape on the way', async () => {
    const result = await runTool(JSON.parse('{"name": 7}') as never, testContext('runTool'));
    expect(result.isError).toBe(true);
  });
});
