/**
 * HTTP streaming, as the Functions host does it for `app.setup({ enableHttpStream: true })`: the host
 * invokes the function over the worker channel with the headers and route parameters in the trigger
 * metadata, and at the same time forwards the raw request to the library's proxy server, tagged with
 * `x-ms-invocation-id`. The library answers on that proxy connection, chunk by chunk, and the host
 * passes each chunk on to the client as it comes.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { type FunctionsRuntime, type ParameterBinding, type TypedData } from '../functions/runtime';
import { type HostLog, describeError } from '../log';
import { readBody, send } from '../httpIo';

/** Hop-by-hop headers a proxy never forwards (RFC 9110 section 7.6.1). */
const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
]);

export async function invokeStreaming(
  runtime: FunctionsRuntime,
  log: HostLog,
  proxyUri: string,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  functionName: string,
  triggerKey: string,
  params: Record<string, string>,
  extraInputs: ParameterBinding[],
): Promise<void> {
  const invocationId = randomUUID();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  // The request body is read first and sent whole: a function that answers before reading all of a
  // body (a 413) would otherwise reset the proxy connection while the host is still writing to it.
  // Framing headers describe the client's connection; the function is told the length it gets.
  const body = await readBody(req);
  const functionHeaders = Object.fromEntries(
    Object.entries(headers).filter(
      ([name]) => !hopByHop.has(name.toLowerCase()) && name !== 'content-length',
    ),
  );
  if (body.length > 0) functionHeaders['content-length'] = String(body.length);
  const triggerMetadata: Record<string, TypedData> = { Headers: { json: JSON.stringify(functionHeaders) } };
  for (const [key, value] of Object.entries(params)) triggerMetadata[key] = { string: value };

  const forwardHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!hopByHop.has(name.toLowerCase())) forwardHeaders[name] = value;
  }
  forwardHeaders['x-ms-invocation-id'] = invocationId;
  forwardHeaders['x-forwarded-host'] = headers.host ?? url.host;
  forwardHeaders['x-forwarded-proto'] = url.protocol.replace(':', '');
  delete forwardHeaders['content-length'];
  if (body.length > 0) forwardHeaders['content-length'] = String(body.length);

  const target = new URL(`${url.pathname}${url.search}`, proxyUri);
  let stop = (): void => undefined;
  const proxied = new Promise<void>((resolve) => {
    const proxyReq = httpRequest(target, { method: req.method ?? 'GET', headers: forwardHeaders });
    proxyReq.on('response', (proxyRes) => {
      const out: Record<string, string | string[]> = {};
      for (const [name, value] of Object.entries(proxyRes.headers)) {
        if (value === undefined || hopByHop.has(name) || name === 'x-ms-invocation-id') continue;
        out[name] = value;
      }
      res.writeHead(proxyRes.statusCode ?? 200, out);
      // Each chunk goes on at once: an event stream must not wait for a buffer to fill.
      res.flushHeaders();
      proxyRes.on('data', (chunk: Buffer) => res.write(chunk));
      proxyRes.on('end', () => {
        res.end();
        resolve();
      });
      proxyRes.on('error', () => {
        res.destroy();
        resolve();
      });
    });
    proxyReq.on('error', (error) => {
      log.debug(`Stream proxy for ${functionName} closed: ${describeError(error)}`);
      if (!res.headersSent) send(res, 502, 'The function closed its stream without an answer.');
      else res.destroy();
      resolve();
    });
    // A client that goes away closes the proxy connection too, so the library stops writing to it.
    // The socket, not the response: a client that half-closes after sending still waits for the answer.
    res.socket?.on('close', () => {
      if (!res.writableFinished) proxyReq.destroy();
    });
    proxyReq.end(body);
    stop = () => proxyReq.destroy();
  });

  const outcome = await runtime.invoke(
    functionName,
    [
      { name: triggerKey, data: { http: { method: req.method ?? 'GET', url: url.href, headers, params } } },
      ...extraInputs,
    ],
    { reason: 'This function was programmatically called via the host APIs.', triggerMetadata, invocationId },
  );
  if (!outcome.ok) {
    log.error(`Function '${functionName}' failed: ${describeError(outcome.error)}`);
    stop();
    if (!res.headersSent) send(res, 500);
    else res.end();
    return;
  }
  await proxied;
}
