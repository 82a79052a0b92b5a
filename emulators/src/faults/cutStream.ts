import type { ServerResponse } from 'node:http';
import type { Fault, FaultRequest } from './fault';

/**
 * The fault "the stream broke mid-answer": a streamed chat completion sends `n` content chunks, then its
 * socket is destroyed. Only streamed chat completions match it. Asked for with POST /_emulator/faults
 * {"cutStreamAfterChunks": n}.
 */

export function checkCutStream(body: FaultRequest): string | undefined {
  const cut = body.cutStreamAfterChunks;
  if (cut !== undefined && !(Number.isInteger(cut) && (cut as number) >= 0)) {
    return `"cutStreamAfterChunks" must be a whole number of chunks, 0 or more, got ${JSON.stringify(cut)}.`;
  }
  if (cut !== undefined && (body.status !== undefined || body.lostReply !== undefined)) {
    return '"cutStreamAfterChunks" cannot be combined with "status" or "lostReply".';
  }
  return undefined;
}

/** Whether the fault may answer this request: a cut matches streamed requests only. */
export function cutStreamMatches(fault: Fault, stream: boolean | undefined): boolean {
  return fault.cutStreamAfterChunks === undefined || stream === true;
}

/**
 * Called before each content chunk of a streamed answer with the number sent so far; true when it cut
 * the stream (then nothing more may be written).
 */
export type StreamCut = (response: ServerResponse, sentChunks: number) => Promise<boolean>;

/** The chat option that cuts the stream, when the fault asks for it. */
export function cutStreamOption(fault: Fault | undefined): { cutStream?: StreamCut } {
  const after = fault?.cutStreamAfterChunks;
  if (after === undefined) return {};
  return {
    cutStream: async (response, sentChunks) => {
      if (sentChunks < after) return false;
      // What was written reaches the client first (an SSE comment's callback says it was flushed).
      await new Promise<void>((resolve) => response.write(': cut\n\n', () => resolve()));
      response.socket?.destroy();
      response.destroy();
      return true;
    },
  };
}
