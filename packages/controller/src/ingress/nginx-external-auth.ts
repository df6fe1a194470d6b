/**
 * ingress-nginx's external authentication annotations (`auth-url`, `auth-method`,
 * `auth-signin`, `auth-signin-redirect-param`, `auth-request-redirect`,
 * `auth-response-headers`, `auth-always-set-cookie`), read as its `authreq` parser and
 * template read them, into the route model's {@link ExternalAuth} (without its zone). Pure.
 *
 * Without `auth-url` nothing is asked. Every fault for which ingress-nginx refuses the Ingress
 * or denies its locations (a bad `auth-url`, `auth-method` or `auth-response-headers`) fails
 * closed here: the routes answer 503. A bad `auth-signin`, redirect parameter,
 * `auth-request-redirect` or `auth-always-set-cookie` is reported and its default used
 * (ingress-nginx drops the last two with all of the authentication; Pier keeps it).
 */
import {
  AUTH_METHODS,
  type AuthCache,
  authCacheKeyProblem,
  authHeaderNameProblem,
  authUrlProblem,
  DEFAULT_AUTH_CACHE_DURATION,
  type ExternalAuth,
  MAX_AUTH_RESPONSE_HEADERS,
  MAX_AUTH_URL_LENGTH,
  parseAuthCacheDuration,
} from '@pier/shared';
import type { AnnotationProblem } from './balancing-annotations.ts';
import { NGINX_ANNOTATION_PREFIX } from './nginx-annotation-catalogue.ts';
import { parseNginxBool } from './nginx-bool.ts';

/**
 * What an Ingress's external authentication asks of its routes (the zone, and the cache's
 * keyspace, are added per route).
 */
export type NginxExternalAuth = Omit<ExternalAuth, 'zone' | 'cache'> & {
  cache?: Omit<AuthCache, 'scope'>;
};

/** ingress-nginx's `URLWithNginxVariableRegex` (auth-url, auth-signin). */
const URL_WITH_VARIABLES = /^[-._~a-zA-Z0-9/:, ?&=$]*$/;
/** ingress-nginx's `URLIsValidRegex` (auth-signin-redirect-param, auth-request-redirect). */
const URL_CHARS = /^[-._~a-zA-Z0-9/:,?&=]*$/;
/** ingress-nginx's `NGINXVariable` (auth-cache-key). */
const CACHE_KEY_CHARS = /^[-A-Za-z0-9_${}]*$/;
/** ingress-nginx's `ExtendedCharsRegex` (auth-cache-duration). */
const EXTENDED_CHARS = /^[-/._~a-zA-Z0-9:, ]*$/;
/** ingress-nginx's `HeadersVariable` (auth-response-headers). */
const HEADER_LIST = /^[-A-Za-z0-9_, ]*$/;
/** ingress-nginx's default `auth-signin-redirect-param`. */
export const DEFAULT_SIGNIN_REDIRECT_PARAM = 'rd';
const CLOSED = '; every request to its paths is answered 503';

/**
 * ingress-nginx's `buildAuthSignURL`: the sign-in URL with `<param>=` the original URL
 * (`$pass_access_scheme://$http_host$escaped_request_uri`) added, unless its query has the
 * parameter already (oauth2-proxy's `...?rd=$escaped_request_uri`).
 */
export function signinTemplate(signin: string, param: string): string {
  const hash = signin.indexOf('#');
  const beforeHash = hash < 0 ? signin : signin.slice(0, hash);
  const q = beforeHash.indexOf('?');
  const query = q < 0 ? '' : beforeHash.slice(q + 1);
  const original = `${param}=$pass_access_scheme://$http_host$escaped_request_uri`;
  if (query === '') return `${signin}?${original}`;
  if (new URLSearchParams(query).get(param)) return signin;
  return `${signin}&${original}`;
}

