import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback HTTP proxy in front of one local service (Azurite's table port): it forwards every request
 * unchanged and counts them, so a test or a bench can say how many requests some work cost that service.
 */
export interface CountingProxy {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  /** Requests forwarded so far (method and path with query). */
  requests(): string[];
  stop(): Promise<void>;
}

export async function startCountingProxy(target: { host: string; port: number }): Promise<CountingProxy> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method ?? 'GET'} ${req.url ?? '/'}`);
    const upstream = httpRequest(
      {
        host: target.host,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: `${target.host}:${target.port}` },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: () => [...seen],
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The same connection string with its table endpoint sent through `proxy` (same account path). */
export function tableThroughProxy(connectionString: string, proxy: CountingProxy): string {
  return connectionString.replace(
    /TableEndpoint=http:\/\/127\.0\.0\.1:\d+\//,
    `TableEndpoint=http://127.0.0.1:${proxy.port}/`,
  );
}

/** Azurite's table port, from a connection string that names it. */
export function tablePortOf(connectionString: string): number {
  const port = /TableEndpoint=http:\/\/127\.0\.0\.1:(\d+)\//.exec(connectionString)?.[1];
  if (!port) throw new Error('The connection string names no loopback table endpoint.');
  return Number(port);
}
