/**
 * The backend a routed request goes to: the route's own, or for a route with a split
 * (ingress-nginx's canary, `Route.split`) the one its rules choose. Chosen once per request,
 * before the endpoint, for plain requests and upgrades alike; and the first endpoint, with
 * ingress-nginx's default-backend standing in while the route's Service has none.
 */
import type { IncomingMessage } from 'node:http';
import type { AffinityPin, Backend, RouteMatch } from '@pier/shared';
import type { ProxyDeps } from './proxy-deps.ts';
import type { EndpointChoice } from './proxy-events.ts';

/** What the choice needs besides the request. */
export interface SplitDeps {
  /** Uniform in [0, 1); Math.random when absent. */
  random?: () => number;
  /** The affinity lookup of the backends' balancers; without it affinity plays no part. */
  pinned?: AffinityPin;
}

/**
 * The request's backend. `req.headers` is built by Node on first use: only a route with a split
 * reads it, and the split reads only the headers its rules name (and Cookie).
 */
export function routeBackend(match: RouteMatch, req: IncomingMessage, deps: SplitDeps): Backend {
  const split = match.split;
  if (split === undefined) return match.backend;
  return split.choose(req.headers, deps.random ?? Math.random, deps.pinned);
}

/** Nothing tried yet: the first attempt. */
const NOTHING_TRIED: ReadonlySet<string> = new Set();

/**
 * The first endpoint of a request to `backend`, and the backend it belongs to. While the
 * backend has no endpoint at all (none in its Service's EndpointSlices), ingress-nginx's
 * `default-backend` (the route's error backend) serves instead; endpoints that exist but cannot
 * take traffic leave the choice undefined (Pier's 503, which custom errors may replace).
 */
export function firstChoice(
  match: RouteMatch,
  backend: Backend,
  req: IncomingMessage,
  deps: Pick<ProxyDeps, 'choose'>,
): { backend: Backend; choice: EndpointChoice | undefined } {
  const choice = deps.choose(backend, req, NOTHING_TRIED);
  const fallback = match.errorBackend;
  if (choice !== undefined || fallback === undefined || backend.endpoints.length > 0) {
    return { backend, choice };
  }
  return { backend: fallback, choice: deps.choose(fallback, req, NOTHING_TRIED) };
}
