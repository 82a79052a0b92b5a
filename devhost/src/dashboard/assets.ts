/**
 * The dashboard's stylesheet and script, served as /_devhost/app.css and /_devhost/app.js. Both are fixed
 * text: nothing from an instance ever goes into them. The script reads what it needs from data-
 * attributes, calls the management API, and writes what it receives only through textContent.
 */

export const dashboardCss = `
:root{--fg:#1d2430;--muted:#5b6575;--line:#dde2ea;--bg:#f5f7fa;--card:#fff;--accent:#2557d6;
--ok:#1f7a3f;--bad:#b42318;--warn:#8a5a00;--run:#2557d6;--idle:#6b7280}
*{box-sizing:border-box}
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
.banner{background:#fff4d6;color:#5c3d00;border-bottom:1px solid #f0d48a;padding:.45rem 1.25rem;font-weight:600}
.banner span{font-weight:400;color:#7a5a1a}
header.top{display:flex;align-items:center;gap:1.5rem;padding:.7rem 1.25rem;background:#1d2430;color:#fff}
header.top .brand{font-weight:700;letter-spacing:.02em}
header.top nav a{color:#cdd6e4;margin-right:1rem}header.top nav a.here{color:#fff;font-weight:600}
header.top .hub{margin-left:auto;color:#9aa6b8;font-size:13px}
main{max-width:82rem;margin:0 auto;padding:1.25rem}
h1{font-size:1.35rem;margin:.2rem 0 1rem}h2{font-size:1.05rem;margin:1.5rem 0 .6rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem 1.1rem;margin-bottom:1rem}
table{width:100%;border-collapse:collapse;background:var(--card)}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);background:#fafbfc}
tr:last-child td{border-bottom:0}
.table{border:1px solid var(--line);border-radius:8px;overflow:hidden}
.muted{color:var(--muted)}.small{font-size:12px}
.nowrap{white-space:nowrap}
.preview{max-width:28rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:12px;font-weight:600;
border:1px solid currentColor;white-space:nowrap}
.s-Completed,.badge.o-completed{color:var(--ok)}.s-Failed,.s-Terminated,.s-Canceled,.badge.o-failed{color:var(--bad)}
.s-Running,.badge.o-pending{color:var(--run)}.s-Pending{color:var(--idle)}.s-Suspended{color:var(--warn)}
.s-ContinuedAsNew{color:var(--idle)}.badge.o-done{color:var(--muted)}
.card>h2:first-child{margin-top:0}.actions p{margin:.2rem 0 0}
form.filters{display:flex;flex-wrap:wrap;gap:.8rem 1.2rem;align-items:flex-end}
form.filters fieldset{border:0;margin:0;padding:0}
form.filters legend,label.field>span{display:block;font-size:12px;color:var(--muted);margin-bottom:.15rem}
form.filters .statuses label{margin-right:.6rem;white-space:nowrap}
input[type=text],input[type=datetime-local],select,textarea{font:inherit;padding:.3rem .45rem;border:1px solid #c5ccd8;border-radius:5px;background:#fff}
textarea{width:100%;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
button{font:inherit;padding:.35rem .9rem;border-radius:5px;border:1px solid #b8c1cf;background:#fff;cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button.danger{border-color:var(--bad);color:var(--bad)}
button:disabled{opacity:.5;cursor:default}
.pager{display:flex;gap:1rem;align-items:center;margin:.75rem 0}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1.2rem;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem}
pre.value{margin:0;padding:.6rem .7rem;background:#f7f8fa;border:1px solid var(--line);border-radius:6px;
white-space:pre-wrap;word-break:break-word;max-height:24rem;overflow:auto}
.actions{display:grid;grid-template-columns:repeat(auto-fit,minmax(16rem,1fr));gap:1rem}
.actions form{display:flex;flex-direction:column;gap:.4rem}
.actions input[type=text]{width:100%}
.actions h3{font-size:13px;margin:0;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.outcome{min-height:1.4em;margin:.6rem 0 0;font-weight:600;color:var(--ok)}.outcome.bad{color:var(--bad)}
.notice{background:#e9f6ee;border:1px solid #b9e0c6;color:#17532d;border-radius:6px;padding:.5rem .8rem;margin-bottom:1rem}
.error{background:#fdecea;border:1px solid #f3c2bd;color:#7a1c12;border-radius:6px;padding:.5rem .8rem;margin-bottom:1rem}
td.bar{width:22%;min-width:9rem}
svg.bar{display:block;width:100%;height:14px;background:#eef1f5;border-radius:3px}
svg.bar rect{fill:currentColor}
tr.k-activity svg.bar,tr.k-sub-orchestration svg.bar,tr.k-timer svg.bar{color:var(--accent)}
tr.o-failed svg.bar{color:var(--bad)}tr.o-pending svg.bar{color:#9db4ec}
.kind{font-size:12px;font-weight:600;color:var(--muted);white-space:nowrap}
details summary{cursor:pointer;color:var(--accent);font-size:12px}
details pre.value{margin-top:.3rem;max-height:16rem}
.empty{padding:1.5rem;text-align:center;color:var(--muted)}
`;

