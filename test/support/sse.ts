/** A Server-Sent Events reader for tests: frames as the specification splits them, comments kept. */
export interface SseFrame {
  id?: string;
  event: string;
  data: string;
  at: number;
}

export interface SseStream {
  status: number;
  headers: Headers;
  comments: string[];
  /** Resolves with the next frame, or undefined when the stream ended. */
  next(): Promise<SseFrame | undefined>;
  /** Reads frames until `until` holds for one (returned last) or the stream ends. */
  readUntil(until: (frame: SseFrame) => boolean): Promise<SseFrame[]>;
  close(): Promise<void>;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  const decoder = new TextDecoder();
  const comments: string[] = [];
  let buffer = '';
  let ended = false;

  async function next(): Promise<SseFrame | undefined> {
    for (;;) {
      const boundary = buffer.indexOf('\n\n');
      if (boundary >= 0) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        const frame: SseFrame = { event: 'message', data: '', at: Date.now() };
        const data: string[] = [];
        let hasField = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) {
            comments.push(line.slice(1).trim());
            continue;
          }
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') frame.id = value;
          else if (field === 'event') frame.event = value;
          else if (field === 'data') data.push(value);
          else continue;
          hasField = true;
        }
        frame.data = data.join('\n');
        if (hasField && (data.length > 0 || frame.id !== undefined)) return frame;
        continue;
      }
      if (ended || !reader) return undefined;
      const chunk = await reader.read();
      if (chunk.done) {
        ended = true;
        continue;
      }
      buffer += decoder.decode(chunk.value, { stream: true });
    }
  }

  return {
    status: response.status,
    headers: response.headers,
    comments,
    next,
    async readUntil(until) {
      const frames: SseFrame[] = [];
      for (;;) {
        const frame = await next();
        if (!frame) return frames;
        frames.push(frame);
        if (until(frame)) return frames;
      }
    },
    async close() {
      controller.abort();
      await reader?.cancel().catch(() => undefined);
    },
  };
}
