import { call, pollUntil, principalHeaders, startProduct, startRun, type Product } from '../support/product';

interface ListItem {
  id: string;
  status: string;
  stage: string;
  createdTime: string;
  usage: { totalTokens: number };
  preview: string;
  links: { run: string; approval: string };
}
interface ListBody {
  items: ListItem[];
  continuationToken: string | null;
  next: string | null;
}

let product: Product;
const alice = principalHeaders('alice-list');
const bob = principalHeaders('bob-list');
const admin = principalHeaders('admin-list', ['AgentRuns.Admin']);
const aliceRuns: string[] = [];
let bobRun = '';

function list(query: string, headers: Record<string, string>) {
  return call<ListBody>(`${product.baseUrl}/api/agent-runs${query}`, { headers });
}

const start = (body: Record<string, unknown>, headers: Record<string, string>) =>
  startRun(product, body, headers);

beforeAll(async () => {
  product = await startProduct();
  // Three of Alice's runs, started one after the other so their created times order them: the first
  // completes, the two others wait for approval.
  aliceRuns.push(
    await start({ prompt: 'What is 2 + 3?\n  Use   the calculator.', tools: ['calculator'] }, alice),
  );
  for (const prompt of ['What is 4 + 4?', 'x'.repeat(300)]) {
    await new Promise((r) => setTimeout(r, 20));
    aliceRuns.push(await start({ prompt, approval: { required: true } }, alice));
  }
  bobRun = await start({ prompt: 'What is 9 + 9?' }, bob);
  await pollUntil(
    () => list('?status=awaiting-approval', alice),
    (r) => r.body.items?.length === 2,
  );
  await pollUntil(
    () => list('?status=completed', alice),
    (r) => r.body.items?.length === 1,
  );
});

afterAll(async () => {
  await product?.stop();
});

describe('GET /api/agent-runs', () => {
  it("lists only the caller's runs, newest first, each with status, stage, times, usage and a preview", async () => {
    const mine = await list('', alice);
    expect(mine.status).toBe(200);
    expect(mine.body.items.map((i) => i.id)).toEqual([...aliceRuns].reverse());
    expect(mine.body.continuationToken).toBeNull();
    const [longest, waiting, done] = mine.body.items;
    expect(waiting).toMatchObject({
      status: 'awaiting-approval',
      stage: 'awaiting-approval',
      preview: 'What is 4 + 4?',
    });
    expect(done).toMatchObject({ status: 'completed', preview: 'What is 2 + 3? Use the calculator.' });
    expect(done?.usage.totalTokens).toBeGreaterThan(0);
    expect(done?.links.run).toBe(`${product.baseUrl}/api/agent-runs/${done?.id}`);
    expect([...(longest?.preview ?? '')]).toHaveLength(120);
    expect(longest?.preview.endsWith('…')).toBe(true);
    expect(Date.parse(done?.createdTime ?? '')).toBeLessThanOrEqual(Date.parse(waiting?.createdTime ?? ''));

    const bobs = await list('', bob);
    expect(bobs.body.items.map((i) => i.id)).toEqual([bobRun]);
  });

  it('pages with a continuation token until the last page, which has none', async () => {
    const first = await list('?limit=2', alice);
    expect(first.body.items.map((i) => i.id)).toEqual([aliceRuns[2], aliceRuns[1]]);
    expect(first.body.continuationToken).toEqual(expect.any(String));
    expect(first.headers.get('x-ms-continuation-token')).toBe(first.body.continuationToken);
    // A run started between pages is newer than the cursor, so it shifts nothing.
    const later = await start({ prompt: 'What is 1 + 0?' }, alice);
    const second = await call<ListBody>(first.body.next ?? '', { headers: alice });
    expect(second.body.items.map((i) => i.id)).toEqual([aliceRuns[0]]);
    expect(second.body.continuationToken).toBeNull();
    expect(second.body.next).toBeNull();
    const again = await list('?limit=1', alice);
    expect(again.body.items.map((i) => i.id)).toEqual([later]);
  });

  it('filters by status, one or several', async () => {
    const waiting = await list('?status=awaiting-approval', alice);
    expect(waiting.body.items.map((i) => i.id)).toEqual([aliceRuns[2], aliceRuns[1]]);
    const some = await list('?status=completed,awaiting-approval&limit=3', alice);
    expect(some.body.items.every((i) => ['completed', 'awaiting-approval'].includes(i.status))).toBe(true);
    const none = await list('?status=rejected', alice);
    expect(none.body.items).toEqual([]);
  });

  it("lets an admin list someone else's runs with ?owner=, and nobody else", async () => {
    const asAdmin = await list('?owner=bob-list', admin);
    expect(asAdmin.body.items.map((i) => i.id)).toEqual([bobRun]);
    const asAlice = await list('?owner=bob-list', alice);
    expect(asAlice.status).toBe(403);
    expect(asAlice.headers.get('content-type')).toContain('application/problem+json');
    const ownSelf = await list('?owner=alice-list&status=awaiting-approval', alice);
    expect(ownSelf.body.items).toHaveLength(2);
  });

  it('drops a purged run from the list', async () => {
    const done = await pollUntil(
      () => call<{ status: string }>(`${product.baseUrl}/api/agent-runs/${bobRun}`, { headers: bob }),
      (r) => r.body.status === 'completed',
    );
    expect(done.status).toBe(200);
    const purged = await call(`${product.baseUrl}/api/agent-runs/${bobRun}/purge`, {
      method: 'DELETE',
      headers: bob,
    });
    expect(purged.status).toBe(200);
    expect((await list('', bob)).body.items).toEqual([]);
  });

  it.each([
    ['?status=done', 'status'],
    ['?status=', 'status'],
    ['?limit=0', 'limit'],
    ['?limit=101', 'limit'],
    ['?limit=2.5', 'limit'],
    ['?continuationToken=bm90LWEtY3Vyc29y', 'continuationToken'],
    ['?continuationToken=%2F%2F', 'continuationToken'],
    ['?owner=a%20b', 'owner'],
  ])('refuses %s with problem+json naming %s', async (query, field) => {
    const response = await list(query, admin);
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body).toMatchObject({ field });
  });

  it('refuses unknown and repeated parameters', async () => {
    const unknown = await call<{ parameters: string[] }>(`${product.baseUrl}/api/agent-runs?stauts=running`, {
      headers: alice,
    });
    expect(unknown.status).toBe(400);
    expect(unknown.body.parameters).toEqual(['stauts']);
    const repeated = await call<{ parameter: string }>(`${product.baseUrl}/api/agent-runs?limit=1&limit=2`, {
      headers: alice,
    });
    expect(repeated.status).toBe(400);
    expect(repeated.body.parameter).toBe('limit');
  });
});
