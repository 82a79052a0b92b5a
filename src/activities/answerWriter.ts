import type { AppendBlobClient } from '@azure/storage-blob';

/**
 * Writes a streamed answer to its append blob in batches: a piece of text waits at most `flushMs` before
 * it is appended (one append per batch, never one per token, and never two at once), and every append
 * is made at the position the writer expects (`appendPosition`), so a lost reply to an append that
 * actually went through fails the attempt instead of doubling text.
 *
 * The blob holds exactly what the run will keep as the answer, which is the model's text trimmed:
 * leading whitespace is dropped and trailing whitespace is held back until more text follows it.
 * The blob is opened (created) only when the first text arrives.
 */
export class AnswerBlobWriter {
  private pending = '';
  private held = '';
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private blob: AppendBlobClient | undefined;
  private offset = 0;
  /** How many appends were made: a measure of the batching. */
  appends = 0;

  constructor(
    private readonly open: () => Promise<AppendBlobClient>,
    private readonly flushMs = 100,
  ) {}

  /** Takes the next piece of the model's text. Throws when an earlier append failed. */
  push(text: string): void {
    this.throwIfFailed();
    let piece = text;
    if (!this.started) {
      piece = piece.replace(/^\s+/, '');
      if (piece === '') return;
      this.started = true;
    }
    const all = this.held + piece;
    const trailing = /\s*$/.exec(all)?.[0].length ?? 0;
    this.pending += all.slice(0, all.length - trailing);
    this.held = all.slice(all.length - trailing);
    if (this.pending !== '' && this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.flushMs);
    }
  }

  /** Writes what is left (trailing whitespace excepted) and waits for every append. */
  async close(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
    await this.chain;
    this.throwIfFailed();
  }

  /** Stops the timer without writing more (the attempt failed). */
  abandon(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = '';
  }

  private flush(): void {
    const text = this.pending;
    this.pending = '';
    if (text === '') return;
    this.chain = this.chain.then(async () => {
      if (this.failure !== undefined) return;
      try {
        this.blob ??= await this.open();
        const length = Buffer.byteLength(text);
        await this.blob.appendBlock(text, length, { conditions: { appendPosition: this.offset } });
        this.offset += length;
        this.appends += 1;
      } catch (error) {
        this.failure = error instanceof Error ? error : new Error('the append failed');
      }
    });
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
