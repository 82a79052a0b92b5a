/**
 * Reading requests and sending answers, shared by the HTTP server, the management API and the dashboard.
 * It sits below all of them and imports nothing of the devhost.
 */
import { type IncomingMessage, type ServerResponse } from 'node:http';

/** The whole request body. Listens for data and end itself: the async iterator costs a stream wrapper per request. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Read already (a second read, or a body read by someone else): nothing more will come.
    if (req.readableEnded) {
      resolve(Buffer.alloc(0));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks)));
    req.once('error', reject);
    // A request the client aborts ends with 'close' and neither 'end' nor 'error'.
    req.once('close', () => {
      if (!req.complete) reject(new Error('The client closed the request before sending all of it.'));
    });
  });
}

export function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  // Text goes out as text, without a Buffer copy of its own.
  let payload: Buffer | string | undefined;
  const allHeaders: Record<string, string | string[]> = { ...headers };
  if (Buffer.isBuffer(body)) {
    payload = body;
  } else if (typeof body === 'string') {
    payload = body;
    allHeaders['content-type'] ??= 'text/plain; charset=utf-8';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    allHeaders['content-type'] ??= 'application/json; charset=utf-8';
  }
  const length =
    payload === undefined ? 0 : typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  res.writeHead(status, { ...allHeaders, 'content-length': String(length) });
  res.end(payload);
}
