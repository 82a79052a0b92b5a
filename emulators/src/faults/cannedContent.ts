import type { Fault, FaultRequest } from './fault';

/**
 * The fault "the model answered this": a chat completion answers 200 with the given text as the
 * assistant's message instead of the emulated model's (a canned answer, such as an invalid plan).
 * Asked for with POST /_emulator/faults {"content": "text"}.
 */

export function checkCannedContent(body: FaultRequest): string | undefined {
  const { content, status } = body;
  if (content !== undefined && (typeof content !== 'string' || status !== undefined)) {
    return '"content" must be the text of a 200 answer (a string), and cannot be combined with "status".';
  }
  return undefined;
}

/** The chat option that makes the canned answer. */
export function cannedContentOption(fault: Fault | undefined): { cannedContent?: string } {
  return fault?.content !== undefined ? { cannedContent: fault.content } : {};
}
