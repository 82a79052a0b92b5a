/**
 * The local dashboard at /_devhost/: instances (filters, paging), each instance's timeline, entity states,
 * and buttons that call the management API. Served only to loopback clients that name a loopback host
 * (so a DNS-rebinding page cannot read it), with a strict Content-Security-Policy; every value from an
 * instance or entity is escaped (escape-html) and placed as text.
 */
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import escapeHtml from 'escape-html';
import { type DurableEngine } from '../durable/engine';
import { statusBody } from '../durable/status';
import {
  type EntityRecord,
  type InstanceQuery,
  type OrchestrationRecord,
  type RuntimeStatus,
  terminalStatuses,
} from '../durable/store';
import { publicBasePath } from '../durable/urls';
import { send } from '../httpIo';
import { dashboardCss, dashboardJs } from './assets';
import { type TimelineItem, buildTimeline, formatDuration } from './timeline';

export const dashboardBasePath = '/_devhost';

const runtimeStatuses: RuntimeStatus[] = [
  'Pending',
  'Running',
  'Suspended',
  'Completed',
  'Failed',
  'Terminated',
  'Canceled',
  'ContinuedAsNew',
];

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.toLowerCase().startsWith('::ffff:') ? address.slice(7) : address;
  return plain === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(plain);
}

