/**
 * What a routed request gets before it is proxied, for plain requests and upgrades alike: a
 * redirect (route-redirect.ts), a CORS preflight answer (route-cors.ts), a refusal by a rate
 * limit (rate-limits.ts), a refusal of its client address (source-access.ts), or nothing (proxy
 * it); and the CORS headers of a proxied response. Pure but for the rate limits' counters.
 */
import { corsHeaders, type RouteMatch, unmapIPv4 } from '@pier/shared';
import type { ConnectionSlot, RateLimitKind, RateLimits } from './rate-limits.ts';
import { type RedirectAnswer, redirectFor } from './route-redirect.ts';
import { sourceAllowed } from './source-access.ts';

/**
 * The answer the route gives instead of proxying, if any; `{ held }` is no answer but says to
 * proxy while holding a `limit-connections` slot, released when the request is over.
 */
export type RouteAnswer =
  | { redirect: RedirectAnswer }
  | { preflight: string[] }
  | { limited: RateLimitKind }
  | { forbidden: true }
  | { held: ConnectionSlot }
  | undefined;

/** What the decision reads of a request. */
export interface RoutedRequest {
  host: string;
  target: string;
  remoteAddress: string;
  method: string;
  /** The Origin header, if sent. */
  origin: string | undefined;
  /** A protocol upgrade: never taken for a CORS preflight, so it is limited and checked as any. */
  upgrade?: boolean;
}

/**
 * Redirects first, then a CORS preflight (an OPTIONS request the route's CORS policy admits,
 * answered 204 with its headers), then the rate limits, then who may ask: the order of nginx's
 * rewrite, preaccess and access phases. A route without limits costs one property check.
 */
export function routeAnswer(
  match: RouteMatch,
  options: { scheme: 'http' | 'https'; httpsPort: number },
  request: RoutedRequest,
  limits: Pick<RateLimits, 'admit'> | undefined,
): RouteAnswer {
  const redirect = redirectFor(match, {
    scheme: options.scheme,
    host: request.host,
    target: request.target,
    httpsPort: options.httpsPort,
  });
  if (redirect !== undefined) return { redirect };
  if (request.method === 'OPTIONS' && request.upgrade !== true) {
    const headers = corsFor(match, request.origin);
    if (headers !== undefined) return { preflight: headers };
  }
  const address = unmapIPv4(request.remoteAddress);
  const rateLimit = match.route?.rateLimit;
  let held: ConnectionSlot | undefined;
  if (rateLimit !== undefined && limits !== undefined) {
    const admitted = limits.admit(rateLimit, address);
    if (typeof admitted === 'string') return { limited: admitted };
    held = admitted;
  }
  if (!sourceAllowed(match.route, address)) {
    held?.release();
    return { forbidden: true };
  }
  return held === undefined ? undefined : { held };
}

/** The CORS headers a response to this request carries, or undefined. */
export function corsFor(match: RouteMatch, origin: string | undefined): string[] | undefined {
  const cors = match.route?.cors;
  return cors === undefined ? undefined : corsHeaders(cors, origin);
}

/** `headers` (a flat list) with the names in `extra` replaced by `extra`, as nginx's more_set_headers. */
export function withHeaders(
  headers: Array<string | string[]>,
  extra: readonly string[],
): Array<string | string[]> {
  const names = new Set<string>();
  for (let i = 0; i < extra.length; i += 2) names.add(extra[i] as string);
  const out: Array<string | string[]> = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (names.has(String(headers[i]).toLowerCase())) continue;
    out.push(headers[i] as string, headers[i + 1] as string | string[]);
  }
  out.push(...extra);
  return out;
}
