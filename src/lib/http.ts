import type { HttpHandler, HttpRequest, HttpResponseInit } from '@azure/functions';
import { z } from 'zod';
import { duplicateKeys, jsonDepth, maxJsonDepth, unsafeValues, type JsonIssue } from './json';

/**
 * The HTTP edge every endpoint shares: problem+json answers (RFC 9457) and a JSON body reader that
 * refuses the wrong media type, oversized bodies, malformed JSON and fields the schema does not know,
 * each with an answer that says what to fix. Answers never carry stack traces.
 */

/** An `application/problem+json` answer: `{type, title, status, detail, ...extra}`. */
export function problem(
  status: number,
  title: string,
  detail?: string,
  extra?: Record<string, unknown>,
  headers?: Record<string, string>,
): HttpResponseInit {
  return {
    status,
    headers: { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store', ...headers },
    // `type` may be refined by `extra`; the fixed fields always win so a caller cannot contradict them.
    jsonBody: { type: 'about:blank', ...extra, title, status, ...(detail === undefined ? {} : { detail }) },
  };
}

/**
 * Wraps a handler so that a fault it did not expect (a storage outage, a bug) still answers
 * problem+json: a 500 that says the fault is ours and gives the invocation id to quote, while the error
 * itself, with its stack and whatever its message holds, goes only to the log.
 */
export function withProblemAnswers(handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      context.error(`${request.method} ${new URL(request.url).pathname} failed:`, error);
      return problem(
        500,
        'Internal error',
        'The request failed because of a fault on our side, not because of what was sent. Try again later; if it keeps failing, quote the invocationId.',
        { invocationId: context.invocationId },
      );
    }
  };
}

export type BodyResult<T> = { ok: true; value: T } | { ok: false; response: HttpResponseInit };

export interface FieldError {
  /** Where in the body: `approval.timeoutMinutes`, `tools[1]`, or `(body)` for the whole body. */
  field: string;
  message: string;
}

/**
 * Reads a JSON body and checks it against `schema`.
 *
 * 415 unless the content type is `application/json` or `application/<something>+json` (UTF-8) and the
 * body is not compressed (`Content-Encoding`); 413 when the body is larger than `maxBytes`, judged first
 * by `Content-Length` and then by the bytes actually read (never more than `maxBytes + 1` are buffered);
 * 400 for an empty body, malformed JSON (with the line and column), JSON that parses but is ambiguous or
 * not storable (a key given twice, a number that overflows, a string that is not valid Unicode), or a
 * schema error; the last two name each bad field in `errors`.
 */
export async function readJsonBody<T>(
  request: HttpRequest,
  schema: z.ZodType<T>,
  options: { maxBytes: number },
): Promise<BodyResult<T>> {
  const mediaType = request.headers.get('content-type');
  const mediaProblem = checkMediaType(mediaType);
  if (mediaProblem !== undefined) {
    return {
      ok: false,
      response: problem(
        415,
        'Unsupported media type',
        mediaProblem,
        { contentType: mediaType ?? null },
        {
          'Accept-Post': 'application/json',
        },
      ),
    };
  }

  const encoding = request.headers.get('content-encoding')?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    return {
      ok: false,
      response: problem(
        415,
        'Unsupported content encoding',
        `Content-Encoding ${truncate(encoding, 40)} is not supported; send the JSON body uncompressed.`,
        { contentEncoding: truncate(encoding, 40) },
        { 'Accept-Encoding': 'identity' },
      ),
    };
  }

  const tooLarge = () =>
    problem(
      413,
      'Request body too large',
      `The body must be at most ${options.maxBytes} bytes; send a shorter prompt or fewer fields.`,
      { maxBytes: options.maxBytes },
    );
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > options.maxBytes) {
    return { ok: false, response: tooLarge() };
  }
  const read = await readBounded(request, options.maxBytes);
  if (!read.ok) return { ok: false, response: tooLarge() };

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(read.bytes);
  } catch {
    return {
      ok: false,
      response: problem(400, 'Malformed request body', 'The body is not valid UTF-8 text.'),
    };
  }
  if (text.trim() === '') {
    return {
      ok: false,
      response: problem(400, 'Malformed request body', 'The body is empty; send a JSON object.'),
    };
  }

  // Before parsing: one pass over the text, so a body nested thousands deep costs what it weighs.
  const depth = jsonDepth(text);
  if (depth > maxJsonDepth) {
    return {
      ok: false,
      response: problem(
        400,
        'Request body nested too deeply',
        `The body nests objects and arrays ${depth} levels deep; at most ${maxJsonDepth} are allowed.`,
        { maxDepth: maxJsonDepth, depth },
      ),
    };
  }

  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return {
      ok: false,
      response: problem(
        400,
        'Malformed request body',
        `The body is not valid JSON: ${describeJsonError(error, text)}`,
      ),
    };
  }

  const unsafe = [...duplicateKeys(text), ...unsafeValues(json)];
  if (unsafe.length > 0) return { ok: false, response: fieldsProblem(unsafe.map(toFieldError)) };

  const parsed = schema.safeParse(json);
  if (!parsed.success) return { ok: false, response: zodProblem(parsed.error, undefined, schema) };
  return { ok: true, value: parsed.data };
}