/** A Host header naming this machine's loopback: localhost, 127.x.x.x or [::1], any port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  let hostname: string;
  try {
    hostname = new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return false;
  }
  return (
    hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  );
}

export interface DashboardNames {
  orchestrations: string[];
  entities: string[];
}

class BadInput extends Error {
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(detail);
  }
}

const pageSizes = [10, 25, 50, 100];

export class Dashboard {
  constructor(
    private readonly engine: DurableEngine,
    private readonly hubName: string,
    private readonly names: () => DashboardNames,
  ) {}

  /** Handles a request under /_devhost. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!isLoopbackAddress(req.socket.remoteAddress) || !isLoopbackHost(req.headers.host)) {
      return send(
        res,
        403,
        'The devhost dashboard answers only loopback clients that ask for a loopback host (127.0.0.1, localhost, [::1]).',
      );
    }
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD')
      return send(res, 405, 'The dashboard only reads; its buttons call the management API.', {
        allow: 'GET, HEAD',
      });
    const path = url.pathname.slice(dashboardBasePath.length);
    const html = !path.startsWith('/api/');
    try {
      await this.#route(res, path, url);
    } catch (error) {
      if (!(error instanceof BadInput)) throw error;
      const problem = {
        type: 'about:blank',
        title: 'Bad request',
        status: 400,
        detail: error.message,
        field: error.field,
      };
      const wantsHtml = html && /text\/html/i.test(req.headers.accept ?? '');
      if (wantsHtml) {
        return this.#page(
          res,
          400,
          'Bad request',
          `<div class="error">${escapeHtml(`${error.field}: ${error.message}`)}</div>`,
          'instances',
        );
      }
      send(res, 400, problem, { 'content-type': 'application/problem+json', 'cache-control': 'no-store' });
    }
  }

  async #route(res: ServerResponse, path: string, url: URL): Promise<void> {
    if (path === '') return send(res, 308, undefined, { location: `${dashboardBasePath}/` });
    if (path === '/app.js') return asset(res, dashboardJs, 'text/javascript; charset=utf-8');
    if (path === '/app.css') return asset(res, dashboardCss, 'text/css; charset=utf-8');
    if (path === '/') return this.#instancesPage(res, url);
    if (path === '/entities') return this.#entitiesPage(res, url);
    if (path === '/entity') return this.#entityPage(res, url);
    const instance = /^\/instances\/([^/]+)$/.exec(path);
    if (instance) return this.#instancePage(res, decode(instance[1] ?? ''));
    if (path === '/api/instances') {
      const query = parseInstanceQuery(url);
      const page = await this.engine.store.queryInstances(query);
      return json(res, 200, {
        items: page.items.map((i) => statusBody(i, false)),
        continuationToken: page.continuationToken ?? null,
      });
    }
    const apiInstance = /^\/api\/instances\/([^/]+)$/.exec(path);
    if (apiInstance) {
      const id = decode(apiInstance[1] ?? '');
      const record = await this.engine.store.getInstance(id);
      if (!record) {
        return send(
          res,
          404,
          {
            type: 'about:blank',
            title: 'Not found',
            status: 404,
            detail: `No instance '${id}'.`,
            field: 'instanceId',
          },
          { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
        );
      }
      const history = await this.engine.store.getHistory(id);
      return json(res, 200, {
        instance: statusBody(record, true),
        historyLength: history.length,
        timeline: buildTimeline(history),
      });
    }
    send(res, 404, 'No such dashboard page.');
  }

  async #instancesPage(res: ServerResponse, url: URL): Promise<void> {
    const query = parseInstanceQuery(url);
    const page = await this.engine.store.queryInstances(query);
    const names = this.names();
    const selected = new Set(query.runtimeStatus ?? []);
    const purged = url.searchParams.get('purged');
    const filters = [
      `<form class="filters card" method="get" action="${dashboardBasePath}/">`,
      `<fieldset class="statuses"><legend>Status</legend>`,
      ...runtimeStatuses.map(
        (s) =>
          `<label><input type="checkbox" name="status" value="${s}"${selected.has(s) ? ' checked' : ''}> ${s}</label>`,
      ),
      `</fieldset>`,
      `<label class="field"><span>Orchestration</span><select name="name"><option value="">(any)</option>`,
      ...names.orchestrations.map(
        (n) =>
          `<option value="${escapeHtml(n)}"${query.name === n ? ' selected' : ''}>${escapeHtml(n)}</option>`,
      ),
      `</select></label>`,
      `<label class="field"><span>Instance id starts with</span><input type="text" name="prefix" value="${escapeHtml(query.instanceIdPrefix ?? '')}"></label>`,
      `<label class="field"><span>Created from (UTC)</span><input type="datetime-local" step="1" name="createdFrom" value="${localValue(query.createdTimeFrom)}"></label>`,
      `<label class="field"><span>Created to (UTC)</span><input type="datetime-local" step="1" name="createdTo" value="${localValue(query.createdTimeTo)}"></label>`,
      `<label class="field"><span>Per page</span><select name="top">`,
      ...pageSizes.map((n) => `<option${query.pageSize === n ? ' selected' : ''}>${n}</option>`),
      `</select></label>`,
      `<button type="submit" class="primary">Filter</button> <a href="${dashboardBasePath}/">Clear</a>`,
      `</form>`,
    ].join('\n');
    const rows = page.items.map(
      (i) => `<tr>
<td><a class="mono" href="${instanceHref(i.instanceId)}">${escapeHtml(i.instanceId)}</a></td>
<td>${escapeHtml(i.name)}</td>
<td>${statusBadge(i.runtimeStatus)}</td>
<td class="preview mono" title="${escapeHtml(preview(i.customStatus, 2000))}">${escapeHtml(preview(i.customStatus, 160))}</td>
<td class="nowrap small">${time(i.createdTime)}</td>
<td class="nowrap small">${time(i.lastUpdatedTime)}</td>
</tr>`,
    );
    const next = new URL(url.href);
    next.searchParams.delete('purged');
    if (page.continuationToken) next.searchParams.set('continuation', page.continuationToken);
    const first = new URL(next.href);
    first.searchParams.delete('continuation');
    const body = [
      `<h1>Orchestration instances</h1>`,
      purged
        ? `<div class="notice" id="notice">Purged instance <code>${escapeHtml(purged)}</code>.</div>`
        : '',
      filters,
      `<div class="table"><table id="instances"><thead><tr><th>Instance id</th><th>Name</th><th>Status</th><th>Custom status</th><th>Created</th><th>Last updated</th></tr></thead><tbody>`,
      rows.length > 0 ? rows.join('\n') : `<tr><td colspan="6" class="empty">No instances match.</td></tr>`,
      `</tbody></table></div>`,
      `<div class="pager"><span class="muted">${page.items.length} shown, newest first</span>`,
      query.continuationToken
        ? `<a id="first-page" href="${escapeHtml(first.pathname + first.search)}">First page</a>`
        : '',
      page.continuationToken
        ? `<a id="next-page" href="${escapeHtml(next.pathname + next.search)}">Next page &rarr;</a>`
        : '',
      `<a href="${escapeHtml(url.pathname + url.search)}">Refresh</a></div>`,
    ].join('\n');
    this.#page(res, 200, 'Instances', body, 'instances');
  }

  async #instancePage(res: ServerResponse, id: string): Promise<void> {
    const instance = await this.engine.store.getInstance(id);
    if (!instance) {
      return this.#page(
        res,
        404,
        'Instance not found',
        `<div class="error">No instance <code>${escapeHtml(id)}</code> (purged, or never started).</div><p><a href="${dashboardBasePath}/">All instances</a></p>`,
        'instances',
      );
    }
    const history = await this.engine.store.getHistory(id);
    const timeline = buildTimeline(history);
    const terminal = terminalStatuses.has(instance.runtimeStatus);
    const statusUrl = `${publicBasePath}/instances/${encodeURIComponent(id)}?showHistory=true&showHistoryOutput=true`;
    const facts = [
      ['Name', escapeHtml(instance.name)],
      ['Status', `<span id="runtime-status">${statusBadge(instance.runtimeStatus)}</span>`],
      ['Created', time(instance.createdTime)],
      ['Last updated', time(instance.lastUpdatedTime)],
      ['Execution id', `<code>${escapeHtml(instance.executionId)}</code>`],
      ...(instance.version ? [['Version', escapeHtml(instance.version)]] : []),
      ...(instance.parent
        ? [
            [
              'Parent',
              `<a class="mono" href="${instanceHref(instance.parent.instanceId)}">${escapeHtml(instance.parent.instanceId)}</a>`,
            ],
          ]
        : []),
      ['Raw status', `<a href="${escapeHtml(statusUrl)}">management API JSON</a>`],
    ]
      .map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`)
      .join('');
    const body = [
      `<div id="instance" data-instance-id="${escapeHtml(id)}" data-api-base="${publicBasePath}" data-home="${dashboardBasePath}/" data-watch-url="${dashboardBasePath}/api/instances/${escapeHtml(encodeURIComponent(id))}" data-status="${escapeHtml(instance.runtimeStatus)}" data-history-length="${history.length}">`,
      `<p class="small"><a href="${dashboardBasePath}/">&larr; All instances</a></p>`,
      `<h1>Instance <code id="instance-id">${escapeHtml(id)}</code></h1>`,
      `<div class="card"><dl class="facts">${facts}</dl></div>`,
      `<h2>Operations</h2>`,
      `<div class="card">${actions(instance, terminal)}<p id="outcome" class="outcome" role="status"></p></div>`,
      `<div class="grid">`,
      valueCard('Custom status', 'custom-status', instance.customStatus),
      valueCard('Input', 'input', instance.input),
      valueCard('Output', 'output', instance.output),
      `</div>`,
      `<h2>Timeline</h2>`,
      renderTimeline(timeline, instance, terminal),
      `</div>`,
    ].join('\n');
    this.#page(res, 200, `Instance ${id}`, body, 'instances', true);
  }

  async #entitiesPage(res: ServerResponse, url: URL): Promise<void> {
    const name = url.searchParams.get('name') ?? '';
    const top = parseTop(url);
    const token = parseToken(url);
    const page = await this.engine.store.listEntities({
      ...(name ? { entityName: name } : {}),
      pageSize: top,
      ...(token ? { continuationToken: token } : {}),
    });
    const names = this.names();
    const rows = page.items.map(
      (e) => `<tr>
<td>${escapeHtml(e.name)}</td>
<td><a class="mono" href="${entityHref(e)}">${escapeHtml(e.key)}</a></td>
<td class="preview mono" title="${escapeHtml(preview(e.state, 2000))}">${escapeHtml(preview(e.state, 200))}</td>
<td class="nowrap small">${time(e.lastOperationTime)}</td>
</tr>`,
    );
    const next = new URL(url.href);
    if (page.continuationToken) next.searchParams.set('continuation', page.continuationToken);
    const body = [
      `<h1>Entities</h1>`,
      `<form class="filters card" method="get" action="${dashboardBasePath}/entities">`,
      `<label class="field"><span>Entity name</span><select name="name"><option value="">(any)</option>`,
      ...names.entities.map(
        (n) =>
          `<option value="${escapeHtml(n)}"${name.toLowerCase() === n.toLowerCase() ? ' selected' : ''}>${escapeHtml(n)}</option>`,
      ),
      `</select></label>`,
      `<label class="field"><span>Per page</span><select name="top">`,
      ...pageSizes.map((n) => `<option${top === n ? ' selected' : ''}>${n}</option>`),
      `</select></label>`,
      `<button type="submit" class="primary">Filter</button></form>`,
      `<div class="table"><table id="entities"><thead><tr><th>Name</th><th>Key</th><th>State</th><th>Last operation</th></tr></thead><tbody>`,
      rows.length > 0
        ? rows.join('\n')
        : `<tr><td colspan="4" class="empty">No entities with state.</td></tr>`,
      `</tbody></table></div>`,
      `<div class="pager"><span class="muted">${page.items.length} shown</span>`,
      page.continuationToken
        ? `<a id="next-page" href="${escapeHtml(next.pathname + next.search)}">Next page &rarr;</a>`
        : '',
      `</div>`,
    ].join('\n');
    this.#page(res, 200, 'Entities', body, 'entities');
  }

  async #entityPage(res: ServerResponse, url: URL): Promise<void> {
    const id = url.searchParams.get('id') ?? '';
    const entity = /^@[^@]*@/.test(id) ? await this.engine.store.getEntity(id) : undefined;
    if (!entity || !entity.exists) {
      return this.#page(
        res,
        404,
        'Entity not found',
        `<div class="error">No entity <code>${escapeHtml(id)}</code> with state.</div><p><a href="${dashboardBasePath}/entities">All entities</a></p>`,
        'entities',
      );
    }
    const body = [
      `<p class="small"><a href="${dashboardBasePath}/entities">&larr; All entities</a></p>`,
      `<h1>Entity <code>${escapeHtml(entity.name)}</code> / <code id="entity-key">${escapeHtml(entity.key)}</code></h1>`,
      `<div class="card"><dl class="facts"><dt>Entity id</dt><dd><code>${escapeHtml(entity.entityId)}</code></dd><dt>Last operation</dt><dd>${time(entity.lastOperationTime)}</dd></dl></div>`,
      valueCard('State', 'entity-state', entity.state),
    ].join('\n');
    this.#page(res, 200, `Entity ${entity.name}/${entity.key}`, body, 'entities');
  }

  #page(
    res: ServerResponse,
    status: number,
    title: string,
    body: string,
    section: 'instances' | 'entities',
    script = false,
  ): void {
    const nonce = randomBytes(16).toString('base64');
    const csp = [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      "style-src 'self'",
      "connect-src 'self'",
      "form-action 'self'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
    ].join('; ');
    const nav = (key: string, href: string, label: string) =>
      `<a href="${href}"${section === key ? ' class="here"' : ''}>${label}</a>`;
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(title)} · devhost</title>
<link rel="stylesheet" href="${dashboardBasePath}/app.css">
</head><body>
<div class="banner" id="local-banner" role="note">Local development host — not Azure. <span>This dashboard is the devhost's own, served only on this machine's loopback; nothing here is in Azure.</span></div>
<header class="top"><span class="brand">devhost</span><nav>${nav('instances', `${dashboardBasePath}/`, 'Instances')}${nav('entities', `${dashboardBasePath}/entities`, 'Entities')}</nav><span class="hub">task hub <code>${escapeHtml(this.hubName)}</code></span></header>
<main>
${body}
</main>${script ? `<script nonce="${nonce}" src="${dashboardBasePath}/app.js"></script>` : ''}</body></html>`;
    send(res, status, Buffer.from(html), {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': csp,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    });
  }
}

/** The instance filters of the page and of /_devhost/api/instances; bad values name their field. */
export function parseInstanceQuery(url: URL): InstanceQuery {
  const statuses = url.searchParams
    .getAll('status')
    .flatMap((s) => s.split(','))
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of statuses) {
    if (!runtimeStatuses.includes(s as RuntimeStatus)) {
      throw new BadInput('status', `'${s}' is not a runtime status; use ${runtimeStatuses.join(', ')}.`);
    }
  }
  const name = url.searchParams.get('name') ?? '';
  const prefix = url.searchParams.get('prefix') ?? '';
  const from = parseTime(url, 'createdFrom');
  const to = parseTime(url, 'createdTo');
  const token = parseToken(url);
  return {
    newestFirst: true,
    pageSize: parseTop(url),
    ...(statuses.length > 0 ? { runtimeStatus: statuses as RuntimeStatus[] } : {}),
    ...(name !== '' ? { name } : {}),
    ...(prefix !== '' ? { instanceIdPrefix: prefix } : {}),
    ...(from ? { createdTimeFrom: from } : {}),
    ...(to ? { createdTimeTo: to } : {}),
    ...(token ? { continuationToken: token } : {}),
  };
}

