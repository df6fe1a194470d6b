/**
 * Whether a routed request is answered with a redirect instead of being proxied, and with what.
 * Pure. The order is ingress-nginx's, where each comes from a later nginx phase:
 *
 * 1. the host's app root (`app-root`), for a request of exactly `/`;
 * 2. the route's fixed redirect (`permanent-redirect`, `temporal-redirect`);
 * 3. the route's https redirect (`ssl-redirect`, `force-ssl-redirect`), on plain HTTP only, and
 *    for `ssl-redirect` only when the request's virtual host has a certificate of its own.
 */
import { STATUS_CODES } from 'node:http';
import type { RouteMatch } from '@pier/shared';
import { appRootLocation, httpsRedirectLocation, isRootRequest } from '@pier/shared';

/** A redirect to answer. */
export interface RedirectAnswer {
  status: number;
  location: string;
}

/** What the decision reads of the request and its listener. */
export interface RedirectRequest {
  /** The listener's scheme. */
  scheme: 'http' | 'https';
  /** The Host as sent (with its port, if any). */
  host: string;
  /** The request target's path and query, as sent. */
  target: string;
  /** The port of the HTTPS listener, for `use-port-in-redirects`. */
  httpsPort: number;
}

/** The redirect `match` asks for on this request, or undefined to proxy it. */
export function redirectFor(
  match: RouteMatch,
  request: RedirectRequest,
): RedirectAnswer | undefined {
  const appRoot = match.virtualHost.appRoot;
  if (appRoot !== undefined && isRootRequest(request.target)) {
    return { status: 302, location: appRootLocation(request.scheme, request.host, appRoot) };
  }
  const route = match.route;
  if (route === undefined) return undefined;
  if (route.redirect !== undefined) {
    return { status: route.redirect.statusCode, location: route.redirect.url };
  }
  const https = route.httpsRedirect;
  if (https === undefined || request.scheme !== 'http') return undefined;
  if (https.onlyWithCertificate && match.virtualHost.tls === undefined) return undefined;
  return {
    status: https.statusCode,
    location: httpsRedirectLocation(https, request.host, request.target, request.httpsPort),
  };
}

/** A short HTML body like nginx's, so a browser without Location support still sees a link. */
export function redirectBody(answer: RedirectAnswer): string {
  const title = `${answer.status} ${STATUS_CODES[answer.status] ?? 'Redirect'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>pier</center>\r\n</body>\r\n</html>\r\n`;
}
