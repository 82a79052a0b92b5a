import { BlobServiceClient } from '@azure/storage-blob';
import { listAnswerBlobs } from '../../src/lib/answerBlobs';
import { call, principalHeaders, startProduct, startRun, type Product } from '../support/product';
import { openSse, type SseFrame } from '../support/sse';

/**
 * The final answer streams while the model writes it (`answer.delta`), from the durable event log:
 * exact resumption with Last-Event-ID, and a retried synthesis that never doubles text.
 */

let product: Product;
const owner = principalHeaders('stream-owner');

beforeAll(async () => {
  product = await startProduct();
});

afterAll(async () => {
  await product?.stop();
});

beforeEach(async () => {
  await emulator('reset', {});
  // A model that writes visibly: a pause before every chunk of a streamed answer.
  await emulator('streaming', { chunkDelayMs: 60 });
});

async function emulator(path: string, body: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${product.emulatorUrl}/_emulator/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
}

/** The synthesis is the run's only streamed call; this text is what the strong model writes. */
const answerText = Array.from(
  { length: 8 },
  (_, i) => `Point ${i + 1}: twelve times seven is 84, and 84 plus five is 89 [1].`,
).join(' ');

const start = (body: Record<string, unknown>) => startRun(product, body, owner);

const eventsUrl = (id: string) => `${product.baseUrl}/api/agent-runs/${id}/events`;
const data = (frame: SseFrame | undefined) => JSON.parse(frame?.data ?? 'null') as Record<string, unknown>;
const ids = (frames: SseFrame[]) => frames.map((f) => Number(f.id));
/** The answer as a client rebuilds it: deltas appended, an `answer.reset` dropping the round's text. */
function rebuild(frames: SseFrame[]): string {
  let text = '';
  for (const f of frames) {
    if (f.event === 'answer.reset') text = '';
    if (f.event === 'answer.delta') text += String(data(f).text);
  }
  return text;
}
const summary = (frames: SseFrame[]) => frames.map((f) => `${f.id} ${f.event} ${f.data}`);

