import { call, principalHeaders, startProduct, startRun, type Product } from '../support/product';
import { openSse, type SseFrame } from '../support/sse';

let product: Product;
const owner = principalHeaders('events-owner');
const approver = principalHeaders('events-approver', [], 'Approver', [
  { typ: 'preferred_username', val: 'approver@example.com' },
]);
const stranger = principalHeaders('events-stranger');
const admin = principalHeaders('events-admin', ['AgentRuns.Admin']);

beforeAll(async () => {
  product = await startProduct();
});

afterAll(async () => {
  await product?.stop();
});

const start = (body: Record<string, unknown>) => startRun(product, body, owner);

const eventsUrl = (id: string) => `${product.baseUrl}/api/agent-runs/${id}/events`;
const ids = (frames: SseFrame[]) => frames.map((f) => Number(f.id));
const data = (frame: SseFrame | undefined) => JSON.parse(frame?.data ?? 'null') as Record<string, unknown>;

describe('GET /api/agent-runs/{id}/events', () => {
  it('streams the run in order, with increasing ids, to the end, then closes', async () => {
    const runId = await start({
      prompt: 'What is 21 * 2? Use the calculator.',
      tools: ['calculator'],
      approval: { required: true, approvers: ['approver@example.com'] },
    });
    const stream = await openSse(eventsUrl(runId), owner);
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    expect(stream.headers.get('cache-control')).toBe('no-store');

    const untilDraft = await stream.readUntil((f) => f.event === 'draft');
    expect(stream.comments[0]).toContain(`stream of run ${runId}`);
    const kinds = untilDraft.map((f) => f.event);
    expect(kinds[0]).toBe('stage');
    expect(kinds).toContain('usage');
    const subtaskStates = untilDraft.filter((f) => f.event === 'subtask').map((f) => data(f).state);
    expect(subtaskStates).toContain('started');
    expect(subtaskStates).toContain('succeeded');
    expect(subtaskStates.indexOf('started')).toBeLessThan(subtaskStates.indexOf('succeeded'));
    const draft = data(untilDraft.at(-1));
    expect(draft).toMatchObject({
      round: 0,
      draftId: expect.stringMatching(/^[0-9a-f]{16}$/) as unknown,
      revision: false,
      approvalUrl: `${product.baseUrl}/api/agent-runs/${runId}/approval`,
    });
    expect(String(draft.draft)).toContain('42');
    const stagesSeen = untilDraft.filter((f) => f.event === 'stage').map((f) => data(f).stage);
    expect(stagesSeen.at(-1)).toBe('awaiting-approval');

    const decided = await call(`${product.baseUrl}/api/agent-runs/${runId}/approval`, {
      body: { decision: 'approve', round: 0, draftId: draft.draftId },
      headers: approver,
    });
    expect(decided.status).toBe(200);
    const rest = await stream.readUntil((f) => f.event === 'end');
    const end = rest.at(-1);
    expect(end?.event).toBe('end');
    expect(data(end)).toMatchObject({ status: 'completed', id: runId });
    expect(await stream.next()).toBeUndefined();

    const all = [...untilDraft, ...rest];
    const seen = ids(all);
    expect(seen.every((id, i) => i === 0 || id > (seen[i - 1] ?? 0))).toBe(true);

    // Resuming after the draft gives only later ids, then the end; resuming after the end closes at once.
    const resumed = await openSse(eventsUrl(runId), {
      ...owner,
      'last-event-id': String(untilDraft.at(-1)?.id),
    });
    const again = await resumed.readUntil(() => false);
    expect(again.length).toBeGreaterThan(0);
    expect(ids(again).every((id) => id > Number(untilDraft.at(-1)?.id))).toBe(true);
    expect(again.at(-1)?.event).toBe('end');
    expect(again.at(-1)?.id).toBe(end?.id);
    const afterEnd = await openSse(eventsUrl(runId), { ...owner, 'last-event-id': String(end?.id) });
    expect(await afterEnd.readUntil(() => false)).toEqual([]);
  });

  it('lets the owner, an approver and an admin watch, and answers 404 to anyone else', async () => {
    const runId = await start({
      prompt: 'What is 2 + 2?',
      approval: { required: true, approvers: ['approver@example.com'] },
    });
    const refused = await call(eventsUrl(runId), { headers: stranger });
    expect(refused.status).toBe(404);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    const unknown = await call(eventsUrl('00000000-0000-0000-0000-000000000000'), { headers: owner });
    expect(unknown.status).toBe(404);
    expect((await call(`${product.baseUrl}/api/agent-runs/bad%20id/events`, { headers: owner })).status).toBe(
      400,
    );
    for (const who of [owner, approver, admin]) {
      const stream = await openSse(eventsUrl(runId), who);
      expect(stream.status).toBe(200);
      const first = await stream.next();
      expect(first?.event).toBe('stage');
      await stream.close();
    }
  });
});
