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
export const saveResultOutputSchema: z.ZodType<SaveResultOutput> = z.object({
  blobName: z.string().min(1),
  container: z.string().min(1),
  etag: z.string().optional(),
});

/** Longest draft excerpt the custom status carries; the whole draft lives in its blob. */
export const draftPreviewChars = 280;

/** Payloads of the `saveDraft` activity: one draft per run and approval round. */
export const saveDraftInputSchema = z.object({
  runId: z.string().min(1),
  round: z.number().int().min(0),
  text: z.string(),
  citations: z.array(z.object({ title: z.string(), url: z.string() })),
});
export type SaveDraftInput = z.output<typeof saveDraftInputSchema>;

export interface SaveDraftOutput {
  /** `<container>/<runId>/draft-<round>.json`. */
  blobName: string;
  /** The draft's id (see draftId in activities/saveDraft); absent in histories recorded before it. */
  draftId?: string;
}
export const saveDraftOutputSchema: z.ZodType<SaveDraftOutput> = z.object({
  blobName: z.string().min(1),
  draftId: z.string().optional(),
});

/** The JSON body of a draft blob. */
export const draftBlobSchema = z.object({
  text: z.string(),
  citations: z.array(z.object({ title: z.string(), url: z.string() })),
});
export type DraftBlob = z.output<typeof draftBlobSchema>;
