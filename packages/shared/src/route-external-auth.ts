/**
 * External authentication of a route (`route.externalAuth`, ingress-nginx's `auth-url`): which
 * URLs, methods and header names it may carry, what the auth service's status means for the
 * request, and validation of the field in a route table. Pure.
 */
import { fail, isObject, type Report, readString } from './field-reader.ts';
import { compileNginxString } from './nginx-string.ts';
import { checkAuthCache } from './route-auth-cache.ts';
import type { ExternalAuth } from './route-table.ts';

/** The longest `url` or `signin` template a route table carries. */
export const MAX_AUTH_URL_LENGTH = 2048;
/** The most `responseHeaders` a route table carries. */
export const MAX_AUTH_RESPONSE_HEADERS = 32;

/** ingress-nginx's `auth-method` values. */
export const AUTH_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
]);

/** ingress-nginx's header-name check (`auth-response-headers`). */
const HEADER_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Why `name` cannot be an `auth-response-headers` entry, or undefined. */
export function authHeaderNameProblem(name: string): string | undefined {
  return HEADER_NAME.test(name)
    ? undefined
    : 'must be 1-64 letters, digits, - or _ (a header name)';
}

/**
 * Why `template` cannot be an auth service or sign-in URL, or undefined: an nginx string of
 * known variables that is an `http://` or `https://` URL with a host whatever the variables hold.
 */
export function authUrlProblem(template: string): string | undefined {
  const parts = compileNginxString(template, MAX_AUTH_URL_LENGTH);
  if (typeof parts === 'string') return parts;
  let sample = '';
  for (const part of parts) sample += 'text' in part ? part.text : 'x';
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(sample)?.[1]?.toLowerCase();
  if (scheme === undefined) return 'must start with http:// or https://';
  if (scheme !== 'http' && scheme !== 'https') return `has scheme ${scheme}, not http or https`;
  // WHATWG URLs read `http:///x` as host x; Go's (ingress-nginx's) find no host.
  if (/^[/?#]|^$/.test(sample.slice(scheme.length + 3))) return 'has no valid host';
  let url: URL;
  try {
    url = new URL(sample);
  } catch {
    return 'is not a URL';
  }
  if (url.hostname === '' || url.host.includes('..')) return 'has no valid host';
  return undefined;
}

/**
 * What the auth service's answer means, as nginx's `auth_request`: a 2xx lets the request
 * through; 401 is passed on, or with a sign-in URL becomes a redirect to it; 403 is passed on;
 * any other status is an error (500).
 */
export type ExternalAuthDecision = 'allow' | 'unauthorized' | 'signin' | 'forbidden' | 'error';

/** The decision for the auth service's `status`; see {@link ExternalAuthDecision}. */
export function externalAuthDecision(status: number, signin: boolean): ExternalAuthDecision {
  if (status >= 200 && status < 300) return 'allow';
  if (status === 401) return signin ? 'signin' : 'unauthorized';
  if (status === 403) return 'forbidden';
  return 'error';
}

/** The statuses nginx's `add_header` (without `always`) applies to. */
const ADD_HEADER_STATUSES: ReadonlySet<number> = new Set([
  200, 201, 204, 206, 301, 302, 303, 304, 307, 308,
]);

/**
 * Whether the auth response's cookies go on a response of `status`: ingress-nginx adds them with
 * `add_header Set-Cookie`, which skips other statuses unless `auth-always-set-cookie`.
 */
export function authCookieOnStatus(status: number, always: boolean): boolean {
  return always || ADD_HEADER_STATUSES.has(status);
}

const methodProblem = (s: string) =>
  AUTH_METHODS.has(s) ? undefined : `must be one of ${[...AUTH_METHODS].join(', ')}`;
const redirectProblem = (s: string) =>
  s.length <= MAX_AUTH_URL_LENGTH && /^[\x21-\x7e]+$/.test(s)
    ? undefined
    : `must be 1-${MAX_AUTH_URL_LENGTH} visible ASCII characters`;

/**
 * Checks `route.externalAuth`. A bad one is reported and read as one without `url` (every
 * request 503): authentication that cannot be read must not be dropped, or the route would be
 * served to everyone.
 */
export function checkExternalAuth(raw: unknown, at: string, report: Report): ExternalAuth {
  if (!isObject(raw)) {
    fail(report, at.slice(0, -1), 'must be an object; every request is refused');
    return { zone: '' };
  }
  const before = report.count();
  const zone = readString(raw, 'zone', at, report) ?? '';
  const closed: ExternalAuth = { zone };
  if (raw.url === undefined) return closed;
  const url = readString(raw, 'url', at, report, authUrlProblem);
  const auth: ExternalAuth = { url: url as string, zone };
  if (raw.method !== undefined) auth.method = readString(raw, 'method', at, report, methodProblem);
  if (raw.signin !== undefined) auth.signin = readString(raw, 'signin', at, report, authUrlProblem);
  if (raw.requestRedirect !== undefined)
    auth.requestRedirect = readString(raw, 'requestRedirect', at, report, redirectProblem);
  const headers = raw.responseHeaders;
  if (headers !== undefined) {
    if (
      !Array.isArray(headers) ||
      headers.length > MAX_AUTH_RESPONSE_HEADERS ||
      headers.some((h) => typeof h !== 'string' || authHeaderNameProblem(h) !== undefined)
    ) {
      report(
        `${at}responseHeaders`,
        `must be a list of at most ${MAX_AUTH_RESPONSE_HEADERS} header names`,
      );
    } else {
      auth.responseHeaders = (headers as string[]).map((h) => h.toLowerCase());
    }
  }
  if (raw.alwaysSetCookie !== undefined) {
    if (typeof raw.alwaysSetCookie === 'boolean') auth.alwaysSetCookie = raw.alwaysSetCookie;
    else report(`${at}alwaysSetCookie`, 'must be true or false');
  }
  // A bad cache costs the route its cache only: every request asks the auth service.
  if (report.count() === before && raw.cache !== undefined) {
    const cache = checkAuthCache(raw.cache, `${at}cache.`, report);
    if (cache !== undefined) auth.cache = cache;
    return auth;
  }
  return report.count() === before ? auth : closed;
}
