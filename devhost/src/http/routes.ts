/**
 * Route templates as the Functions host reads them (ASP.NET style): literal segments, `{name}`,
 * `{name?}`, `{name=default}`, `{name:constraint}` and a final catch-all `{*rest}`. Literals match
 * case-insensitively, and more specific templates win over less specific ones.
 */

type Segment =
  | { kind: 'literal'; text: string }
  | {
      kind: 'param';
      name: string;
      optional: boolean;
      catchAll: boolean;
      defaultValue?: string;
      constraints: string[];
    };

export interface RouteTemplate {
  template: string;
  segments: Segment[];
}

export function parseRouteTemplate(template: string): RouteTemplate {
  const trimmed = template.replace(/^\/+|\/+$/g, '');
  const segments: Segment[] =
    trimmed === '' ? [] : trimmed.split('/').map((part) => parseSegment(part, template));
  segments.forEach((segment, index) => {
    if (segment.kind === 'param' && segment.catchAll && index !== segments.length - 1) {
      throw new Error(
        `Route "${template}": a catch-all parameter {*${segment.name}} must be the last segment.`,
      );
    }
  });
  return { template: trimmed, segments };
}

function parseSegment(part: string, template: string): Segment {
  const match = /^\{(\*{1,2})?([A-Za-z_][\w]*)((?::[^}?=]+(?:\([^)]*\))?)*)(\?)?(?:=([^}]*))?\}$/.exec(part);
  if (!match) {
    if (part.includes('{') || part.includes('}')) {
      throw new Error(`Route "${template}": segment "${part}" is not a supported template segment.`);
    }
    return { kind: 'literal', text: part };
  }
  const [, star, name = '', constraintText = '', question, defaultValue] = match;
  return {
    kind: 'param',
    name,
    optional: question === '?' || defaultValue !== undefined || star !== undefined,
    catchAll: star !== undefined,
    ...(defaultValue !== undefined ? { defaultValue } : {}),
    constraints: constraintText.split(':').filter((c) => c !== ''),
  };
}

/** Matches decoded path segments; returns the route parameters, or undefined when it does not match. */
export function matchRoute(route: RouteTemplate, pathSegments: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const segment = route.segments[i];
    if (!segment) return undefined;
    const value = pathSegments[i];
    if (segment.kind === 'literal') {
      if (value === undefined || value.toLowerCase() !== segment.text.toLowerCase()) return undefined;
      continue;
    }
    if (segment.catchAll) {
      const rest = pathSegments.slice(i).join('/');
      if (rest !== '') params[segment.name] = rest;
      else if (segment.defaultValue !== undefined) params[segment.name] = segment.defaultValue;
      return params;
    }
    if (value === undefined || value === '') {
      if (!segment.optional) return undefined;
      if (segment.defaultValue !== undefined) params[segment.name] = segment.defaultValue;
      continue;
    }
    if (!satisfies(value, segment.constraints)) return undefined;
    params[segment.name] = value;
  }
  return pathSegments.length <= route.segments.length ? params : undefined;
}

function satisfies(value: string, constraints: string[]): boolean {
  return constraints.every((constraint) => {
    const [name = '', arg] = constraint.replace(/\)$/, '').split('(');
    switch (name.toLowerCase()) {
      case 'int':
      case 'long':
        return /^-?\d+$/.test(value);
      case 'bool':
        return /^(true|false)$/i.test(value);
      case 'alpha':
        return /^[a-z]+$/i.test(value);
      case 'guid':
        return /^[{(]?[0-9a-f]{8}-?([0-9a-f]{4}-?){3}[0-9a-f]{12}[})]?$/i.test(value);
      case 'double':
      case 'float':
      case 'decimal':
        return value.trim() !== '' && !Number.isNaN(Number(value));
      case 'minlength':
        return value.length >= Number(arg);
      case 'maxlength':
        return value.length <= Number(arg);
      case 'length':
        return value.length === Number(arg);
      case 'min':
        return Number(value) >= Number(arg);
      case 'max':
        return Number(value) <= Number(arg);
      case 'regex':
        return arg !== undefined && new RegExp(arg).test(value);
      default:
        return true;
    }
  });
}

/** Orders templates so that the most specific one is tried first: literal < constrained < plain < optional < catch-all. */
export function compareRouteSpecificity(a: RouteTemplate, b: RouteTemplate): number {
  const rank = (segment: Segment | undefined): number => {
    if (!segment) return 6;
    if (segment.kind === 'literal') return 1;
    if (segment.catchAll) return 5;
    if (segment.optional) return 4;
    return segment.constraints.length > 0 ? 2 : 3;
  };
  const length = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < length; i++) {
    const diff = rank(a.segments[i]) - rank(b.segments[i]);
    if (diff !== 0) return diff;
  }
  return a.template.localeCompare(b.template);
}
