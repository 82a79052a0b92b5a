import { createHash } from 'node:crypto';
import type { InvocationContext } from '@azure/functions';
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { z } from 'zod';
import { assistantMessageSchema, modelUsageSchema, type CallModelResult } from '../contracts/model';

/**
 * A best-effort response cache for model calls in Blob Storage: one blob per request, named by a
 * SHA-256 of everything that shapes the answer. A cache problem never fails a model call; it is logged
 * and the call goes to the model.
 */

/** Everything that changes what the model would answer; nothing else goes into the key. */
export interface ModelCacheKeyParts {
  deployment: string;
  apiVersion: string;
  messages: unknown;
  tools: unknown;
  responseFormat: unknown;
  maxTokens: number | undefined;
  temperature: number | undefined;
  /** Reasoning deployments only; absent, the key is what it was before reasoning deployments. */
  reasoningEffort?: string | undefined;
}

/** Bump when the stored shape or the request mapping changes, so old entries are not read as new ones. */
const cacheFormatVersion = 1;

export function modelCacheKey(parts: ModelCacheKeyParts): string {
  return createHash('sha256')
    .update(canonicalJson({ v: cacheFormatVersion, ...parts }))
    .digest('hex');
}

/** JSON with object keys sorted, so the same request always hashes the same whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

const entrySchema = z.object({
  version: z.literal(cacheFormatVersion),
  storedAt: z.number(),
  result: z.object({
    message: assistantMessageSchema,
    usage: modelUsageSchema,
    deployment: z.string(),
    finishReason: z.string(),
  }),
});

export class ModelCache {
  private readonly container: ContainerClient;
  private containerReady: Promise<unknown> | undefined;

  constructor(
    blobService: BlobServiceClient,
    containerName: string,
    private readonly ttlMs: number,
  ) {
    this.container = blobService.getContainerClient(containerName);
  }

  /** A stored answer younger than the TTL, or undefined (absent, expired, unreadable). */
  async get(key: string, now: number, context: InvocationContext): Promise<CallModelResult | undefined> {
    try {
      const blob = this.container.getBlockBlobClient(`${key}.json`);
      const buffer = await blob.downloadToBuffer();
      const entry = entrySchema.safeParse(JSON.parse(buffer.toString('utf8')));
      if (!entry.success) {
        context.warn(`Model cache entry ${key} is not in the expected shape; ignoring it.`);
        return undefined;
      }
      if (now - entry.data.storedAt >= this.ttlMs) return undefined;
      return { ...entry.data.result, cached: true };
    } catch (error) {
      if (statusOf(error) !== 404)
        context.warn(`Model cache read failed (${describe(error)}); calling the model.`);
      return undefined;
    }
  }

  async put(key: string, result: CallModelResult, now: number, context: InvocationContext): Promise<void> {
    try {
      this.containerReady ??= this.container.createIfNotExists().catch((error: unknown) => {
        this.containerReady = undefined;
        throw error;
      });
      await this.containerReady;
      const { cached: _cached, ...stored } = result;
      const body = JSON.stringify({ version: cacheFormatVersion, storedAt: now, result: stored });
      await this.container
        .getBlockBlobClient(`${key}.json`)
        .upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } });
    } catch (error) {
      context.warn(`Model cache write failed (${describe(error)}); the answer is returned uncached.`);
    }
  }
}

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' &&
    error !== null &&
    'statusCode' in error &&
    typeof error.statusCode === 'number'
    ? error.statusCode
    : undefined;
}

function describe(error: unknown): string {
  const status = statusOf(error);
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  return status === undefined ? `${message}` : `${status}: ${message}`;
}
