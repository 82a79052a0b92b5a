/** Values crossing the function invocation boundary: typed data from the worker, JSON texts. */
import { type InvocationResponse, type TypedData } from '../functions/runtime';

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The value a function returned, from the worker's typed data. */
export function typedDataValue(data: TypedData | null | undefined): unknown {
  if (!data) return undefined;
  if (data.json !== undefined && data.json !== null) return JSON.parse(data.json);
  if (data.string !== undefined && data.string !== null) return data.string;
  if (data.int !== undefined && data.int !== null) return Number(data.int);
  if (data.double !== undefined && data.double !== null) return data.double;
  if (data.bytes) return Buffer.from(data.bytes).toString('base64');
  return undefined;
}

/** An activity's result as the JSON text the extension records in TaskCompleted. */
export function resultJson(response: InvocationResponse): string {
  const value = typedDataValue(response.returnValue);
  return value === undefined ? 'null' : JSON.stringify(value);
}
