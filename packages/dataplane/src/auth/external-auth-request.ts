/**
 * The auth request of a route with external authentication (ingress-nginx's `auth-url`), and
 * what its response does to the proxied request, as ingress-nginx's auth location builds them
 * (nginx.tmpl, `location = $authPath`). Pure.
 */
import type { ExternalAuth } from '@pier/shared';

/** What the auth request is built from: the client's request as received. */
export interface AuthRequestSource {
  /** The client's headers, as `IncomingMessage.rawHeaders`. */
  rawHeaders: readonly string[];
  /** The client's method. */
  method: string;
  /** The request target as sent (nginx's `$request_uri`). */
  requestUri: string;
  /** `http` or `https` (nginx's `$scheme`). */
  scheme: string;
  /** The client's address, IPv4-mapped unmapped (nginx's `$remote_addr`). */
  remoteAddress: string;
}

/**
 * Not passed from the client's headers: hop-by-hop ones and the body's (nginx's proxy module
 * drops them; the auth request has no body), the Host (set to the auth service's), and
 * X-Forwarded-Proto, which ingress-nginx clears.
 */
const NOT_PASSED: ReadonlySet<string> = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
  'content-length',
  'x-forwarded-proto',
]);

/**
 * The headers of the auth request to `authHost` (the auth URL's host name, without port), a
 * flat name/value list: the client's own, but those above and those set here, then
 * ingress-nginx's X-Original-URL, X-Original-Method, X-Sent-From, X-Real-IP, X-Forwarded-For
 * and X-Auth-Request-Redirect (and with `method`, X-Original-URI and X-Scheme).
 */
export function authRequestHeaders(
  auth: ExternalAuth,
  authHost: string,
  source: AuthRequestSource,
): string[] {
  let httpHost = '';
  const set: string[] = [
    'x-original-url',
    '',
    'x-original-method',
    source.method,
    'x-sent-from',
    'nginx-ingress-controller',
    'x-real-ip',
    source.remoteAddress,
    'x-forwarded-for',
    source.remoteAddress,
    'x-auth-request-redirect',
    auth.requestRedirect ?? source.requestUri,
  ];
  if (auth.method !== undefined) {
    set.push('x-original-uri', source.requestUri, 'x-scheme', source.scheme);
  }
  const replaced = new Set<string>();
  for (let i = 0; i < set.length; i += 2) replaced.add(set[i] as string);
  const headers: string[] = ['host', authHost];
  const raw = source.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === 'host' && httpHost === '') httpHost = raw[i + 1] as string;
    if (NOT_PASSED.has(name) || replaced.has(name)) continue;
    headers.push(raw[i] as string, raw[i + 1] as string);
  }
  set[1] = `${source.scheme}://${httpHost}${source.requestUri}`;
  headers.push(...set);
  return headers;
}

/** A response's headers as undici gives them: lower-case names, repeated ones as arrays. */
export type AuthResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** All values of `name` in `headers`, as a list. */
export function headerValues(headers: AuthResponseHeaders, name: string): string[] {
  const value = headers[name];
  return value === undefined ? [] : typeof value === 'string' ? [value] : [...value];
}

/**
 * Sets the route's `auth-response-headers` in the flat upstream header list `headers`, in
 * place, from the auth response: each replaces the client's header of that name, and one the
 * auth service did not send removes the client's (nginx's `proxy_set_header` with an empty
 * value sends nothing), so a client can never forge them.
 */
export function applyAuthResponseHeaders(
  headers: string[],
  names: readonly string[],
  response: AuthResponseHeaders,
): void {
  const wanted = new Set(names);
  let kept = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] as string;
    if (wanted.has(name.toLowerCase())) continue;
    headers[kept] = name;
    headers[kept + 1] = headers[i + 1] as string;
    kept += 2;
  }
  headers.length = kept;
  for (const name of names) {
    const values = headerValues(response, name);
    if (values.length > 0) headers.push(name, values.join(', '));
  }
}

/**
 * The sign-in location: `signin` filled in (see `route.externalAuth.signin`). Undefined when
 * the filled-in text is not an absolute URL, which the client could not follow.
 */
export function signinLocation(filled: string | undefined): string | undefined {
  if (filled === undefined || !/^https?:\/\/[^/?#\s]/i.test(filled)) return undefined;
  return /^[\x21-\x7e]*$/.test(filled) ? filled : undefined;
}
