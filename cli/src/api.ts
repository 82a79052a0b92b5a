import type { TokenCredential } from '@azure/core-auth';
import { CliError, exitCodes } from './exitCodes';

/** How the client reaches the API: where, and what it sends to get past App Service Authentication and function keys. */
export interface Connection {
  baseUrl: URL;
  /** The Entra ID scope to ask a token for (`api://<client id>/user_impersonation`); unused on loopback. */
  scope?: string;
  /** Sent as `x-functions-key`: the keyed routes need it on a deployed app. */
  functionKey?: string;
  /** The credential to sign in with; by default DefaultAzureCredential, made on first use. */
  credential?: TokenCredential;
}

/** 127.0.0.0/8, ::1 and localhost: the local product, where App Service Authentication is not in front. */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host)
  );
}

/** An answer of the API that was not a success: its status and, when it sent one, its problem document. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    problemBody: unknown,
    what: string,
  ) {
    super(describeProblem(status, problemBody, what), exitCodeForHttp(status), problemBody);
    this.name = 'ApiError';
  }
}

function exitCodeForHttp(status: number) {
  return status === 429 ? exitCodes.quotaExceeded : exitCodes.error;
}

interface ProblemDocument {
  title?: unknown;
  detail?: unknown;
  errors?: unknown;
}

/** One line per problem: the status, title and detail, then each bad field the API named. */
export function describeProblem(status: number, body: unknown, what: string): string {
  const lines = [`${what}: HTTP ${status}`];
  if (body && typeof body === 'object') {
    const p = body as ProblemDocument;
    const title = typeof p.title === 'string' ? p.title : '';
    const detail = typeof p.detail === 'string' ? p.detail : '';
    lines[0] += [title, detail]
      .filter((s) => s !== '')
      .map((s) => ` ${s}`)
      .join(':');
    if (Array.isArray(p.errors)) {
      for (const e of p.errors as unknown[]) {
        if (e && typeof e === 'object') {
          const { field, path, message } = e as { field?: unknown; path?: unknown; message?: unknown };
          const name = typeof field === 'string' ? field : typeof path === 'string' ? path : '';
          lines.push(
            `  ${name}${name ? ': ' : ''}${typeof message === 'string' ? message : JSON.stringify(e)}`,
          );
        }
      }
    }
  } else if (typeof body === 'string' && body.trim() !== '') {
    lines[0] += ` ${body.trim().slice(0, 300)}`;
  }
  if (status === 401) {
    lines.push(
      '  The app wants a token: check --scope (or AGENT_RUNS_SCOPE) and that you are signed in (az login).',
    );
  }
  return lines.join('\n');
}

export class ApiClient {
  private credential: TokenCredential | undefined;

  constructor(private readonly connection: Connection) {
    this.credential = connection.credential;
  }

  get baseUrl(): URL {
    return this.connection.baseUrl;
  }

  url(path: string): URL {
    const base = this.connection.baseUrl.href.replace(/\/+$/, '');
    return new URL(`${base}${path}`);
  }

  /** The headers every request carries: a bearer token off loopback, the function key when given. */
  async headers(): Promise<Record<string, string>> {
    const headers: Record<string, string> = { 'user-agent': 'durable-agent-runs-cli' };
    if (this.connection.functionKey) headers['x-functions-key'] = this.connection.functionKey;
    if (!isLoopback(this.connection.baseUrl)) {
      const scope = this.connection.scope;
      if (!scope) {
        throw new CliError(
          `Signing in to ${this.connection.baseUrl.origin} needs a scope: pass --scope api://<client id>/user_impersonation or set AGENT_RUNS_SCOPE.`,
          exitCodes.usage,
        );
      }
      headers.authorization = `Bearer ${await this.token(scope)}`;
    }
    return headers;
  }

  private async token(scope: string): Promise<string> {
    if (!this.credential) {
      const { DefaultAzureCredential } = await import('@azure/identity');
      this.credential = new DefaultAzureCredential();
    }
    try {
      const token = await this.credential.getToken(scope);
      if (!token) throw new Error('no token was returned');
      return token.token;
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw new CliError(
        `Could not sign in for ${scope}: ${reason}\nSign in with "az login" (or "azd auth login"), or set the AZURE_* variables of a service principal.`,
        exitCodes.error,
      );
    }
  }

  /** A JSON request; answers other than 2xx become an ApiError naming `what`. */
  async json<T>(
    method: string,
    path: string,
    what: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const headers = await this.headers();
    if (body !== undefined) headers['content-type'] = 'application/json';
    headers.accept = 'application/json';
    let response: Response;
    try {
      response = await fetch(this.url(path), {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw unreachable(this.connection.baseUrl, error);
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // not JSON: keep the text for the message
    }
    if (!response.ok) throw new ApiError(response.status, parsed, what);
    return { status: response.status, body: parsed as T };
  }
}

/** The API could not be reached at all: worth trying again while following a run. */
export class ConnectionError extends CliError {
  constructor(message: string) {
    super(message, exitCodes.error);
    this.name = 'ConnectionError';
  }
}

export function unreachable(baseUrl: URL, error: unknown): ConnectionError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  const reason = cause instanceof Error ? cause.message : String(cause);
  const hint = isLoopback(baseUrl) ? ' Is the product running (npm start)?' : '';
  return new ConnectionError(`Could not reach ${baseUrl.origin}: ${reason}.${hint}`);
}