export const dashboardJs = `(function () {
  'use strict';
  var root = document.querySelector('[data-instance-id]');
  if (!root) return;
  var outcome = document.getElementById('outcome');
  var say = function (text, bad) {
    outcome.textContent = text;
    outcome.className = bad ? 'outcome bad' : 'outcome';
  };
  var id = root.getAttribute('data-instance-id');
  var base = root.getAttribute('data-api-base') + '/instances/' + encodeURIComponent(id);
  var watch = root.getAttribute('data-watch-url');
  var before = root.getAttribute('data-status') + '/' + root.getAttribute('data-history-length');
  var busy = false;

  // After an operation: wait (up to 10 s) until the instance shows its effect, then show the page again.
  var reloadWhenChanged = function (startedAt) {
    fetch(watch, { headers: { accept: 'application/json' } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (j) {
        var now = j ? j.instance.runtimeStatus + '/' + j.historyLength : before;
        if (now !== before || Date.now() - startedAt > 10000) location.reload();
        else setTimeout(function () { reloadWhenChanged(startedAt); }, 150);
      })
      .catch(function () { location.reload(); });
  };

  document.querySelectorAll('form[data-action]').forEach(function (form) {
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy) return;
      var action = form.getAttribute('data-action');
      var value = function (name) {
        var el = form.querySelector('[name="' + name + '"]');
        return el ? el.value : '';
      };
      var request;
      if (action === 'raiseEvent') {
        var name = value('eventName').trim();
        if (name === '') return say('Raise event: give the event a name.', true);
        var payload = value('payload').trim() || 'null';
        try { JSON.parse(payload); } catch (e) { return say('Raise event: the payload is not JSON (' + e.message + ').', true); }
        request = { method: 'POST', url: base + '/raiseEvent/' + encodeURIComponent(name), body: payload };
      } else if (action === 'purge') {
        request = { method: 'DELETE', url: base };
      } else {
        request = { method: 'POST', url: base + '/' + action + '?reason=' + encodeURIComponent(value('reason')) };
      }
      var label = form.getAttribute('data-label');
      busy = true;
      say(label + ': sending...');
      fetch(request.url, {
        method: request.method,
        headers: request.body === undefined ? {} : { 'content-type': 'application/json' },
        body: request.body
      }).then(function (r) {
        return r.text().then(function (text) {
          if (!r.ok) {
            busy = false;
            return say(label + ' refused: HTTP ' + r.status + (text ? ' ' + text.slice(0, 300) : ''), true);
          }
          say(label + ': HTTP ' + r.status + ', accepted.');
          if (action === 'purge') location.assign(root.getAttribute('data-home') + '?purged=' + encodeURIComponent(id));
          else reloadWhenChanged(Date.now());
        });
      }).catch(function (e) {
        busy = false;
        say(label + ' failed: ' + e, true);
      });
    });
  });
})();
`;