function parseTop(url: URL): number {
  const raw = url.searchParams.get('top');
  if (raw === null || raw === '') return 25;
  const top = Number(raw);
  if (!Number.isInteger(top) || top < 1 || top > 500)
    throw new BadInput('top', 'must be a whole number from 1 to 500.');
  return top;
}

function parseToken(url: URL): string | undefined {
  const token = url.searchParams.get('continuation') ?? '';
  if (token === '') return undefined;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(token))
    throw new BadInput('continuation', 'is not a continuation token this host gave.');
  return token;
}

/** ISO times, or a datetime-local value (no zone), read as UTC. */
function parseTime(url: URL, field: string): Date | undefined {
  const raw = (url.searchParams.get(field) ?? '').trim();
  if (raw === '') return undefined;
  const text = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(raw) ? `${raw}Z` : raw;
  const date = new Date(text);
  if (Number.isNaN(date.getTime()))
    throw new BadInput(field, `'${raw}' is not a time (use ISO 8601, e.g. 2030-01-31T12:00:00Z).`);
  return date;
}

function localValue(date: Date | undefined): string {
  return date ? date.toISOString().slice(0, 19) : '';
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function asset(res: ServerResponse, text: string, type: string): void {
  send(res, 200, Buffer.from(text), {
    'content-type': type,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, body, { 'cache-control': 'no-store' });
}

function instanceHref(id: string): string {
  return escapeHtml(`${dashboardBasePath}/instances/${encodeURIComponent(id)}`);
}

function entityHref(entity: EntityRecord): string {
  return escapeHtml(`${dashboardBasePath}/entity?id=${encodeURIComponent(entity.entityId)}`);
}

function statusBadge(status: string): string {
  return `<span class="badge s-${escapeHtml(status)}">${escapeHtml(status)}</span>`;
}

function time(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return escapeHtml(iso);
  const shown = date.toISOString().replace('T', ' ').replace('Z', ' UTC');
  return `<time datetime="${escapeHtml(date.toISOString())}">${escapeHtml(shown)}</time>`;
}

const valueLimit = 100_000;

/** JSON text shown readably: a JSON string as its text, anything else pretty-printed; long values cut. */
function readable(text: string | null | undefined): string {
  if (text === null || text === undefined) return '';
  let shown: string;
  try {
    const value = JSON.parse(text) as unknown;
    shown = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  } catch {
    shown = text;
  }
  return shown.length > valueLimit
    ? `${shown.slice(0, valueLimit)}\n... (${shown.length - valueLimit} more characters; see the management API JSON)`
    : shown;
}

function preview(text: string | null | undefined, length: number): string {
  if (text === null || text === undefined) return '';
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > length ? `${flat.slice(0, length)}…` : flat;
}

function valueCard(title: string, id: string, text: string | null): string {
  const content =
    text === null
      ? `<p class="muted" id="${id}">(none)</p>`
      : `<pre class="value" id="${id}">${escapeHtml(readable(text))}</pre>`;
  return `<div class="card"><h2>${escapeHtml(title)}</h2>${content}</div>`;
}

function actions(instance: OrchestrationRecord, terminal: boolean): string {
  if (terminal) {
    return `<div class="actions"><form data-action="purge" data-label="Purge">
<h3>Purge</h3><p class="small muted">Deletes the instance and its history from the local store.</p>
<p><button type="submit" class="danger" id="purge">Purge</button></p></form></div>`;
  }
  const suspended = instance.runtimeStatus === 'Suspended';
  return `<div class="actions">
<form data-action="raiseEvent" data-label="Raise event"><h3>Raise event</h3>
<label class="field"><span>Event name</span><input type="text" name="eventName" id="event-name" required></label>
<label class="field"><span>Payload (JSON)</span><textarea name="payload" id="event-payload" rows="3" placeholder="null"></textarea></label>
<p><button type="submit" class="primary" id="raise">Raise event</button></p></form>
<form data-action="terminate" data-label="Terminate"><h3>Terminate</h3>
<label class="field"><span>Reason</span><input type="text" name="reason" id="terminate-reason"></label>
<p><button type="submit" class="danger" id="terminate">Terminate</button></p></form>
${
  suspended
    ? `<form data-action="resume" data-label="Resume"><h3>Resume</h3>
<label class="field"><span>Reason</span><input type="text" name="reason" id="resume-reason"></label>
<p><button type="submit" id="resume">Resume</button></p></form>`
    : `<form data-action="suspend" data-label="Suspend"><h3>Suspend</h3>
<label class="field"><span>Reason</span><input type="text" name="reason" id="suspend-reason"></label>
<p><button type="submit" id="suspend">Suspend</button></p></form>`
}
</div>`;
}

const kindLabels: Record<TimelineItem['kind'], string> = {
  started: 'started',
  activity: 'activity',
  'sub-orchestration': 'sub-orchestration',
  timer: 'timer',
  'event-raised': 'event raised',
  'event-sent': 'event sent',
  suspended: 'suspended',
  resumed: 'resumed',
  terminated: 'terminated',
  'continued-as-new': 'continued as new',
  completed: 'completed',
  failed: 'failed',
};

const timelineRowLimit = 2000;

function renderTimeline(items: TimelineItem[], instance: OrchestrationRecord, terminal: boolean): string {
  if (items.length === 0) return `<div class="card empty">No history yet.</div>`;
  const all = items.length;
  // A page stays usable for long histories: the first rows here, every row in the JSON.
  if (all > timelineRowLimit) items = items.slice(0, timelineRowLimit);
  const origin = Date.parse(items[0]?.start ?? instance.createdTime);
  // Items still open run until now, or until the instance ended without answering them.
  const openUntil = terminal ? Date.parse(instance.lastUpdatedTime) : Date.now();
  const endOf = (item: TimelineItem) =>
    item.end
      ? Date.parse(item.end)
      : item.outcome === 'pending'
        ? Math.max(openUntil, Date.parse(item.start))
        : Date.parse(item.start);
  const span = Math.max(1, ...items.map((i) => endOf(i) - origin));
  const rows = items.map((item) => {
    const start = Date.parse(item.start) - origin;
    const end = endOf(item) - origin;
    const x = Math.round((start / span) * 1000);
    const width = Math.max(4, Math.round(((end - start) / span) * 1000));
    const duration =
      item.durationMs !== undefined
        ? formatDuration(item.durationMs)
        : item.outcome === 'pending'
          ? `${terminal ? 'never answered' : 'waiting'} (${formatDuration(end - start)})`
          : '';
    const details: string[] = [];
    if (item.instanceId) {
      const child = item.kind === 'sub-orchestration' || item.kind === 'started';
      details.push(
        child
          ? `<div class="small">${item.kind === 'started' ? 'parent' : 'instance'} <a class="mono" href="${instanceHref(item.instanceId)}">${escapeHtml(item.instanceId)}</a></div>`
          : `<div class="small">to <code>${escapeHtml(item.instanceId)}</code></div>`,
      );
    }
    if (item.fireAt) details.push(`<div class="small">due ${time(item.fireAt)}</div>`);
    const block = (label: string, text: string | null | undefined) =>
      text === undefined || text === null || text === ''
        ? ''
        : `<details><summary>${label}</summary><pre class="value">${escapeHtml(readable(text))}</pre></details>`;
    details.push(block('input', item.input));
    details.push(block(item.kind === 'continued-as-new' ? 'new input' : 'result', item.result));
    if (item.reason)
      details.push(`<div class="small">reason: ${escapeHtml(preview(item.reason, 400))}</div>`);
    details.push(block('details', item.details));
    return `<tr class="k-${item.kind} o-${item.outcome}">
<td class="nowrap small mono">+${escapeHtml(formatDuration(start))}</td>
<td class="kind">${kindLabels[item.kind]}</td>
<td>${escapeHtml(item.name)}${item.taskId !== undefined ? ` <span class="muted small">#${item.taskId}</span>` : ''}</td>
<td><span class="badge o-${item.outcome}">${item.outcome}</span></td>
<td class="nowrap">${escapeHtml(duration)}</td>
<td class="bar"><svg class="bar" viewBox="0 0 1000 14" preserveAspectRatio="none" aria-hidden="true"><rect x="${Math.min(x, 996)}" y="0" width="${width}" height="14" rx="2"></rect></svg></td>
<td>${details.join('')}</td>
</tr>`;
  });
  return `<div class="table"><table id="timeline"><thead><tr><th>At</th><th>Kind</th><th>Name</th><th>Outcome</th><th>Duration</th><th>Span</th><th>Details</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table></div>${
    all > items.length
      ? `<p class="muted" id="timeline-cut">The first ${items.length} of ${all} steps; all of them are in <a href="${dashboardBasePath}/api/instances/${escapeHtml(encodeURIComponent(instance.instanceId))}">the JSON</a>.</p>`
      : ''
  }`;
}