describe('the answer as the model writes it', () => {
  it('streams deltas in order that add up to exactly the final answer, and replays the log exactly', async () => {
    await emulator('faults', { content: answerText, stream: true });
    const runId = await start({ prompt: 'What is 12 * 7 + 5?' });
    // Two streams watch at once and write the log between them: both see the same events and ids.
    const [stream, other] = await Promise.all([
      openSse(eventsUrl(runId), owner),
      openSse(eventsUrl(runId), owner),
    ]);
    const [frames, otherFrames] = await Promise.all([
      stream.readUntil((f) => f.event === 'end'),
      other.readUntil((f) => f.event === 'end'),
    ]);
    expect(frames.at(-1)?.event).toBe('end');
    expect(summary(otherFrames)).toEqual(summary(frames));

    const seen = ids(frames);
    expect(seen).toEqual(seen.map((_, i) => (seen[0] ?? 0) + i));
    const deltas = frames.filter((f) => f.event === 'answer.delta');
    expect(deltas.length).toBeGreaterThan(1);
    const end = data(frames.at(-1));
    expect(end.answer).toBe(answerText);
    expect(rebuild(frames)).toBe(answerText);
    // The text comes after the synthesis began and before the run moved on.
    const stages = frames.filter((f) => f.event === 'stage').map((f) => [Number(f.id), data(f).stage]);
    const synthesizing = stages.find(([, stage]) => stage === 'synthesizing')?.[0] ?? Infinity;
    const after = stages.find(([id]) => Number(id) > Number(deltas.at(-1)?.id))?.[1];
    expect(Number(deltas[0]?.id)).toBeGreaterThan(Number(synthesizing));
    expect(['saving', 'done']).toContain(after);
    // Offsets follow each other: no piece is missing or sent twice.
    let offset = 0;
    for (const d of deltas) {
      expect(data(d).offset).toBe(offset);
      offset += Buffer.byteLength(String(data(d).text));
    }

    // A new stream without Last-Event-ID gets the very same events, ids included, from the log.
    const replay = await openSse(eventsUrl(runId), owner);
    expect(summary(await replay.readUntil(() => false))).toEqual(summary(frames));
  });

  it('resumes mid-answer with only the rest, and after the last event before the end with only end', async () => {
    await emulator('faults', { content: answerText, stream: true });
    const runId = await start({ prompt: 'What is 12 * 7 + 5?' });
    const first = await openSse(eventsUrl(runId), owner);
    const before = await first.readUntil((f) => f.event === 'answer.delta');
    await first.close();
    const lastSeen = before.at(-1);
    expect(lastSeen?.event).toBe('answer.delta');

    const resumed = await openSse(eventsUrl(runId), { ...owner, 'last-event-id': String(lastSeen?.id) });
    const rest = await resumed.readUntil((f) => f.event === 'end');
    expect(Number(rest[0]?.id)).toBe(Number(lastSeen?.id) + 1);
    const all = [...before, ...rest];
    const seen = ids(all);
    expect(seen).toEqual(seen.map((_, i) => (seen[0] ?? 0) + i));
    expect(rebuild(all)).toBe(answerText);
    expect(rebuild(rest)).toBe(answerText.slice(String(data(lastSeen).text).length));
    expect(data(rest.at(-1)).answer).toBe(answerText);

    const end = rest.at(-1);
    const beforeEnd = await openSse(eventsUrl(runId), {
      ...owner,
      'last-event-id': String(Number(end?.id) - 1),
    });
    expect(summary(await beforeEnd.readUntil(() => false))).toEqual(summary([end as SseFrame]));
    const afterEnd = await openSse(eventsUrl(runId), { ...owner, 'last-event-id': String(end?.id) });
    expect(await afterEnd.readUntil(() => false)).toEqual([]);
  });

  it('streams a revision too, as round 1, after the rejected draft', async () => {
    await emulator('faults', { content: answerText, stream: true });
    const runId = await start({ prompt: 'What is 12 * 7 + 5?', approval: { required: true } });
    const stream = await openSse(eventsUrl(runId), owner);
    const untilDraft = await stream.readUntil((f) => f.event === 'draft');
    expect(rebuild(untilDraft)).toBe(data(untilDraft.at(-1)).draft);
    const revised = Array.from({ length: 6 }, (_, i) => `Revised point ${i + 1}: the result is 89.`).join(
      ' ',
    );
    await emulator('faults', { content: revised, stream: true });
    const rejected = await call(`${product.baseUrl}/api/agent-runs/${runId}/approval`, {
      body: { decision: 'reject', round: 0, comment: 'Make it a list of points.' },
      headers: owner,
    });
    expect(rejected.status).toBe(200);
    const untilRevised = await stream.readUntil((f) => f.event === 'draft');
    const deltas = untilRevised.filter((f) => f.event === 'answer.delta');
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.every((f) => data(f).round === 1)).toBe(true);
    expect(rebuild(untilRevised)).toBe(revised);
    expect(data(untilRevised.at(-1))).toMatchObject({ round: 1, revision: true, draft: revised });
    await stream.close();
    await call(`${product.baseUrl}/api/agent-runs/${runId}/approval`, {
      body: { decision: 'approve', round: 1 },
      headers: owner,
    });
  });

  it('a synthesis retried after its stream broke off leaves no doubled text', async () => {
    // The first attempt's stream is cut after five chunks; Durable retries the activity, which writes
    // a new attempt's blob.
    await emulator('faults', { content: answerText, stream: true, cutStreamAfterChunks: 5 });
    await emulator('faults', { content: answerText, stream: true });
    const runId = await start({ prompt: 'What is 12 * 7 + 5?' });
    const stream = await openSse(eventsUrl(runId), owner);
    const frames = await stream.readUntil((f) => f.event === 'end');
    const end = data(frames.at(-1));
    expect(end).toMatchObject({ status: 'completed', answer: answerText });
    expect(rebuild(frames)).toBe(answerText);
    const attempts = frames
      .filter((f) => f.event === 'answer.delta' || f.event === 'answer.reset')
      .map((f) => data(f).attempt);
    expect(attempts.at(-1)).toBe(2);
    // Text of the first attempt, if the stream saw any, is followed by a reset before the second.
    if (attempts.includes(1)) expect(frames.some((f) => f.event === 'answer.reset')).toBe(true);

    const results = BlobServiceClient.fromConnectionString(product.blobConnectionString).getContainerClient(
      'results',
    );
    const blobs = await listAnswerBlobs(results, runId);
    expect(blobs.map((b) => [b.round, b.attempt])).toEqual([
      [0, 1],
      [0, 2],
    ]);
    const texts = await Promise.all(
      blobs.map(async (b) => (await results.getBlobClient(b.name).downloadToBuffer()).toString('utf8')),
    );
    expect(answerText.startsWith(texts[0] ?? 'x')).toBe(true);
    expect(texts[0]?.length).toBeLessThan(answerText.length);
    expect(texts[1]).toBe(answerText);
  });
});
