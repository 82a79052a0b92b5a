/**
 * The names of the tools a model may be offered, as a run's `tools` field and the `callModel` payload
 * carry them. The tools themselves (description, parameters, handler) are in src/agents/tools.ts, whose
 * registry must have exactly these names (the compiler checks). Pure: contracts depend on nothing above.
 */
export const toolNameList = ['calculator', 'current_time'] as const;
export type ToolName = (typeof toolNameList)[number];

export const toolNames: readonly string[] = toolNameList;
