import type { ServerResponse } from 'node:http';
import type { Fault } from './fault';

/**
 * The fault "the request succeeded but the reply was lost": the emulated service applies the request
 * (a thread is created, tokens are spent), then the connection is dropped before a byte of the answer
 * is sent. The client sees a reset socket and cannot tell whether anything happened, which is what a
 * retried activity must cope with. Asked for with POST /_emulator/faults {"lostReply": true, ...}.
 */

/** Checks the `lostReply` field of a fault request; a message naming the field when it is wrong. */
export function checkLostReply(body: {
  lostReply?: unknown;
  status?: unknown;
  content?: unknown;
}): string | undefined {
  if (body.lostReply === undefined) return undefined;
  if (body.lostReply !== true) {
    return `"lostReply" must be true (apply the request, then drop the connection), got ${JSON.stringify(body.lostReply)}.`;
  }
  if (body.status !== undefined || body.content !== undefined) {
    return '"lostReply" cannot be combined with "status" or "content": the real answer is produced, then lost.';
  }
  return undefined;
}

/** Lets the handler write its answer as usual, but destroys the socket instead of sending it. */
export function loseReply(response: ServerResponse, onLost: () => void): void {
  const drop = () => {
    onLost();
    response.socket?.destroy();
    response.destroy();
  };
  response.write = (() => true) as typeof response.write;
  response.end = ((..._args: unknown[]) => {
    drop();
    return response;
  }) as typeof response.end;
}

/** The fault's effect on this request, when it asks for it; `onLost` records the loss in the request log. */
export function loseReplyIfAsked(
  fault: Fault | undefined,
  response: ServerResponse,
  onLost: () => void,
): void {
  if (fault?.lostReply) loseReply(response, onLost);
}
