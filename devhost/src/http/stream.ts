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
import { send } from './io';

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
  const triggerMetadata: Record<string, TypedData> = { Headers: { json: JSON.stringify(headers) } };
  for (const [key, value] of Object.entries(params)) triggerMetadata[key] = { string: value };

  const forwardHeaders: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!hopByHop.has(name.toLowerCase())) forwardHeaders[name] = value;
  }
  forwardHeaders['x-ms-invocation-id'] = invocationId;
  forwardHeaders['x-forwarded-host'] = headers.host ?? url.host;
  forwardHeaders['x-forwarded-proto'] = url.protocol.replace(':', '');
  if (req.headers['content-length'] === undefined && req.method !== 'GET' && req.method !== 'HEAD') {
    forwardHeaders['transfer-encoding'] = 'chunked';
  }

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
      if (!res.headersSent) log.debug(`Stream proxy for ${functionName} closed: ${describeError(error)}`);
      resolve();
    });
    // A client that goes away closes the proxy connection too, so the library stops writing to it.
    res.on('close', () => {
      if (!res.writableFinished) proxyReq.destroy();
    });
    req.pipe(proxyReq);
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
