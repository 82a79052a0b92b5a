import Ajv from 'ajv';
import { runTool, toolDefinitions } from '../../src/agents/tools';
import { toolNames } from '../../src/contracts/tools';

const ctx = { now: new Date('2025-03-30T12:34:56.000Z'), allowNetwork: false };

describe('tool registry', () => {
  it('offers at least the calculator and the current time', () => {
    expect(toolNames).toEqual(expect.arrayContaining(['calculator', 'current_time']));
  });

  it('describes every tool with a JSON schema the model (and ajv) can use', () => {
    const definitions = toolDefinitions();
    expect(definitions.map((d) => d.function.name)).toEqual([...toolNames]);
    const ajv = new Ajv({ strict: false });
    for (const definition of definitions) {
      expect(definition.type).toBe('function');
      expect(definition.function.description.length).toBeGreaterThan(20);
      expect(definition.function.parameters).toMatchObject({ type: 'object' });
      expect(definition.function.parameters).not.toHaveProperty('$schema');
      expect(() => ajv.compile(definition.function.parameters)).not.toThrow();
    }
    const calculator = toolDefinitions(['calculator'])[0];
    expect(calculator?.function.parameters).toMatchObject({
      properties: { expression: { type: 'string' } },
      required: ['expression'],
      additionalProperties: false,
    });
  });

  it('survives the JSON round trip Durable puts every payload through', () => {
    const definitions = toolDefinitions();
    expect(JSON.parse(JSON.stringify(definitions))).toEqual(definitions);
  });

  it('refuses to define a tool it does not have', () => {
    expect(() => toolDefinitions(['calculator', 'rm_rf'])).toThrow(
      'Unknown tool "rm_rf"; the registry has: calculator',
    );
  });
});

describe('runTool', () => {
  it('evaluates arithmetic with the calculator', async () => {
    await expect(runTool('calculator', '{"expression":"0.1 + 0.2"}', ctx)).resolves.toEqual({
      name: 'calculator',
      content: '0.1 + 0.2 = 0.3',
      isError: false,
    });
  });

  it('gives the model a readable error for an expression it cannot evaluate', async () => {
    const result = await runTool('calculator', '{"expression":"1/0"}', ctx);
    expect(result).toEqual({
      name: 'calculator',
      content: 'cannot evaluate "1/0": division by zero at position 2',
      isError: true,
    });
  });

  it('reports the current time from the context clock, in UTC by default', async () => {
    const result = await runTool('current_time', '{}', ctx);
    expect(result.isError).toBe(false);
    expect(result.content).toContain('2025-03-30T12:34:56.000Z (UTC)');
    expect(result.content).toContain('Sunday');
  });

  it('reports the current time in a named time zone', async () => {
    const result = await runTool('current_time', '{"timezone":"Asia/Tokyo"}', ctx);
    expect(result.isError).toBe(false);
    expect(result.content).toMatch(/in Asia\/Tokyo: .*21:34:56/);
  });

  it('treats empty arguments as no arguments', async () => {
    await expect(runTool('current_time', '', ctx)).resolves.toMatchObject({ isError: false });
  });

  it.each([
    [
      'current_time',
      '{"timezone":"Mars/Olympus_Mons"}',
      'unknown time zone "Mars/Olympus_Mons"; use an IANA name',
    ],
    [
      'calculator',
      '{"expression": 42}',
      'Invalid arguments for calculator: expression: Invalid input: expected string',
    ],
    ['calculator', '{}', 'Invalid arguments for calculator: expression:'],
    ['calculator', '{"expression":"1","extra":true}', 'Unrecognized key: "extra"'],
    ['calculator', '{"expression": "1+', 'Arguments are not valid JSON'],
    ['calculator', '[1]', 'Invalid arguments for calculator: (arguments):'],
    ['weather', '{}', 'Unknown tool "weather". Available tools: calculator, current_time'],
    ['__proto__', '{}', 'Unknown tool "__proto__"'],
    ['calculator', `{"expression":"${'1'.repeat(20_000)}"}`, 'the limit is 10000'],
  ])('%s with %j comes back as an error the model can read, not a throw', async (name, args, message) => {
    const result = await runTool(name, args, ctx);
    expect(result.isError).toBe(true);
    expect(result.name).toBe(name);
    expect(result.content).toContain(message);
  });
});
