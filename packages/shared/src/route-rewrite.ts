/**
 * ingress-nginx's regex paths and `rewrite-target`, for virtual hosts in regex mode
 * (`VirtualHost.pathRegex`). Pure; compiled expressions are kept per route object (one table
 * revision). nginx runs PCRE on the normalized, decoded `$uri`; Pier runs JavaScript's RegExp on
 * the raw path, which agrees for the paths and expressions Ingresses use (see
 * docs/migrating-from-ingress-nginx.md).
 */
import type { Route } from './route-table.ts';

/** Longest regular expression a path may be: bounds the cost of a match. */
export const MAX_REGEX_PATH_LENGTH = 256;

const matchers = new WeakMap<Route, RegExp | null>();
const rewriters = new WeakMap<Route, RegExp | null>();

/** Why `path` cannot be a regex path, or undefined when it can. */
export function regexPathProblem(path: string): string | undefined {
  if (path.length > MAX_REGEX_PATH_LENGTH)
    return `is longer than ${MAX_REGEX_PATH_LENGTH} characters`;
  try {
    new RegExp(`^${path}`, 'i');
    return undefined;
  } catch (err) {
    return `is not a regular expression: ${(err as Error).message}`;
  }
}

function compiled(
  cache: WeakMap<Route, RegExp | null>,
  route: Route,
  source: string,
): RegExp | null {
  let re = cache.get(route);
  if (re === undefined) {
    try {
      re = new RegExp(source, 'i');
    } catch {
      re = null;
    }
    cache.set(route, re);
  }
  return re;
}

/** Whether the route's path, as `~* "^<path>"`, matches the request path (query stripped). */
export function regexPathMatches(route: Route, path: string): boolean {
  return compiled(matchers, route, `^${route.path}`)?.test(path) ?? false;
}

/**
 * The request target sent upstream after `rewrite "(?i)<path>" <target> break;`: when the path
 * holds a match, the whole path becomes the target with `$1`…`$9` replaced by the match's groups
 * (as nginx's rewrite replaces the whole URI, not the matched part: a target without groups
 * drops the rest of the path). The query stays, after any the target adds. Otherwise the target
 * as sent.
 */
export function rewriteTarget(route: Route, target: string): string {
  const replacement = route.rewriteTarget;
  if (replacement === undefined) return target;
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  const match = compiled(rewriters, route, route.path)?.exec(path);
  if (match === null || match === undefined) return target;
  const expanded = replacement.replace(/\$([1-9])/g, (_, n: string) => match[Number(n)] ?? '');
  const rewritten = expanded.startsWith('/') ? expanded : `/${expanded}`;
  if (query === '') return rewritten;
  return rewritten.includes('?') ? `${rewritten}&${query}` : `${rewritten}?${query}`;
}
