import { randomBytes } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import escapeHtml from 'escape-html';
import type { AppConfig } from '../config';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { Citation } from '../contracts/research';
import { problem, withProblemAnswers } from '../lib/http';
import { canApprove, resolveCaller } from '../lib/identity';
import { isValidRunId, runIdRule } from '../lib/ids';
import { functionNames, orchestratorNames } from '../names';
import { getStatusOrNull, withFullDraft } from '../runView/live';
import { runAccess, runView } from '../runView/view';

/**
 * `GET /api/agent-runs/{id}/approval` with `Accept: text/html`: the page an approver opens from a link.
 *
 * Everything on it that came from a model or a person is escaped (escape-html) and placed as text;
 * citation links are written only for http(s) URLs. The Content-Security-Policy allows one script and
 * one style block, each carrying this answer's nonce, and nothing else: no other script, no plugin,
 * no frame, no image, no form target but this origin. The script is fixed text; it reads what it
 * needs from data- attributes and writes model text back only through textContent.
 */

export function registerApprovalPageFunction(config: AppConfig, blobs: BlobServiceClient): void {
  app.http(functionNames.approvalPage, {
    route: 'agent-runs/{id}/approval',
    methods: ['GET'],
    // A link a person opens in a browser, which can send no function key: App Service Authentication
    // signs the browser in and the page shows the run to its approvers only.
    authLevel: 'anonymous',
    extraInputs: [df.input.durableClient()],
    handler: withProblemAnswers(createApprovalPage(config, blobs)),
  });
}

export function createApprovalPage(config: AppConfig, blobs: BlobServiceClient) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const accept = request.headers.get('accept') ?? '';
    if (!/text\/html|\*\/\*/i.test(accept) || /application\/json/i.test(accept)) {
      return problem(
        406,
        'Not acceptable',
        'This URL is the approval page (Accept: text/html). Read the run as JSON at /api/agent-runs/{id} and decide with POST to this URL.',
      );
    }
    const who = resolveCaller(request, config.authMode);
    if (!who.ok) return who.response;
    const id = request.params.id ?? '';
    if (!isValidRunId(id)) return page(400, 'Invalid run id', `<p>${escapeHtml(runIdRule)}</p>`);
    const status = await getStatusOrNull(df.getClient(context), id);
    const notFound = () => page(404, 'Run not found', `<p>No run ${escapeHtml(id)} that you can see.</p>`);
    if (!status || status.name !== orchestratorNames.agentRun) return notFound();
    // The page is where a person decides: for those who may decide (admins read the run as JSON).
    if (!canApprove(who.caller, runAccess(status))) return notFound();
    // The status carries only a preview; the page shows the whole draft, read from its blob.
    const view = await withFullDraft(blobs, runView(request, status));
    return page(200, `Approve run ${id}`, renderApproval(view, view.approval), {
      runId: id,
      approvalUrl: view.links.approval,
      eventsUrl: `${view.links.run}/events`,
    });
  };
}

interface PageView {
  id: string;
  status: string;
  stage: string;
  answer?: string | null;
  citations?: Citation[];
  message?: string;
}

/** The body of the page; pure, so tests can feed it hostile text. */
/** The draft on offer, as the run view shows it (the whole text, read from its blob). */
export interface OfferedDraft {
  round: number;
  /** The draft's id, absent for drafts saved before drafts had ids. */
  draftId?: string | undefined;
  draft: string;
  citations: Citation[];
  deadline: string;
  escalated: boolean;
}

export function renderApproval(view: PageView, pending: OfferedDraft | undefined): string {
  const waiting = view.status === 'awaiting-approval' && pending !== undefined;
  const text = waiting ? pending.draft : (view.answer ?? '');
  const citations = waiting ? pending.citations : (view.citations ?? []);
  return [
    `<p class="local">Run <code>${escapeHtml(view.id)}</code></p>`,
    `<p>Status: <strong id="status">${escapeHtml(view.status)}</strong> <span id="stage">(${escapeHtml(view.stage)})</span></p>`,
    waiting
      ? `<p id="due">Decide by <time id="deadline" datetime="${escapeHtml(pending.deadline)}">${escapeHtml(pending.deadline)}</time>${pending.escalated ? ' (escalated)' : ''}, round <span id="round">${pending.round}</span>.</p>`
      : '',
    view.message ? `<p id="message">${escapeHtml(view.message)}</p>` : '<p id="message"></p>',
    `<h2>${waiting ? 'Draft' : 'Answer'}</h2>`,
    `<div id="draft" class="draft">${escapeHtml(text)}</div>`,
    `<h2>Sources</h2>`,
    `<ol id="citations">${citations.map(citationItem).join('')}</ol>`,
    // The decision names the draft shown above; a draft event that replaces the text replaces these too.
    `<form id="decide" method="post" data-round="${waiting ? pending.round : ''}" data-draft-id="${waiting ? escapeHtml(pending.draftId ?? '') : ''}"${waiting ? '' : ' hidden'}>`,
    `<label for="comment">Comment (with reject, asks for a revision)</label>`,
    `<textarea id="comment" name="comment" rows="4" maxlength="2000"></textarea>`,
    `<p><button type="submit" name="decision" value="approve">Approve</button> `,
    `<button type="submit" name="decision" value="reject">Reject</button></p>`,
    `</form>`,
    `<p id="outcome" role="status"></p>`,
  ].join('\n');
}