/**
 * A 400 naming every bad field. Pass the schema to list the fields an object accepts when an unknown
 * one is refused.
 */
export function zodProblem(
  error: z.ZodError,
  title = 'Invalid request body',
  schema?: z.ZodType,
): HttpResponseInit {
  return fieldsProblem(fieldErrors(error, schema), title);
}

/** A 400 whose detail sums up `errors` (one: the field and message; more: the fields' names). */
function fieldsProblem(errors: FieldError[], title = 'Invalid request body'): HttpResponseInit {
  const fields = [...new Set(errors.map((e) => e.field))];
  const detail =
    errors.length === 1 && errors[0]
      ? `${errors[0].field}: ${errors[0].message}`
      : `${fields.length} fields are invalid: ${fields.join(', ')}. See errors for each.`;
  return problem(400, title, detail, { errors });
}

function toFieldError(issue: JsonIssue): FieldError {
  return { field: fieldName(issue.path), message: issue.message };
}

/** One entry per bad field; an unknown-keys issue becomes one entry per unknown key. */
export function fieldErrors(error: z.ZodError, schema?: z.ZodType): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const allowed = schema ? knownKeys(schema, issue.path) : undefined;
      const hint = allowed && allowed.length > 0 ? ` Known fields here: ${allowed.join(', ')}.` : '';
      for (const key of issue.keys) {
        out.push({
          field: fieldName([...issue.path, key]),
          message: `is not a known field; remove it or check its spelling.${hint}`,
        });
      }
      continue;
    }
    out.push({ field: fieldName(issue.path), message: issueMessage(issue) });
  }
  return out;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    if (issue.path.length === 0 && issue.expected === 'object') return 'must be a JSON object';
    // zod's own wording for a missing field is "Invalid input: expected string, received undefined".
    if (/received undefined$/.test(issue.message)) return `is required (expected ${issue.expected})`;
  }
  return issue.message;
}

/**
 * `approval.timeoutMinutes`, `tools[1]`; the whole body is `(body)`. Names longer than 200 characters
 * (a made-up key can be as long as the body) are cut short.
 */
export function fieldName(path: readonly PropertyKey[]): string {
  let name = '';
  for (const part of path) {
    if (typeof part === 'number') name += `[${part}]`;
    else name += name === '' ? String(part) : `.${String(part)}`;
  }
  return name === '' ? '(body)' : truncate(name, 200);
}

/** The keys an object schema accepts at `path`, looking through optional, nullable, default and pipes. */
function knownKeys(schema: z.ZodType, path: readonly PropertyKey[]): string[] | undefined {
  let current: z.ZodType | undefined = unwrap(schema);
  for (const part of path) {
    if (current instanceof z.ZodObject && typeof part === 'string') {
      current = (current.shape as Record<string, z.ZodType | undefined>)[part];
    } else if (current instanceof z.ZodArray && typeof part === 'number') {
      current = current.element as z.ZodType;
    } else {
      return undefined;
    }
    if (current === undefined) return undefined;
    current = unwrap(current);
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : undefined;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let depth = 0; depth < 16; depth++) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodDefault
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else {
      break;
    }
  }
  return current;
}

/** Undefined when the media type is JSON in UTF-8; otherwise what to send instead. */
function checkMediaType(header: string | null): string | undefined {
  const expected = 'Send the body as JSON with Content-Type: application/json.';
  if (header === null || header.trim() === '') return `The request has no Content-Type. ${expected}`;
  const [essence = '', ...parameters] = header.split(';').map((part) => part.trim().toLowerCase());
  if (essence !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(essence)) {
    return `Content-Type ${truncate(header, 100)} is not JSON. ${expected}`;
  }
  const charsets = parameters.filter((p) => p.startsWith('charset='));
  if (charsets.length > 1) return `Content-Type names a charset ${charsets.length} times; send one, utf-8.`;
  const charset = charsets[0]?.slice('charset='.length).replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    return `charset ${truncate(charset, 40)} is not supported; send UTF-8 JSON.`;
  }
  return undefined;
}

/** Reads at most `maxBytes + 1` bytes, so a huge or endless body is cut off rather than buffered. */
async function readBounded(
  request: HttpRequest,
  maxBytes: number,
): Promise<{ ok: true; bytes: Uint8Array } | { ok: false }> {
  const stream = request.body as ReadableStream<Uint8Array> | null;
  if (stream === null) return { ok: true, bytes: new Uint8Array(0) };
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { ok: false };
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, bytes };
}

/** V8's message with the line and column added; the input echo V8 sometimes adds is kept short. */
function describeJsonError(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : 'unreadable';
  const at = /at position (\d+)/.exec(message);
  let position = at?.[1] === undefined ? undefined : Number(at[1]);
  if (position === undefined && /Unexpected end of JSON input/i.test(message)) position = text.length;
  const base = truncate(message.replace(/\s*\(line \d+ column \d+\)/, ''), 160);
  if (position === undefined) return base;
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return `${base} (line ${line}, column ${column})`;
}

function truncate(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max)}...` : value;
}
