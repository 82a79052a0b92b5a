import type { HttpHandler, HttpRequest, HttpResponseInit } from '@azure/functions';
import { problem } from './http';

/**
 * Every route that changes state goes through `sameSiteOnly`: a browser may send such a request only
 * from the product's own pages, never from another site (cross-site request forgery). A page on
 * another origin can make a signed-in browser POST a plain HTML form (or a `no-cors` fetch) to any URL,
 * with the user's cookies; it cannot read the answer, but the request would still act.
 *
 * Refused with 403, before anything is read or looked up:
 * - `Sec-Fetch-Site` other than `same-origin` (or `none`, a request the user made by hand). A sibling
 *   subdomain is `same-site`, and refused too: the product's own pages are always same-origin.
 * - an `Origin` other than the request's own (`null` included: sandboxed frames, opaque redirects).
 *   Browsers send it on every cross-origin POST, PUT and DELETE, forms included.
 * - on routes that read no body (cancel, terminate, suspend, resume, purge): a body type a plain form
 *   can send (`text/plain`, `application/x-www-form-urlencoded`, `multipart/form-data`), with or without
 *   a body, since a browser without the two headers above would still send that. Routes that read a
 *   JSON body refuse those types with 415 (readJsonBody), and JSON itself is never a form's.
 *
 * Scripted clients (curl, the CLI, Durable's clients) send neither `Origin` nor `Sec-Fetch-*`, and
 * their bodies are JSON or absent, so nothing changes for them.
 */

/** What a state-changing route reads: a JSON body, or nothing. */
export type StateChangeBody = 'json' | 'none';

/** The media types an HTML form can send without script (its `enctype` values). */
const formMediaTypes = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

/** The 403 for a request a browser sent from another site, or undefined when it may go on. */
export function crossSiteProblem(request: HttpRequest, body: StateChangeBody): HttpResponseInit | undefined {
  const refuse = (why: string, detail: string) =>
    problem(
      403,
      'Cross-site request refused',
      `${detail} A request that changes a run or a quota is taken only from this app's own pages or from a script (curl, the CLI, a Durable client), never from another site's page.`,
      { refusedBecause: why },
    );
  const fetchSite = request.headers.get('sec-fetch-site')?.trim().toLowerCase();
  if (fetchSite !== undefined && fetchSite !== '' && fetchSite !== 'same-origin' && fetchSite !== 'none') {
    return refuse(
      'sec-fetch-site',
      `The browser says this request came from another ${fetchSite === 'same-site' ? 'origin of the same site' : 'site'} (Sec-Fetch-Site: ${truncate(fetchSite, 20)}).`,
    );
  }
  const origin = request.headers.get('origin');
  if (origin !== null) {
    const own = new URL(request.url).host;
    if (originHost(origin) !== own) {
      return refuse(
        'origin',
        `The request comes from ${truncate(origin, 100)}, not from this app's origin (${own}).`,
      );
    }
  }
  if (body === 'none') {
    const mediaType = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
    if (mediaType !== undefined && formMediaTypes.has(mediaType)) {
      return refuse(
        'form-body',
        `This route reads no body, and ${mediaType} is what an HTML form sends; send no body (or JSON).`,
      );
    }
  }
  return undefined;
}

/** Wraps a state-changing handler so that cross-site browser requests are refused before it runs. */
export function sameSiteOnly(handler: HttpHandler, body: StateChangeBody): HttpHandler {
  return async (request, context) => crossSiteProblem(request, body) ?? handler(request, context);
}

/** `host[:port]` of an Origin header, or undefined when it is `null` or not an origin. */
function originHost(origin: string): string | undefined {
  try {
    const url = new URL(origin.trim());
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.host : undefined;
  } catch {
    return undefined;
  }
}

function truncate(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max)}...` : value;
}
