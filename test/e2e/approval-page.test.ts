import { call, pollUntil, principalHeaders, startProduct, type Product } from '../support/product';

let product: Product;
const owner = principalHeaders('page-owner');
const approver = principalHeaders('page-approver', [], 'Reviewer', [
  { typ: 'preferred_username', val: 'reviewer@example.com' },
]);
const stranger = principalHeaders('page-stranger');
const hostile =
  'Answer: <script>document.title="owned"</script><img src=x onerror="alert(1)"> [see](javascript:alert(2))';
let runId = '';

beforeAll(async () => {
  product = await startProduct();
  // Every model answer is the attacker's text: the plan falls back to one answer subtask, whose
  // answer and the synthesis are that text.
  await call(`${product.emulatorUrl}/_emulator/faults`, { body: { content: hostile, count: 1000 } });
  const started = await call<{ runId: string }>(`${product.baseUrl}/api/agent-runs`, {
    body: { prompt: 'Say something.', approval: { required: true, approvers: ['reviewer@example.com'] } },
    headers: owner,
  });
  runId = started.body.runId;
  await pollUntil(
    () => call<{ status: string }>(`${product.baseUrl}/api/agent-runs/${runId}`, { headers: owner }),
    (r) => r.body.status === 'awaiting-approval',
  );
});

afterAll(async () => {
  await product?.stop();
});

const pageOf = (headers: Record<string, string>, accept = 'text/html,application/xhtml+xml') =>
  call<string>(`${product.baseUrl}/api/agent-runs/${runId}/approval`, { headers: { ...headers, accept } });

describe('the approval page', () => {
  it('renders the draft for an approver as escaped text under a strict CSP', async () => {
    const page = await pageOf(approver);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/=]+'$|script-src 'nonce-[A-Za-z0-9+/=]+';/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    const html = page.body;
    expect(html).toContain('&lt;script&gt;document.title=&quot;owned&quot;&lt;/script&gt;');
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/href="javascript:/i);
    // One script only, the page's own, with the nonce of the policy.
    const scripts = [...html.matchAll(/<script([^>]*)>/gi)].map((m) => m[1]);
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
    expect(scripts).toEqual([` nonce="${nonce}"`]);
    expect(html).toContain(`data-approval-url="${product.baseUrl}/api/agent-runs/${runId}/approval"`);
    expect(html).toContain(`data-events-url="${product.baseUrl}/api/agent-runs/${runId}/events"`);
  });

  it('answers 404 to someone who may not decide, and 406 to a JSON client', async () => {
    const refused = await pageOf(stranger);
    expect(refused.status).toBe(404);
    expect(refused.body).not.toContain('owned');
    const json = await pageOf(owner, 'application/json');
    expect(json.status).toBe(406);
    expect(json.headers.get('content-type')).toContain('application/problem+json');
  });
});