/** The external authentication of `annotations`, or undefined without `auth-url`. */
export function parseNginxExternalAuth(
  annotations: Readonly<Record<string, string>> | undefined,
  problems: AnnotationProblem[],
): NginxExternalAuth | undefined {
  const read = (name: string): string | undefined => {
    const value = annotations?.[NGINX_ANNOTATION_PREFIX + name]?.trim();
    return value === '' ? undefined : value;
  };
  const problem = (name: string, message: string) =>
    problems.push({ annotation: NGINX_ANNOTATION_PREFIX + name, message });
  const url = read('auth-url');
  if (url === undefined) return undefined;

  const urlWhy = URL_WITH_VARIABLES.test(url)
    ? authUrlProblem(url)
    : 'has characters ingress-nginx refuses (letters, digits, - . _ ~ / : , ? & = $ and spaces only)';
  if (urlWhy !== undefined) {
    problem('auth-url', `'${url}' ${urlWhy}${CLOSED}`);
    return {};
  }
  const auth: NginxExternalAuth = { url };

  const method = read('auth-method');
  if (method !== undefined) {
    if (!AUTH_METHODS.has(method)) {
      problem('auth-method', `'${method}' is not an HTTP method ingress-nginx accepts${CLOSED}`);
      return {};
    }
    auth.method = method;
  }

  const headerText = read('auth-response-headers');
  if (headerText !== undefined) {
    const names = headerText
      .split(',')
      .map((h) => h.trim())
      .filter((h) => h !== '');
    const bad = names.find((h) => authHeaderNameProblem(h) !== undefined);
    if (!HEADER_LIST.test(headerText) || bad !== undefined) {
      problem(
        'auth-response-headers',
        `'${bad ?? headerText}' is not a header name (letters, digits, - and _)${CLOSED}`,
      );
      return {};
    }
    if (names.length > MAX_AUTH_RESPONSE_HEADERS) {
      problem(
        'auth-response-headers',
        `names ${names.length} headers, more than Pier's ${MAX_AUTH_RESPONSE_HEADERS}${CLOSED}`,
      );
      return {};
    }
    if (names.length > 0) auth.responseHeaders = [...new Set(names.map((h) => h.toLowerCase()))];
  }

  // Read whether or not a key is set, as ingress-nginx does: a bad one denies the location.
  let durationText = read('auth-cache-duration') ?? DEFAULT_AUTH_CACHE_DURATION;
  if (!EXTENDED_CHARS.test(durationText)) {
    problem(
      'auth-cache-duration',
      `'${durationText}' has characters ingress-nginx refuses; using ${DEFAULT_AUTH_CACHE_DURATION}`,
    );
    durationText = DEFAULT_AUTH_CACHE_DURATION;
  }
  const valid = parseAuthCacheDuration(durationText);
  if (typeof valid === 'string') {
    problem('auth-cache-duration', `'${durationText}' ${valid}${CLOSED}`);
    return {};
  }
  const cacheKey = read('auth-cache-key');
  if (cacheKey !== undefined) {
    const why = CACHE_KEY_CHARS.test(cacheKey)
      ? authCacheKeyProblem(cacheKey)
      : 'has characters ingress-nginx refuses (letters, digits, - _ $ { })';
    if (why === undefined) auth.cache = { key: cacheKey, valid };
    else problem('auth-cache-key', `'${cacheKey}' ${why}; every request asks the auth service`);
  }

  let param = read('auth-signin-redirect-param') ?? DEFAULT_SIGNIN_REDIRECT_PARAM;
  if (!URL_CHARS.test(param) || /[?&=]/.test(param)) {
    problem(
      'auth-signin-redirect-param',
      `'${param}' is not a query parameter name; using ${DEFAULT_SIGNIN_REDIRECT_PARAM}`,
    );
    param = DEFAULT_SIGNIN_REDIRECT_PARAM;
  }
  const signin = read('auth-signin');
  if (signin !== undefined) {
    const why = URL_WITH_VARIABLES.test(signin)
      ? authUrlProblem(signinTemplate(signin, param))
      : 'has characters ingress-nginx refuses';
    if (why === undefined) auth.signin = signinTemplate(signin, param);
    else problem('auth-signin', `'${signin}' ${why}; a 401 is passed on instead of a redirect`);
  }

  const requestRedirect = read('auth-request-redirect');
  if (requestRedirect !== undefined) {
    if (URL_CHARS.test(requestRedirect) && requestRedirect.length <= MAX_AUTH_URL_LENGTH) {
      auth.requestRedirect = requestRedirect;
    } else {
      problem(
        'auth-request-redirect',
        `'${requestRedirect}' has characters ingress-nginx refuses; X-Auth-Request-Redirect is the request URI`,
      );
    }
  }

  const always = read('auth-always-set-cookie');
  if (always !== undefined) {
    if (parseNginxBool(always) === true) auth.alwaysSetCookie = true;
    else if (parseNginxBool(always) !== false)
      problem('auth-always-set-cookie', `'${always}' is not true or false; using false`);
  }
  return auth;
}
