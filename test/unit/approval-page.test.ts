import { renderApproval, safeHttpUrl } from '../../src/functions/approvalPage';

const hostile =
  '<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" & <a href="javascript:alert(3)">x</a>';

describe('the approval page body', () => {
  const html = renderApproval(
    { id: 'run-12345678', status: 'awaiting-approval', stage: 'awaiting-approval' },
    {
      round: 1,
      draftId: '0123456789abcdef',
      draft: hostile,
      citations: [
        { url: 'https://example.com/a?x=1&y="2"', title: '<b>Source</b>' },
        { url: 'javascript:alert(4)', title: 'click me' },
        { url: 'data:text/html,<script>alert(5)</script>', title: 'data' },
        { url: 'JaVaScRiPt:alert(6)', title: 'mixed case' },
      ],
      deadline: '2026-12-02T00:00:00.000Z',
      escalated: false,
    },
  );

  it('shows model text as text: no element, attribute or link comes from it', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<b>/);
    expect(html).not.toMatch(/href="(javascript|data):/i);
    expect(html).not.toMatch(/JaVaScRiPt:alert\(6\)/);
    expect(html).toContain('&lt;a href=&quot;javascript:alert(3)&quot;&gt;');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;');
    expect(html).toContain('&quot;quoted&quot; &amp;');
  });

  it('links http(s) citations in order and only those', () => {
    const links = [...html.matchAll(/<a href="([^"]*)"/g)].map((m) => m[1]);
    expect(links).toEqual(['https://example.com/a?x=1&amp;y=%222%22']);
    expect(html).toContain('&lt;b&gt;Source&lt;/b&gt;');
    expect((html.match(/link not shown/g) ?? []).length).toBe(3);
    expect((html.match(/<li>/g) ?? []).length).toBe(4);
  });

  it('offers the decision only while the run waits, naming the round and draft it decides', () => {
    expect(html).toMatch(/<form id="decide" method="post" data-round="1" data-draft-id="0123456789abcdef">/);
    const done = renderApproval(
      { id: 'run-12345678', status: 'completed', stage: 'done', answer: 'ok' },
      undefined,
    );
    expect(done).toMatch(/<form id="decide" method="post" data-round="" data-draft-id="" hidden>/);
  });

  it.each([
    ['https://a.example/x', 'https://a.example/x'],
    ['http://a.example/', 'http://a.example/'],
    ['javascript:alert(1)', undefined],
    ['vbscript:x', undefined],
    ['//a.example/', undefined],
    ['not a url', undefined],
  ])('safeHttpUrl(%j)', (raw, expected) => {
    expect(safeHttpUrl(raw)).toBe(expected);
  });
});
