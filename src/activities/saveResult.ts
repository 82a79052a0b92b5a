import type { InvocationContext } from '@azure/functions';
import type { AppClients } from '../clients';
import type { AppConfig } from '../config';
import { saveResultInputSchema, type SaveResultInput, type SaveResultOutput } from '../contracts/result';
import { PermanentError, RetryableError } from '../lib/errors';
import { resultBlobName } from '../names';

export interface SaveResultDeps {
  clients: AppClients;
  config: AppConfig;
}

/** Run ids become blob names; the orchestrator's ids are GUID-like, anything else is refused. */
const runIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/**
 * Writes a run's result as `<container>/<runId>.json`. Idempotent: the body is exactly the result the
 * orchestrator passed (no timestamps added here), so a retried or replayed save overwrites the blob
 * with the same bytes.
 */
export function createSaveResult(
  deps: SaveResultDeps,
): (input: SaveResultInput, context: InvocationContext) => Promise<SaveResultOutput> {
  const container = deps.clients.blobService.getContainerClient(deps.config.resultsContainer);
  let containerReady: Promise<unknown> | undefined;

  return async (input, context) => {
    const parsed = saveResultInputSchema.safeParse(input);
    if (!parsed.success || !runIdPattern.test(parsed.data.runId)) {
      // A bug in the caller, not a transient fault: retrying cannot fix it.
      throw new PermanentError(
        `saveResult needs a runId of letters, digits, '.', '_' or '-' (got ${JSON.stringify(input?.runId)})`,
      );
    }
    const { runId, result } = parsed.data;
    const body = JSON.stringify(result ?? null);
    const blobName = resultBlobName(runId);
    try {
      containerReady ??= container.createIfNotExists().catch((error: unknown) => {
        containerReady = undefined;
        throw error;
      });
      await containerReady;
      const response = await container.getBlockBlobClient(blobName).upload(body, Buffer.byteLength(body), {
        blobHTTPHeaders: { blobContentType: 'application/json' },
      });
      context.log(`Saved the result of run ${runId} to ${container.containerName}/${blobName}.`);
      return {
        blobName: `${container.containerName}/${blobName}`,
        container: container.containerName,
        ...(response.etag ? { etag: response.etag } : {}),
      };
    } catch (error) {
      const status = (error as { statusCode?: unknown }).statusCode;
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      const message = `Could not save the result of run ${runId} to ${container.containerName}/${blobName}${
        typeof status === 'number' ? ` (${status})` : ''
      }: ${reason}`;
      // Denied or misnamed storage will not fix itself; everything else is worth another try.
      if (status === 403 || status === 401 || status === 400) throw new PermanentError(message, status);
      throw new RetryableError(message, typeof status === 'number' ? status : undefined);
    }
  };
}
