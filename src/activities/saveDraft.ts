import { createHash } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import type { AppClients } from '../clients';
import type { AppConfig } from '../config';
import {
  saveDraftInputSchema,
  type DraftBlob,
  type SaveDraftInput,
  type SaveDraftOutput,
} from '../contracts/result';
import { PermanentError, RetryableError } from '../lib/errors';
import { draftBlobPath } from '../names';

export interface SaveDraftDeps {
  clients: AppClients;
  config: AppConfig;
}

const runIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/**
 * The name of one draft: 16 hex digits of SHA-256 over the run, the round, the text and the citations.
 * A decision carries it, so it applies to exactly the text its maker saw; the same draft always gets
 * the same id, so a retried save gives the same answer.
 */
export function draftId(draft: Pick<SaveDraftInput, 'runId' | 'round' | 'text' | 'citations'>): string {
  return createHash('sha256')
    .update(JSON.stringify([draft.runId, draft.round, draft.text, draft.citations]))
    .digest('hex')
    .slice(0, 16);
}

/**
 * Stores the draft on offer for one approval round as `<results>/<runId>/draft-<round>.json`, so the
 * custom status (bounded by the host) carries only a reference and a preview. Idempotent: the name comes
 * from the run and round and the body only from the input, so a retry writes the same bytes again.
 */
export function createSaveDraft(
  deps: SaveDraftDeps,
): (input: SaveDraftInput, context: InvocationContext) => Promise<SaveDraftOutput> {
  const container = deps.clients.blobService.getContainerClient(deps.config.resultsContainer);
  let containerReady: Promise<unknown> | undefined;

  return async (input, context) => {
    const parsed = saveDraftInputSchema.safeParse(input);
    if (!parsed.success || !runIdPattern.test(parsed.data.runId)) {
      throw new PermanentError(
        'saveDraft needs a runId of letters, digits, ., _ or -, a round, a text and citations',
      );
    }
    const { runId, round, text, citations } = parsed.data;
    const body = JSON.stringify({ text, citations } satisfies DraftBlob);
    const blobName = draftBlobPath(runId, round);
    try {
      containerReady ??= container.createIfNotExists().catch((error: unknown) => {
        containerReady = undefined;
        throw error;
      });
      await containerReady;
      await container.getBlockBlobClient(blobName).upload(body, Buffer.byteLength(body), {
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
      context.log(
        `Saved the round ${round} draft of run ${runId} to ${container.containerName}/${blobName}.`,
      );
      return { blobName: `${container.containerName}/${blobName}`, draftId: draftId(parsed.data) };
    } catch (error) {
      const status = (error as { statusCode?: unknown }).statusCode;
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      const message = `Could not save the round ${round} draft of run ${runId}${
        typeof status === 'number' ? ` (${status})` : ''
      }: ${reason}`;
      if (status === 403 || status === 401 || status === 400) throw new PermanentError(message, status);
      throw new RetryableError(message, typeof status === 'number' ? status : undefined);
    }
  };
}
