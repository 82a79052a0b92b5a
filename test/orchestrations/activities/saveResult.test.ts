import { BlobServiceClient } from '@azure/storage-blob';
import type { Azurite } from '../../../scripts/azurite';
import { createSaveResult } from '../../../src/activities/saveResult';
import { createClients } from '../../../src/clients';
import { startTestAzurite, testConfig, testContext } from './support';

describe('saveResult against Azurite', () => {
  let azurite: Azurite;
  let blobs: BlobServiceClient;
  let save: ReturnType<typeof createSaveResult>;

  beforeAll(async () => {
    azurite = await startTestAzurite();
    const config = testConfig({
      AzureWebJobsStorage: azurite.connectionString,
      RESULTS_CONTAINER: 'results',
    });
    save = createSaveResult({ clients: createClients(config), config });
    blobs = BlobServiceClient.fromConnectionString(azurite.connectionString);
  });
  afterAll(() => azurite?.stop());

  const result = {
    answer: 'Paris [1]',
    citations: [{ url: 'https://example.org/', title: 'Example' }],
    usage: { totalTokens: 42 },
  };

  it('creates the container and writes the result as application/json at results/<runId>.json', async () => {
    const out = await save({ runId: 'run-0001', result }, testContext('saveResult'));

    expect(out).toMatchObject({
      blobName: 'results/run-0001.json',
      container: 'results',
      etag: expect.any(String) as unknown,
    });
    const blob = blobs.getContainerClient('results').getBlobClient('run-0001.json');
    const properties = await blob.getProperties();
    expect(properties.contentType).toBe('application/json');
    expect(JSON.parse((await blob.downloadToBuffer()).toString('utf8'))).toEqual(result);
  });

  it('is idempotent: saving the same result again leaves the same bytes', async () => {
    const context = testContext('saveResult');
    await save({ runId: 'run-0002', result }, context);
    const blob = blobs.getContainerClient('results').getBlobClient('run-0002.json');
    const first = (await blob.downloadToBuffer()).toString('utf8');

    const again = await save(
      { runId: 'run-0002', result: JSON.parse(JSON.stringify(result)) as unknown },
      context,
    );

    expect(again.blobName).toBe('results/run-0002.json');
    expect((await blob.downloadToBuffer()).toString('utf8')).toBe(first);
  });

  it('refuses a run id that would not be a safe blob name', async () => {
    await expect(save({ runId: '../other/x', result }, testContext('saveResult'))).rejects.toThrow(
      /saveResult needs a runId of letters, digits.*"\.\.\/other\/x"/,
    );
  });
});
