import type { BlobServiceClient } from '@azure/storage-blob';
import { z } from 'zod';
import { modelUsageSchema, type ModelUsage } from '../contracts/model';
import { citationSchema, type CollectResearchOutput, type ResearchHandle } from '../contracts/research';
import { keptResearchBlobName } from '../names';
import { PermanentError, RetryableError } from './errors';

/**
 * Research results as collectResearch kept them, in the results container (`keptResearchBlobName`):
 * a rerun of the collection, the clean-up of a stopped run and the run view all read the same answer.
 */

/** Run ids and subtask ids become blob names. */
const blobKeyPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export type CollectedResearch = Extract<CollectResearchOutput, { ok: true }>['value'];
const keptResearchSchema = z.object({
  text: z.string(),
  citations: z.array(citationSchema),
  usage: modelUsageSchema,
});

/** Reads and writes the kept results of one results container. */
export function keptResearchResults(blobService: BlobServiceClient, resultsContainer: string) {
  const container = blobService.getContainerClient(resultsContainer);
  let containerReady: Promise<unknown> | undefined;
  const failed = (doing: string, error: unknown) => {
    const status = (error as { statusCode?: unknown }).statusCode;
    const message = `Could not ${doing} in ${container.containerName}: ${describe(error)}`;
    return status === 403 || status === 401 || status === 400
      ? new PermanentError(message, status)
      : new RetryableError(message, typeof status === 'number' ? status : undefined);
  };
  return {
    keyOf(handle: Pick<ResearchHandle, 'runId' | 'subtaskId'>): string | undefined {
      if (handle.runId === undefined || handle.subtaskId === undefined) return undefined;
      if (!blobKeyPattern.test(handle.runId) || !blobKeyPattern.test(handle.subtaskId)) {
        throw new PermanentError(
          `The research handle's runId and subtaskId must be letters, digits, '.', '_' or '-' (got ${JSON.stringify(handle.runId)}, ${JSON.stringify(handle.subtaskId)})`,
        );
      }
      return keptResearchBlobName(handle.runId, handle.subtaskId);
    },
    async read(blobName: string): Promise<CollectedResearch | undefined> {
      try {
        const body = await container.getBlockBlobClient(blobName).downloadToBuffer();
        const parsed = keptResearchSchema.safeParse(JSON.parse(body.toString('utf8')));
        // A blob this code cannot read is collected again rather than trusted.
        return parsed.success ? parsed.data : undefined;
      } catch (error) {
        const status = (error as { statusCode?: unknown }).statusCode;
        if (status === 404) return undefined;
        throw failed(`read the kept research result ${blobName}`, error);
      }
    },
    async write(blobName: string, value: CollectedResearch): Promise<void> {
      try {
        containerReady ??= container.createIfNotExists().catch((error: unknown) => {
          containerReady = undefined;
          throw error;
        });
        await containerReady;
        const body = JSON.stringify(value);
        await container.getBlockBlobClient(blobName).upload(body, Buffer.byteLength(body), {
          blobHTTPHeaders: { blobContentType: 'application/json' },
        });
      } catch (error) {
        throw failed(`keep the research result ${blobName}`, error);
      }
    },
  };
}

/** What a stopped research subtask spent, as its cancellation kept it. */
export type KeptResearchUsage = (runId: string, subtaskId: string) => Promise<ModelUsage | undefined>;

/** What a subtask's research spent by its kept result, for the run view of a run stopped mid-research. */
export function createKeptResearchUsage(
  blobs: BlobServiceClient,
  resultsContainer: string,
): KeptResearchUsage {
  const kept = keptResearchResults(blobs, resultsContainer);
  return async (runId, subtaskId) => {
    const key = kept.keyOf({ runId, subtaskId });
    return key ? (await kept.read(key))?.usage : undefined;
  };
}

function describe(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 300 ? `${oneLine.slice(0, 300)}...` : oneLine;
}
