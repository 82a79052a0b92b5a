import type { AppendBlobClient, ContainerClient } from '@azure/storage-blob';
import { answerBlobName, answerBlobPrefix, parseAnswerBlobName, type AnswerBlobRef } from '../names';

/**
 * Where a streamed answer lives while the model writes it: one append blob per answer round and per
 * attempt of the activity, `<results>/<runId>/answer-<round>.<attempt>.txt` (round 0 is the synthesis,
 * round n the n-th revision; attempts count from 1, zero-padded so that names sort). A retried attempt
 * never appends to an earlier attempt's blob, so no text is ever doubled: readers follow the newest
 * attempt of the newest round, and start that attempt's text from its beginning.
 */

/** Three digits in the name (see names.ts). */
const maxAttempts = 999;

/** Every answer blob of the run, ordered by round then attempt. */
export async function listAnswerBlobs(container: ContainerClient, runId: string): Promise<AnswerBlobRef[]> {
  const found: AnswerBlobRef[] = [];
  try {
    for await (const blob of container.listBlobsFlat({ prefix: answerBlobPrefix(runId) })) {
      const ref = parseAnswerBlobName(runId, blob.name);
      if (ref) found.push(ref);
    }
  } catch (error) {
    if (statusOf(error) !== 404) throw error;
  }
  return found.sort((a, b) => a.round - b.round || a.attempt - b.attempt);
}

/** The newest attempt of the newest round, which is the answer being written (or the last written). */
export async function latestAnswerBlob(
  container: ContainerClient,
  runId: string,
): Promise<AnswerBlobRef | undefined> {
  return (await listAnswerBlobs(container, runId)).at(-1);
}

/**
 * Creates the blob of a new attempt at this round: the next number after those that exist, created only
 * if absent, so two attempts running at once (at-least-once delivery) never share a blob.
 */
export async function createAnswerAttempt(
  container: ContainerClient,
  runId: string,
  round: number,
): Promise<{ ref: AnswerBlobRef; blob: AppendBlobClient }> {
  const existing = (await listAnswerBlobs(container, runId)).filter((b) => b.round === round);
  let attempt = (existing.at(-1)?.attempt ?? 0) + 1;
  for (;;) {
    if (attempt > maxAttempts)
      throw new Error(`Run ${runId} has no answer attempt numbers left at round ${round}.`);
    const name = answerBlobName(runId, round, attempt);
    const blob = container.getAppendBlobClient(name);
    try {
      await blob.create({
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: 'text/plain; charset=utf-8' },
      });
      return { ref: { round, attempt, name }, blob };
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      attempt += 1;
    }
  }
}

/** The text from `offset` (bytes; always where an earlier read ended) to the blob's end, and the new end. */
export async function readAnswerFrom(
  container: ContainerClient,
  name: string,
  offset: number,
): Promise<{ text: string; end: number }> {
  const blob = container.getAppendBlobClient(name);
  const props = await blob.getProperties();
  const size = props.contentLength ?? 0;
  if (size <= offset) return { text: '', end: offset };
  const bytes = await blob.downloadToBuffer(offset, size - offset);
  return { text: bytes.toString('utf8'), end: offset + bytes.length };
}

export function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}
