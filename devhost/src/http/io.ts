import { type IncomingMessage, type ServerResponse } from 'node:http';

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function send(
  res: ServerResponse,
  status: number,
  body?: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  let payload: Buffer | undefined;
  const allHeaders: Record<string, string | string[]> = { ...headers };
  if (Buffer.isBuffer(body)) {
    payload = body;
  } else if (typeof body === 'string') {
    payload = Buffer.from(body);
    allHeaders['content-type'] ??= 'text/plain; charset=utf-8';
  } else if (body !== undefined) {
    payload = Buffer.from(JSON.stringify(body));
    allHeaders['content-type'] ??= 'application/json; charset=utf-8';
  }
  res.writeHead(status, { ...allHeaders, 'content-length': String(payload?.length ?? 0) });
  res.end(payload);
}
