/**
 * The backend a routed request goes to: the route's own, or for a route with a split
 * (ingress-nginx's canary, `Route.split`) the one its rules choose. Chosen once per request,
 * before the endpoint, for plain requests and upgrades alike.
 */
import type { IncomingMessage } from 'node:http';
import type { AffinityPin, Backend, RouteMatch } from '@pier/shared';

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
