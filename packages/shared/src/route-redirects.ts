/**
 * Redirects the dataplane answers itself, before choosing a backend: their validation in a
 * route table, and the Location each one sends. Pure. The semantics are ingress-nginx's
 * (`permanent-redirect`, `temporal-redirect`, `ssl-redirect`, `force-ssl-redirect`,
 * `app-root`); see docs/migrating-from-ingress-nginx.md.
 */
import { fail, isObject, type Report, readBoolean, readInteger } from './field-reader.ts';
import type { HttpsRedirect, RouteRedirect } from './route-table.ts';

/** Visible ASCII only: a Location must not carry whitespace, controls or raw non-ASCII. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/** Why `url` cannot be a fixed redirect's Location, or undefined when it can. */
export function redirectUrlProblem(url: string): string | undefined {
  if (!VISIBLE_ASCII.test(url)) return 'must be visible ASCII without spaces';
  if (!/^https?:\/\//i.test(url) || !URL.canParse(url))
    return 'must be an absolute http or https URL';
  return undefined;
}

/** Why `path` cannot be an app root, or undefined when it can. */
export function appRootProblem(path: string): string | undefined {
  if (!VISIBLE_ASCII.test(path)) return 'must be visible ASCII without spaces';
  if (!path.startsWith('/') || path.startsWith('//')) return "must be a path starting with one '/'";
  return undefined;
}

/** Status codes an https redirect may use (ingress-nginx's `http-redirect-code`). */
export const HTTPS_REDIRECT_CODES: readonly number[] = [301, 302, 307, 308];

/** Checks `route.redirect`; undefined with a problem reported when it is wrong. */
export function checkRouteRedirect(
  raw: unknown,
  at: string,
  report: Report,
): RouteRedirect | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const before = report.count();
  const statusCode = readInteger(raw, 'statusCode', at, report, 300);
  if (statusCode !== undefined && statusCode > 308) report(`${at}statusCode`, 'must be 300-308');
  const url = raw.url;
  if (typeof url !== 'string') report(`${at}url`, 'must be a string');
  else {
    const problem = redirectUrlProblem(url);
    if (problem !== undefined) report(`${at}url`, problem);
  }
  if (report.count() !== before) return undefined;
  return { statusCode: statusCode as number, url: url as string };
}

/** Checks `route.httpsRedirect`; undefined with a problem reported when it is wrong. */
export function checkHttpsRedirect(
  raw: unknown,
  at: string,
  report: Report,
): HttpsRedirect | undefined {
  if (!isObject(raw)) return fail(report, at.slice(0, -1), 'must be an object');
  const o = raw;
  const before = report.count();
  const statusCode = readInteger(o, 'statusCode', at, report, 301);
  if (statusCode !== undefined && !HTTPS_REDIRECT_CODES.includes(statusCode)) {
    report(`${at}statusCode`, `must be one of ${HTTPS_REDIRECT_CODES.join(', ')}`);
  }
  const onlyWithCertificate = readBoolean(o, 'onlyWithCertificate', at, report);
  const preserveTrailingSlash = readBoolean(o, 'preserveTrailingSlash', at, report);
  const usePort = readBoolean(o, 'usePort', at, report);
  if (report.count() !== before) return undefined;
  return {
    statusCode: statusCode as number,
    onlyWithCertificate: onlyWithCertificate as boolean,
    preserveTrailingSlash: preserveTrailingSlash as boolean,
    usePort: usePort as boolean,
  };
}

/** The Host header's name without its port (`[::1]:80` → `[::1]`, `a.b:80` → `a.b`). */
export function hostWithoutPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end < 0 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon < 0 ? host : host.slice(0, colon);
}

/**
 * The Location of an https redirect, as ingress-nginx builds it: `https://`, the Host without
 * its port, the HTTPS port only with `usePort`, then the request target as sent (path and
 * query), without its one trailing `/` unless `preserveTrailingSlash`.
 */
export function httpsRedirectLocation(
  redirect: HttpsRedirect,
  host: string,
  target: string,
  httpsPort: number,
): string {
  let tail = target;
  if (!redirect.preserveTrailingSlash && tail.endsWith('/')) tail = tail.slice(0, -1);
  const port = redirect.usePort ? `:${httpsPort}` : '';
  return `https://${hostWithoutPort(host)}${port}${tail}`;
}

/** Whether a request target (path and query) asks for the app root's trigger, `/`. */
export function isRootRequest(target: string): boolean {
  return target === '/' || target.startsWith('/?');
}

/** The Location of an app-root redirect: same scheme and Host as sent, then the app root. */
export function appRootLocation(scheme: 'http' | 'https', host: string, appRoot: string): string {
  return `${scheme}://${host}${appRoot}`;
}