/** A numbered source: a link only when the URL is http(s); otherwise its text, unlinked. */
function citationItem(citation: Citation): string {
  const title = escapeHtml(citation.title || citation.url);
  const url = safeHttpUrl(citation.url);
  if (!url) return `<li>${title} <span class="unsafe">(link not shown: not an http(s) URL)</span></li>`;
  return `<li><a href="${escapeHtml(url)}" rel="noopener noreferrer nofollow" target="_blank">${title}</a></li>`;
}

export function safeHttpUrl(raw: string): string | undefined {
  try {
    const url = new URL(raw);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

const style = `body{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}
.draft{white-space:pre-wrap;border:1px solid #ccc;padding:1rem;background:#fafafa}
textarea{width:100%}button{font-size:1rem;margin-right:.5rem}.unsafe{color:#a00}`;

/**
 * Fixed text. Decides through the approval endpoint and follows the event stream; every value it
 * shows is set with textContent, so nothing it receives is ever parsed as HTML.
 */
const script = `(function () {
  var root = document.getElementById('page');
  var form = document.getElementById('decide');
  var outcome = document.getElementById('outcome');
  var set = function (id, text) { var el = document.getElementById(id); if (el) el.textContent = text; };
  var showCitations = function (list) {
    var ol = document.getElementById('citations');
    ol.textContent = '';
    (list || []).forEach(function (c) {
      var li = document.createElement('li');
      var ok = /^https?:\\/\\//i.test(String(c.url));
      if (ok) {
        var a = document.createElement('a');
        a.href = String(c.url); a.rel = 'noopener noreferrer nofollow'; a.target = '_blank';
        a.textContent = String(c.title || c.url);
        li.appendChild(a);
      } else {
        li.textContent = String(c.title || c.url) + ' (link not shown: not an http(s) URL)';
      }
      ol.appendChild(li);
    });
  };
  var decision = 'approve';
  form.querySelectorAll('button').forEach(function (b) {
    b.addEventListener('click', function () { decision = b.value; });
  });
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var comment = document.getElementById('comment').value.trim();
    var body = { decision: decision, round: Number(form.dataset.round) };
    if (form.dataset.draftId) body.draftId = form.dataset.draftId;
    if (comment) body.comment = comment;
    outcome.textContent = 'Sending...';
    // The Referer goes along to this origin only: App Service Authentication refuses a POST on its
    // session cookie from a browser without one (its protection against cross-site requests).
    fetch(root.dataset.approvalUrl, {
      method: 'POST', credentials: 'same-origin', referrerPolicy: 'same-origin',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (r) {
        if (r.ok && r.body.state === 'taken') {
          outcome.textContent = 'Recorded: ' + r.body.decision.decision + ' (round ' + r.body.decision.round + '). The run is now ' + r.body.run.status + '.';
        } else if (r.ok) {
          outcome.textContent = 'Sent: ' + r.body.decision.decision + ' (round ' + r.body.decision.round + '); the run has not taken it yet.';
        } else {
          outcome.textContent = 'Not recorded: ' + (r.body.detail || r.body.title);
        }
      })
      .catch(function (e) { outcome.textContent = 'Not recorded: ' + e; });
  });
  if (window.EventSource) {
    var events = new EventSource(root.dataset.eventsUrl, { withCredentials: true });
    events.addEventListener('stage', function (e) {
      var d = JSON.parse(e.data); set('status', d.status); set('stage', '(' + d.stage + ')');
      form.hidden = d.status !== 'awaiting-approval';
    });
    events.addEventListener('draft', function (e) {
      var d = JSON.parse(e.data); set('draft', d.draft); showCitations(d.citations);
      set('deadline', d.deadline); set('round', String(d.round));
      form.dataset.round = String(d.round); form.dataset.draftId = d.draftId || '';
      form.hidden = false;
    });
    // A revision shows as the model writes it; the draft event then gives the whole text and citations.
    var answerRound = -1;
    events.addEventListener('answer.reset', function (e) {
      answerRound = JSON.parse(e.data).round; set('draft', '');
    });
    events.addEventListener('answer.delta', function (e) {
      var d = JSON.parse(e.data); var el = document.getElementById('draft'); if (!el) return;
      if (d.round !== answerRound) { answerRound = d.round; el.textContent = ''; }
      el.textContent += String(d.text);
    });
    events.addEventListener('end', function (e) {
      var d = JSON.parse(e.data); set('status', d.status); set('stage', '(done)');
      if (d.answer) set('draft', d.answer);
      showCitations(d.citations); set('message', d.message || ''); form.hidden = true; events.close();
      var due = document.getElementById('due'); if (due) due.hidden = true;
    });
  }
})();`;

function page(
  status: number,
  title: string,
  body: string,
  data?: { runId: string; approvalUrl: string; eventsUrl: string },
): HttpResponseInit {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const attrs = data
    ? ` data-run-id="${escapeHtml(data.runId)}" data-approval-url="${escapeHtml(data.approvalUrl)}" data-events-url="${escapeHtml(data.eventsUrl)}"`
    : '';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)}</title>
<style nonce="${nonce}">${style}</style>
</head><body><main id="page"${attrs}>
<h1>${escapeHtml(title)}</h1>
${body}
</main>${data ? `<script nonce="${nonce}">${script}</script>` : ''}</body></html>`;
  return {
    status,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': csp,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    },
    body: html,
  };
}
