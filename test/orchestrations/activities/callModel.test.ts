import { BlobServiceClient } from '@azure/storage-blob';
import { z } from 'zod';
import { startEmulators } from '../../../emulators/src';
import type { Azurite } from '../../../scripts/azurite';
import { createCallModel } from '../../../src/activities/callModel';
import { runTool } from '../../../src/agents/tools';
import { createClients } from '../../../src/clients';
import type {
  CallModelInput,
  CallModelOutput,
  CallModelResult,
  ChatMessage,
} from '../../../src/contracts/model';
import { listAnswerBlobs } from '../../../src/lib/answerBlobs';
import { RetryableError } from '../../../src/lib/errors';
import { emulatorControl, startTestAzurite, testConfig, testContext } from './support';

type Emulators = Awaited<ReturnType<typeof startEmulators>>;

describe('callModel against the Azure OpenAI emulator', () => {
  let emulators: Emulators;
  let azurite: Azurite;

  beforeAll(async () => {
    [emulators, azurite] = await Promise.all([startEmulators({ port: 0 }), startTestAzurite()]);
  });
  afterAll(async () => {
    await Promise.all([emulators?.stop(), azurite?.stop()]);
  });
  beforeEach(() => control('POST', '/_emulator/reset'));

  const control = (method: 'GET' | 'POST', path: string, body?: unknown) =>
    emulatorControl(emulators.url, method, path, body);

  /** The chat-completion requests the emulator received, oldest first. */
  async function chatRequests(): Promise<
    { deployment?: string; status: number; chat?: { tools: string[] } }[]
  > {
    const log = (await control('GET', '/_emulator/requests')) as
      | { requests: { path: string; deployment?: string; status: number; chat?: { tools: string[] } }[] }
      | { path: string; deployment?: string; status: number; chat?: { tools: string[] } }[];
    const requests = Array.isArray(log) ? log : log.requests;
    return requests.filter((r) => r.path.includes('/chat/completions'));
  }

  function callModelWith(settings: Record<string, string> = {}, now?: () => number) {
    const config = testConfig({
      AzureWebJobsStorage: azurite.connectionString,
      AZURE_OPENAI_ENDPOINT: emulators.openaiEndpoint,
      AZURE_OPENAI_API_KEY: emulators.apiKey,
      ...settings,
    });
    return createCallModel({ clients: createClients(config), config, ...(now ? { now } : {}) });
  }

  function expectOk(out: CallModelOutput): CallModelResult {
    if (!out.ok) throw new Error(`expected a model result, got ${JSON.stringify(out)}`);
    return out.value;
  }

  const question: ChatMessage[] = [
    { role: 'system', content: 'You answer briefly.' },
    { role: 'user', content: 'What is 12 * 7 + 5?' },
  ];

  it('asks for the calculator, then answers with its result (one durable tool-calling turn)', async () => {
    const callModel = callModelWith();
    const context = testContext('callModel');

    const first = expectOk(
      await callModel({ tier: 'fast', messages: question, tools: ['calculator', 'current_time'] }, context),
    );
    expect(first).toMatchObject({ deployment: 'gpt-4o-mini', finishReason: 'tool_calls', cached: false });
    const call = first.message.tool_calls?.[0];
    expect(call?.function.name).toBe('calculator');
    expect(first.usage.promptTokens).toBeGreaterThan(0);
    expect(first.usage.totalTokens).toBe(first.usage.promptTokens + first.usage.completionTokens);

    const tool = await runTool(call?.function.name ?? '', call?.function.arguments ?? '', {
      now: new Date(),
      allowNetwork: false,
    });
    expect(tool).toMatchObject({ isError: false, content: expect.stringContaining('= 89') as unknown });

    const second = expectOk(
      await callModel(
        {
          tier: 'fast',
          messages: [
            ...question,
            first.message,
            { role: 'tool', tool_call_id: call?.id ?? '', content: tool.content },
          ],
          tools: ['calculator', 'current_time'],
        },
        context,
      ),
    );
    expect(second.finishReason).toBe('stop');
    expect(second.message.content).toContain('89');

    const requests = await chatRequests();
    expect(requests).toHaveLength(2);
    expect(requests[0]?.deployment).toBe('gpt-4o-mini');
    expect(requests[0]?.chat?.tools).toEqual(['calculator', 'current_time']);
  });

  it('uses the strong deployment for the strong tier', async () => {
    const out = expectOk(
      await callModelWith()({ tier: 'strong', messages: question }, testContext('callModel')),
    );
    expect(out.deployment).toBe('gpt-4o');
    expect((await chatRequests())[0]?.deployment).toBe('gpt-4o');
  });

  it('returns JSON that follows the requested schema', async () => {
    const planSchema = z.strictObject({
      subtasks: z
        .array(z.strictObject({ title: z.string().min(1).max(200), kind: z.enum(['answer', 'research']) }))
        .min(1)
        .max(3),
    });
    const input: CallModelInput = {
      tier: 'fast',
      messages: [{ role: 'user', content: 'Plan: compare the populations of Paris and Rome.' }],
      responseFormat: { name: 'plan', schema: z.toJSONSchema(planSchema) },
    };

    const out = expectOk(await callModelWith()(input, testContext('callModel')));

    expect(out.finishReason).toBe('stop');
    expect(planSchema.safeParse(JSON.parse(out.message.content ?? '')).success).toBe(true);
  });

  it('waits out a short 429 inside the activity and answers', async () => {
    await control('POST', '/_emulator/faults', { status: 429, count: 1, retryAfterMs: 400 });
    const context = testContext('callModel');
    const started = Date.now();

    const out = expectOk(await callModelWith()({ tier: 'fast', messages: question }, context));

    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(out.finishReason).toBeDefined();
    expect((await chatRequests()).map((r) => r.status)).toEqual([429, 200]);
    expect(context.lines.join('\n')).toMatch(/rate-limited; waiting 400 ms/);
  });

  it('hands a long 429 back to the orchestrator without waiting', async () => {
    await control('POST', '/_emulator/faults', { status: 429, count: 1, retryAfterMs: 60_000 });
    const started = Date.now();

    const out = await callModelWith()({ tier: 'fast', messages: question }, testContext('callModel'));

    expect(Date.now() - started).toBeLessThan(5_000);
    expect(out).toEqual({
      ok: false,
      kind: 'rate-limited',
      retryAfterMs: 60_000,
      message: expect.stringContaining('gpt-4o-mini is rate-limited') as unknown,
    });
    expect(await chatRequests()).toHaveLength(1);
  });

  it('reports a wrong API key as permanent, without the key', async () => {
    const out = await callModelWith({ AZURE_OPENAI_API_KEY: 'wrong-key-123456' })(
      { tier: 'fast', messages: question },
      testContext('callModel'),
    );
    expect(out).toMatchObject({ ok: false, kind: 'permanent', status: 401 });
    expect(JSON.stringify(out)).not.toContain('wrong-key-123456');
    expect(JSON.stringify(out)).not.toContain(emulators.apiKey);
    expect(!out.ok && out.message).toMatch(/Deployment gpt-4o-mini .*401.*AZURE_OPENAI_API_KEY/);
  });

  it('reports a missing deployment as permanent, naming it and the setting to fix', async () => {
    const out = await callModelWith({ AZURE_OPENAI_FAST_DEPLOYMENT: 'no-such-model' })(
      { tier: 'fast', messages: question },
      testContext('callModel'),
    );
    expect(out).toMatchObject({ ok: false, kind: 'permanent', status: 404 });
    expect(!out.ok && out.message).toMatch(/Deployment no-such-model .*404.*AZURE_OPENAI_FAST_DEPLOYMENT/);
  });

  it('reports a prompt the content filter blocks as permanent', async () => {
    const out = await callModelWith()(
      { tier: 'fast', messages: [{ role: 'user', content: 'EMULATOR_CONTENT_FILTER please' }] },
      testContext('callModel'),
    );
    expect(out).toMatchObject({ ok: false, kind: 'permanent', status: 400 });
    expect(!out.ok && out.message).toContain('content filter');
  });

  it('throws a RetryableError for a 500, for the durable retry policy', async () => {
    await control('POST', '/_emulator/faults', { status: 500, count: 1 });
    await expect(
      callModelWith()({ tier: 'fast', messages: question }, testContext('callModel')),
    ).rejects.toThrow(RetryableError);
    expect(await chatRequests()).toHaveLength(1);
  });

  it('throws a RetryableError when the answer was lost after the model ran, and answers when run again', async () => {
    await control('POST', '/_emulator/faults', { lostReply: true, service: 'openai' });
    const input: CallModelInput = { tier: 'fast', messages: question };
    await expect(callModelWith()(input, testContext('callModel'))).rejects.toThrow(RetryableError);
    const again = expectOk(await callModelWith()(input, testContext('callModel')));
    expect(again.message.content).toContain('89');
    // The model ran twice: a lost reply costs a second call, never a failed step.
    expect(await chatRequests()).toHaveLength(2);
  });

  it('throws a RetryableError when the endpoint cannot be reached', async () => {
    await expect(
      callModelWith({ AZURE_OPENAI_ENDPOINT: 'http://127.0.0.1:9' })(
        { tier: 'fast', messages: question },
        testContext('callModel'),
      ),
    ).rejects.toThrow(/Could not reach deployment gpt-4o-mini at http:\/\/127.0.0.1:9/);
  });

  it('refuses input that breaks the contract as permanent', async () => {
    const out = await callModelWith()({ tier: 'fast', messages: [] }, testContext('callModel'));
    expect(out).toMatchObject({
      ok: false,
      kind: 'permanent',
      message: expect.stringContaining('messages') as unknown,
    });
    const unknownTool = await callModelWith()(
      { tier: 'fast', messages: question, tools: ['shell'] },
      testContext('callModel'),
    );
    expect(unknownTool).toMatchObject({ ok: false, kind: 'permanent' });
    expect(!unknownTool.ok && unknownTool.message).toContain('unknown tools: shell');
    expect(await chatRequests()).toHaveLength(0);
  });

  it('answers an identical second call from the blob cache, with the original usage, until the entry expires', async () => {
    let clock = Date.parse('2025-06-01T00:00:00Z');
    const callModel = callModelWith(
      { MODEL_CACHE_TTL_SECONDS: '60', MODEL_CACHE_CONTAINER: 'model-cache' },
      () => clock,
    );
    const input: CallModelInput = { tier: 'fast', messages: question, tools: ['calculator'], temperature: 0 };
    const context = testContext('callModel');

    const first = expectOk(await callModel(input, context));
    const second = expectOk(await callModel(JSON.parse(JSON.stringify(input)) as CallModelInput, context));

    expect(first.cached).toBe(false);
    expect(second).toEqual({ ...first, cached: true });
    expect(await chatRequests()).toHaveLength(1);

    const other = expectOk(await callModel({ ...input, temperature: 0.5 }, context));
    expect(other.cached).toBe(false);
    expect(await chatRequests()).toHaveLength(2);

    clock += 61_000;
    const afterExpiry = expectOk(await callModel(input, context));
    expect(afterExpiry.cached).toBe(false);
    expect(await chatRequests()).toHaveLength(3);
  });
  /** Both tiers on the emulator's reasoning deployments, as the product runs by default. */
  const reasoningDeployments = {
    AZURE_OPENAI_FAST_DEPLOYMENT: 'gpt-5.4-mini',
    AZURE_OPENAI_STRONG_DEPLOYMENT: 'gpt-5.4',
  };

  /** What the emulator's log says the app sent in its chat requests, oldest first. */
  async function sentShapes(): Promise<
    { limitParam?: string; maxTokens?: number; temperature?: number; reasoningEffort?: string }[]
  > {
    const log = (await control('GET', '/_emulator/requests?service=openai')) as {
      requests: {
        chat?: { limitParam?: string; maxTokens?: number; temperature?: number; reasoningEffort?: string };
      }[];
    };
    return log.requests.map((r) => {
      const { limitParam, maxTokens, temperature, reasoningEffort } = r.chat ?? {};
      return { limitParam, maxTokens, temperature, reasoningEffort };
    });
  }

  it('asks a reasoning deployment with max_completion_tokens, no temperature and low effort, and keeps its reasoning tokens visible', async () => {
    const callModel = callModelWith(reasoningDeployments);
    const context = testContext('callModel');

    const fast = expectOk(
      await callModel({ tier: 'fast', messages: question, maxTokens: 500, temperature: 0 }, context),
    );
    const strong = expectOk(await callModel({ tier: 'strong', messages: question, maxTokens: 500 }, context));

    expect(fast.deployment).toBe('gpt-5.4-mini');
    expect(strong.deployment).toBe('gpt-5.4');
    expect(fast.message.content).toContain('89');
    expect(await sentShapes()).toEqual([
      { limitParam: 'max_completion_tokens', maxTokens: 500, reasoningEffort: 'low' },
      { limitParam: 'max_completion_tokens', maxTokens: 500, reasoningEffort: 'low' },
    ]);
    for (const { usage } of [fast, strong]) {
      expect(usage.reasoningTokens).toBeGreaterThan(0);
      // Reasoning is part of the completion, as billed: the budget and the quota count it.
      expect(usage.completionTokens).toBeGreaterThan(usage.reasoningTokens ?? 0);
      expect(usage.totalTokens).toBe(usage.promptTokens + usage.completionTokens);
    }
  });

  it('asks a chat deployment with max_tokens and the temperature it was given, and reports no reasoning', async () => {
    const out = expectOk(
      await callModelWith()(
        { tier: 'fast', messages: question, maxTokens: 500, temperature: 0 },
        testContext('callModel'),
      ),
    );

    expect(await sentShapes()).toEqual([{ limitParam: 'max_tokens', maxTokens: 500, temperature: 0 }]);
    expect(out.usage.reasoningTokens).toBeUndefined();
  });

  it('talks the v1 API by default, and the deployments path with a dated API version', async () => {
    await callModelWith()({ tier: 'fast', messages: question }, testContext('callModel'));
    await callModelWith({ AZURE_OPENAI_API_VERSION: '2025-04-01-preview' })(
      { tier: 'fast', messages: question },
      testContext('callModel'),
    );

    const log = (await control('GET', '/_emulator/requests?service=openai')) as {
      requests: { path: string; apiVersion?: string; status: number }[];
    };
    expect(log.requests.map((r) => [r.path, r.apiVersion, r.status])).toEqual([
      ['/openai/v1/chat/completions', undefined, 200],
      ['/openai/deployments/gpt-4o-mini/chat/completions', '2025-04-01-preview', 200],
    ]);
  });

  it('follows AZURE_OPENAI_FAST_KIND over what the deployment name suggests', async () => {
    // gpt-5.4-mini is a reasoning deployment; told it is a chat one, the app sends max_tokens and Azure refuses.
    const out = await callModelWith({ ...reasoningDeployments, AZURE_OPENAI_FAST_KIND: 'chat' })(
      { tier: 'fast', messages: question, maxTokens: 500 },
      testContext('callModel'),
    );

    expect(out).toMatchObject({ ok: false, kind: 'permanent', status: 400 });
    expect(!out.ok && out.message).toContain("Unsupported parameter: 'max_tokens'");
  });

  it.each([
    ['chat', {}],
    ['reasoning', reasoningDeployments],
  ])(
    'keeps prompt and reply within budgetTokens on %s deployments, whatever the prompt, and refuses when none fits',
    async (_, settings) => {
      const callModel = callModelWith(settings);
      const context = testContext('callModel');
      const long = 'Explain every step of the arithmetic, and why, in full sentences. '.repeat(30);
      const shapes: CallModelInput[] = [
        { tier: 'fast', messages: question, tools: ['calculator', 'current_time'] },
        { tier: 'strong', messages: [{ role: 'user', content: `${long} What is 3 * 4?` }] },
        {
          tier: 'fast',
          messages: [{ role: 'user', content: `${long} Plan it.` }],
          responseFormat: { name: 'plan', schema: z.toJSONSchema(z.object({ steps: z.array(z.string()) })) },
        },
      ];
      const finishes: string[] = [];
      for (const shape of shapes) {
        for (const budget of [1200, 600]) {
          const out = expectOk(await callModel({ ...shape, maxTokens: 2000, budgetTokens: budget }, context));
          expect(out.usage.totalTokens).toBeLessThanOrEqual(budget);
          finishes.push(out.finishReason);
        }
      }
      // The bound bit: some replies were cut at the lowered limit, not merely short.
      expect(finishes).toContain('length');
      const refused = await callModel(
        { tier: 'strong', messages: [{ role: 'user', content: long }], budgetTokens: 100 },
        context,
      );
      expect(refused).toMatchObject({ ok: false, kind: 'permanent' });
      expect(refused.ok ? '' : refused.message).toMatch(
        /^The run has spent its token budget: 100 tokens are left/,
      );
      // The refused call never reached the service.
      expect((await chatRequests()).length).toBe(shapes.length * 2);
    },
  );

  describe('streamed (the synthesis and revisions)', () => {
    const results = () =>
      BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient('results');
    const textOf = async (name: string) =>
      (await results().getBlobClient(name).downloadToBuffer()).toString('utf8');
    const synthesis: ChatMessage[] = [
      { role: 'system', content: 'Write one answer.' },
      {
        role: 'user',
        content:
          'Request: What is 12 * 7 + 5?\n\nFindings:\n[s1] Compute: 12 * 7 + 5 = 89. The product of 12 and 7 is 84, and 84 plus 5 is 89.',
      },
    ];

    it("writes the answer to the round's append blob in batches, with the same text and usage as a plain call", async () => {
      await control('POST', '/_emulator/streaming', { chunkDelayMs: 40 });
      const callModel = callModelWith();
      const plain = expectOk(
        await callModel({ tier: 'strong', messages: synthesis }, testContext('callModel')),
      );
      const streamed = expectOk(
        await callModel(
          { tier: 'strong', messages: synthesis, stream: { runId: 'stream-run-1', round: 0 } },
          testContext('callModel'),
        ),
      );
      expect(streamed.message.content).toBe(plain.message.content);
      expect(streamed.usage).toEqual(plain.usage);
      expect(streamed.finishReason).toBe('stop');
      const blobs = await listAnswerBlobs(results(), 'stream-run-1');
      expect(blobs.map((b) => [b.round, b.attempt])).toEqual([[0, 1]]);
      expect(await textOf(blobs[0]?.name ?? '')).toBe(plain.message.content?.trim());

      const log = (await control('GET', '/_emulator/requests?service=openai')) as {
        requests: { chat?: { stream: boolean; chunks?: unknown[] } }[];
      };
      const chunks = log.requests.at(-1)?.chat?.chunks?.length ?? 0;
      expect(log.requests.at(-1)?.chat?.stream).toBe(true);
      expect(chunks).toBeGreaterThan(3);
      const appends = (
        await results()
          .getAppendBlobClient(blobs[0]?.name ?? '')
          .getProperties()
      ).blobCommittedBlockCount;
      expect(appends).toBeGreaterThan(0);
      expect(appends).toBeLessThan(chunks);
    });

    it('fails a stream cut mid-answer as transient, and the retry writes a new attempt, not more text', async () => {
      // Chunks every 60 ms and a cut after the fifth: the first batch (100 ms) is in the blob by then.
      await control('POST', '/_emulator/streaming', { chunkDelayMs: 60 });
      const long = 'Twelve times seven is 84, and 84 plus five is 89. '.repeat(4).trim();
      await control('POST', '/_emulator/faults', { cutStreamAfterChunks: 5, content: long });
      const callModel = callModelWith();
      const input: CallModelInput = {
        tier: 'strong',
        messages: synthesis,
        stream: { runId: 'stream-run-2', round: 1 },
      };
      await expect(callModel(input, testContext('callModel'))).rejects.toThrow(RetryableError);
      const retried = expectOk(await callModel(input, testContext('callModel')));
      const blobs = await listAnswerBlobs(results(), 'stream-run-2');
      expect(blobs.map((b) => [b.round, b.attempt])).toEqual([
        [1, 1],
        [1, 2],
      ]);
      const partial = await textOf(blobs[0]?.name ?? '');
      expect(partial.length).toBeGreaterThan(0);
      expect(long.startsWith(partial)).toBe(true);
      expect(partial.length).toBeLessThan(long.length);
      expect(await textOf(blobs[1]?.name ?? '')).toBe(retried.message.content?.trim());
    });

    it('keeps in the blob exactly the text the run keeps: the answer trimmed', async () => {
      await control('POST', '/_emulator/faults', {
        content: '\n  Eighty-nine.  \n\n The end. \n',
        stream: true,
      });
      const out = expectOk(
        await callModelWith()(
          { tier: 'strong', messages: synthesis, stream: { runId: 'stream-run-4', round: 0 } },
          testContext('callModel'),
        ),
      );
      expect(out.message.content).toBe('\n  Eighty-nine.  \n\n The end. \n');
      const [blob] = await listAnswerBlobs(results(), 'stream-run-4');
      expect(await textOf(blob?.name ?? '')).toBe('Eighty-nine.  \n\n The end.');
    });

    it('streams a reasoning deployment with include_usage, its usage (reasoning included) that of a plain call', async () => {
      const callModel = callModelWith(reasoningDeployments);
      const plain = expectOk(
        await callModel({ tier: 'strong', messages: synthesis, maxTokens: 800 }, testContext('callModel')),
      );
      const streamed = expectOk(
        await callModel(
          {
            tier: 'strong',
            messages: synthesis,
            maxTokens: 800,
            stream: { runId: 'stream-run-5', round: 0 },
          },
          testContext('callModel'),
        ),
      );

      expect(streamed.message.content).toBe(plain.message.content);
      expect(streamed.usage).toEqual(plain.usage);
      expect(streamed.usage.reasoningTokens).toBeGreaterThan(0);
    });

    it('refuses to stream a call that offers tools', async () => {
      const out = await callModelWith()(
        {
          tier: 'fast',
          messages: question,
          tools: ['calculator'],
          stream: { runId: 'stream-run-3', round: 0 },
        },
        testContext('callModel'),
      );
      expect(out).toMatchObject({ ok: false, kind: 'permanent' });
    });
  });
});
