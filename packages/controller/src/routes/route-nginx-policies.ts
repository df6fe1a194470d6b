/**
 * What a route of the table takes from its Ingress's ingress-nginx annotations: redirects,
 * source ranges, body size, CORS, upstream settings, headers, rate limits, authentication and
 * custom errors, copied onto each route of the Ingress (host-placement.ts builds the rest).
 * As in ingress-nginx, an ACME challenge path never gets the https redirect. Pure.
 */
import type { Route } from '@pier/shared';
import type { IngressPlan, PlannedRoute } from '../ingress/ingress-plan.ts';
import { NO_HTTPS_REDIRECT_PREFIX } from '../ingress/nginx-annotations.ts';

/** Sets on `entry` (a route of `route`, from the Ingress of `plan`) what the plan's annotations ask. */
export function placeNginxPolicies(entry: Route, route: PlannedRoute, plan: IngressPlan): void {
  const source = entry.source;
  const { redirect, httpsRedirect, sourceRanges, maxBodyBytes } = plan.nginx;
  if (redirect !== undefined) entry.redirect = { ...redirect };
  if (sourceRanges !== undefined) entry.sourceRanges = structuredClone(sourceRanges);
  if (maxBodyBytes !== undefined) entry.maxBodyBytes = maxBodyBytes;
  if (plan.nginx.cors !== undefined) entry.cors = structuredClone(plan.nginx.cors);
  if (plan.nginx.upstream !== undefined) entry.upstream = structuredClone(plan.nginx.upstream);
  if (plan.nginx.forwardedPrefix !== undefined) entry.forwardedPrefix = plan.nginx.forwardedPrefix;
  if (plan.nginx.upstreamHost !== undefined) entry.upstreamHost = plan.nginx.upstreamHost;
  // One zone per Ingress, shared by all its paths and hosts, as ingress-nginx's.
  const rateLimit = plan.nginx.rateLimit;
  if (rateLimit !== undefined)
    entry.rateLimit = { zone: `${source.namespace}/${source.name}`, ...structuredClone(rateLimit) };
  // Shared by the Ingress's routes, not copied: its sealed users may be large, and entries are
  // never changed once built.
  if (plan.basicAuth !== undefined) entry.basicAuth = plan.basicAuth;
  const errors = routeErrors(plan);
  if (errors !== undefined) entry.errors = errors;
  const externalAuth = plan.nginx.externalAuth;
  if (externalAuth !== undefined) {
    const { cache, ...rest } = structuredClone(externalAuth);
    entry.externalAuth = { ...rest, zone: `${source.namespace}/${source.name}` };
    // ingress-nginx's keyspace is per server and location: here per Ingress, path and type.
    if (cache !== undefined)
      entry.externalAuth.cache = {
        ...cache,
        scope: `${source.namespace}/${source.name} ${route.pathType} ${route.path}`,
      };
  }
  const rewrite = plan.nginx.rewriteTarget;
  if (rewrite !== undefined && rewrite !== route.path) entry.rewriteTarget = rewrite;
  if (httpsRedirect !== undefined && !route.path.startsWith(NO_HTTPS_REDIRECT_PREFIX)) {
    entry.httpsRedirect = { ...httpsRedirect };
  }
}

/**
 * The route's error handling: ingress-nginx's `default-backend` (when its Service resolved) and
 * `custom-http-errors`; none when neither is left.
 */
function routeErrors(plan: IngressPlan): Route['errors'] {
  const asked = plan.nginx.errors;
  if (asked === undefined) return undefined;
  const errors: NonNullable<Route['errors']> = {};
  if (plan.errorBackend !== undefined) errors.backend = plan.errorBackend.id;
  if (asked.codes !== undefined) errors.codes = [...asked.codes];
  if (asked.upstreamPasses === true && asked.codes !== undefined) errors.upstreamPasses = true;
  return errors.backend === undefined && errors.codes === undefined ? undefined : errors;
}
