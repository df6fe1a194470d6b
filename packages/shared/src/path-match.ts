/**
 * Path matching with Kubernetes Ingress semantics (`spec.rules[].http.paths[]`).
 *
 * Request paths are matched as raw bytes: the query string is ignored, but nothing is
 * percent-decoded or otherwise normalized (`/a%2Fb` is one element, `/a/../b` has three), so the
 * route that matches is decided by exactly the bytes the backend will receive.
 */

/** The Ingress `pathType` values. */
export type PathType = 'Exact' | 'Prefix' | 'ImplementationSpecific';

/** All path types, for validation. */
export const PATH_TYPES: readonly PathType[] = Object.freeze([
  'Exact',
  'Prefix',
  'ImplementationSpecific',
]);

/** Sequences the API server rejects in Exact and Prefix paths; mirrored for standalone mode. */
const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_PATH_SUFFIXES = ['/..', '/.'];
const WHITESPACE_OR_CONTROL = /[\s\p{Cc}]/u;

/** The request path without its query string (`/a?b=c` → `/a`). */
export function stripQuery(requestPath: string): string {
  const q = requestPath.indexOf('?');
  return q < 0 ? requestPath : requestPath.slice(0, q);
}

/**
 * Splits a path into its `/`-separated elements, as Prefix matching compares them. The query
 * string is dropped, the leading `/` and one trailing `/` are ignored (`/foo/` → `['foo']`,
 * `/` → `[]`); inner empty elements are kept (`/a//b` → `['a', '', 'b']`), as the bytes are.
 */
export function pathElements(path: string): string[] {
  let p = stripQuery(path);
  if (p.startsWith('/')) p = p.slice(1);
  if (p.endsWith('/')) p = p.slice(0, -1);
  return p === '' ? [] : p.split('/');
}

/**
 * Whether a request path matches one Ingress path.
 *
 * - `Exact`: the whole path, case-sensitive, string-equal (`/foo` does not match `/foo/`).
 * - `Prefix`: element-wise by `/`; trailing slashes ignored on both sides; `/` matches every
 *   path; `/foo` matches `/foo/bar` but not `/foobar`.
 * - `ImplementationSpecific`: Pier treats it exactly as `Prefix` (an empty path, which the API
 *   server allows for this type only, behaves like `/`).
 *
 * @param requestPath the request target in origin form; its query string is ignored and it is
 *   not percent-decoded.
 */
export function pathMatches(type: PathType, routePath: string, requestPath: string): boolean {
  if (type === 'Exact') return routePath === stripQuery(requestPath);
  const route = pathElements(routePath);
  const request = pathElements(requestPath);
  if (route.length > request.length) return false;
  for (let i = 0; i < route.length; i++) {
    if (route[i] !== request[i]) return false;
  }
  return true;
}

/** A path rule as {@link bestPathMatch} needs it; `Route` satisfies this. */
export interface PathRule {
  path: string;
  pathType: PathType;
}

/**
 * Picks the rule that serves a request among several of one host, by Ingress precedence:
 * an Exact match wins, then the Prefix match with the most path elements; among equals, the
 * first in the array wins. Linear in the number of rules: this is the reference semantics, the
 * dataplane uses `RouteIndex`, which gives the same answers in time independent of rule count.
 *
 * @returns the index of the winning rule, or -1 when none matches.
 */
export function bestPathMatch(rules: readonly PathRule[], requestPath: string): number {
  let best = -1;
  let bestDepth = -1;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as PathRule;
    if (!pathMatches(rule.pathType, rule.path, requestPath)) continue;
    // Rules are scanned in order, so the first Exact match is the first Exact in the array.
    if (rule.pathType === 'Exact') return i;
    const depth = pathElements(rule.path).length;
    if (depth > bestDepth) {
      best = i;
      bestDepth = depth;
    }
  }
  return best;
}

/**
 * Checks an Ingress path as the API server does for its path type: it must be absolute and
 * contain no whitespace or control characters; Exact and Prefix paths must also not contain
 * `//`, `/./`, `/../` or an encoded slash, nor end in `/.` or `/..`. An ImplementationSpecific
 * path may be empty (it then matches everything).
 *
 * @returns a message saying what is wrong, or undefined when the path is acceptable.
 */
export function validateIngressPath(type: PathType, path: string): string | undefined {
  if (!PATH_TYPES.includes(type)) return `unknown path type '${String(type)}'`;
  if (path === '' && type === 'ImplementationSpecific') return undefined;
  if (!path.startsWith('/')) return "must be an absolute path (start with '/')";
  if (WHITESPACE_OR_CONTROL.test(path)) return 'must not contain whitespace or control characters';
  if (type === 'ImplementationSpecific') return undefined;
  for (const seq of INVALID_PATH_SEQUENCES) {
    if (path.includes(seq)) return `must not contain '${seq}'`;
  }
  for (const suffix of INVALID_PATH_SUFFIXES) {
    if (path.endsWith(suffix)) return `must not end with '${suffix}'`;
  }
  return undefined;
}
