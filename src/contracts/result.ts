import { z } from 'zod';

/** Payloads of the `saveResult` activity. Pure (zod only). */

export const saveResultInputSchema = z.object({ runId: z.string().min(1), result: z.unknown() });
export interface SaveResultInput {
  runId: string;
  /** Any JSON value; stored as it is, so the same result always gives the same blob. */
  result: unknown;
}

export interface SaveResultOutput {
  /** `<container>/<runId>.json`, e.g. `results/<runId>.json`. */
  blobName: string;
  container: string;
  etag?: string;
}
