/**
 * What a routed request gets before it is proxied, for plain requests and upgrades alike: a
 * redirect (route-redirect.ts), a refusal of its client address (source-access.ts), or nothing
 * (proxy it). Pure.
 */
import { type RouteMatch, unmapIPv4 } from '@pier/shared';
import { type RedirectAnswer, redirectFor } from './route-redirect.ts';
import { sourceAllowed } from './source-access.ts';

/** The answer the route gives instead of proxying, if any. */
export type RouteAnswer = { redirect: RedirectAnswer } | { forbidden: true } | undefined;

/** Redirects first, then who may ask: the order of nginx's rewrite and access phases. */
export function routeAnswer(
  match: RouteMatch,
  options: { scheme: 'http' | 'https'; httpsPort: number },
  request: { host: string; target: string; remoteAddress: string },
): RouteAnswer {
  const redirect = redirectFor(match, {
    scheme: options.scheme,
    host: request.host,
    target: request.target,
    httpsPort: options.httpsPort,
  });
  if (redirect !== undefined) return { redirect };
  if (!sourceAllowed(match.route, unmapIPv4(request.remoteAddress))) return { forbidden: true };
  return undefined;
}
