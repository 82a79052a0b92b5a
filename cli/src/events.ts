import { setTimeout as sleep } from 'node:timers/promises';
import { createParser } from 'eventsource-parser';
import { ApiError, ConnectionError, unreachable, type ApiClient } from './api';
import { CliError, exitCodes } from './exitCodes';

/** One Server-Sent Event of a run's stream, its data parsed. */
export interface RunEvent {
  id?: string;
  event: string;
  data: Record<string, unknown>;
}

export interface FollowOptions {
  /** Told when the connection dropped and the client reconnects with Last-Event-ID. */
  onReconnect?: (attempt: number, lastEventId: string | undefined, reason: string) => void;
  /** No bytes (not even a keep-alive comment, sent every 15 s) for this long: the connection is taken for dead. */
  idleMs?: number;
  /** Consecutive failed connections before giving up. */
  maxAttempts?: number;
}

/**
 * The run's events from `GET /api/agent-runs/{id}/events`, until the `end` event. A dropped connection,
 * or a stream the server closed before the end (it does so every 10 minutes), is opened again with
 * `Last-Event-ID`, so the server sends only what came after the last event seen.
 */
export async function* followEvents(
  client: ApiClient,
  runId: string,
  options: FollowOptions = {},
): AsyncGenerator<RunEvent, void, undefined> {
  const idleMs = options.idleMs ?? 45_000;
  const maxAttempts = options.maxAttempts ?? 6;
  let lastEventId: string | undefined;
  let retryMs = 2000;
  let failures = 0;
  for (let attempt = 0; ; attempt++) {
    const queue: RunEvent[] = [];
    const parser = createParser({
      onEvent: (message) => {
        let data: Record<string, unknown> = {};
        try {
          const parsed: unknown = JSON.parse(message.data);
          if (parsed && typeof parsed === 'object') data = parsed as Record<string, unknown>;
        } catch {
          data = { text: message.data };
        }
        queue.push({ ...(message.id ? { id: message.id } : {}), event: message.event ?? 'message', data });
      },
      onRetry: (ms) => {
        retryMs = Math.min(Math.max(ms, 250), 30_000);
      },
    });

    const controller = new AbortController();
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      clearTimeout(idle);
      idle = setTimeout(() => controller.abort(new Error(`no data for ${idleMs / 1000} s`)), idleMs);
    };
    let reason = 'the server closed the stream before the run ended';
    try {
      const headers = await client.headers();
      headers.accept = 'text/event-stream';
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      armIdle();
      let response: Response;
      try {
        response = await fetch(client.url(`/api/agent-runs/${encodeURIComponent(runId)}/events`), {
          headers,
          signal: controller.signal,
        });
      } catch (error) {
        throw unreachable(client.baseUrl, error);
      }
      if (!response.ok || !response.body) {
        const text = await response.text().catch(() => '');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // keep the text
        }
        throw new ApiError(response.status, body, `Following run ${runId}`);
      }
      failures = 0;
      const decoder = new TextDecoder();
      for await (const chunk of response.body) {
        // The clock runs only while waiting for the server, not while the caller holds an event (say, a
        // person deciding on a draft).
        clearTimeout(idle);
        parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
        while (queue.length > 0) {
          const event = queue.shift() as RunEvent;
          if (event.id !== undefined) lastEventId = event.id;
          if (event.event === 'gone') {
            throw new CliError(`Run ${runId} is gone: it was purged while being followed.`, exitCodes.error);
          }
          yield event;
          if (event.event === 'end') return;
        }
        armIdle();
      }
    } catch (error) {
      // A refusal (404, 401), a purged run or a missing scope will not get better by asking again; a
      // dropped connection or a busy server may.
      const transient =
        !(error instanceof CliError) ||
        error instanceof ConnectionError ||
        (error instanceof ApiError && (error.status >= 500 || error.status === 429));
      if (!transient) throw error;
      failures++;
      reason = error instanceof Error ? (error.message.split('\n')[0] ?? String(error)) : String(error);
      if (failures >= maxAttempts) {
        throw new CliError(
          `Lost the event stream of run ${runId} ${failures} times in a row (${reason}); the run goes on. Follow it again with: agent follow ${runId}`,
          exitCodes.error,
        );
      }
    } finally {
      clearTimeout(idle);
      controller.abort();
    }
    options.onReconnect?.(attempt + 1, lastEventId, reason);
    // A stream the server ended on schedule is opened again at once; a failure waits the server's retry time, longer each time.
    if (failures > 0) await sleep(retryMs * Math.min(failures, 4));
  }
}
