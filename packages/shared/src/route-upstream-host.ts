/**
 * A route's `upstreamHost`: the Host header sent to its endpoints instead of the client's
 * (ingress-nginx's `upstream-vhost`, which sets nginx's `proxy_set_header Host`). An nginx
 * string: literal host characters and nginx variables (nginx-string.ts), filled in per request
 * by the dataplane. X-Forwarded-Host keeps the client's host, as ingress-nginx's does.
 */
import { compileNginxString } from './nginx-string.ts';

/** The longest `upstreamHost` template: a host name's 253 characters and a port. */
export const MAX_UPSTREAM_HOST_LENGTH = 260;

/** Characters of a host, a port and an IPv6 literal's brackets. */
const HOST_TEXT = /^[A-Za-z0-9.\-_~:[\]]*$/;

/** What a filled-in Host may be: visible ASCII, no delimiter of a URL's authority. */
const HOST_VALUE = /^[\x21-\x7e]+$/;
const NOT_IN_HOST = /[/?#@,\\"'<>`{}|^]/;

/**
 * Why `value` cannot be a route's `upstreamHost`, or undefined: its literal text must be
 * host characters (ingress-nginx's server-name check lets through more, which nginx would send
 * as they are), its variables ones Pier knows.
 */
export function upstreamHostProblem(value: string): string | undefined {
  const parts = compileNginxString(value, MAX_UPSTREAM_HOST_LENGTH);
  if (typeof parts === 'string') return parts;
  for (const part of parts) {
    if ('text' in part && !HOST_TEXT.test(part.text)) {
      return "is not a host: letters, digits, '.', '-', '_', '~', ':', an IPv6 address's brackets and nginx variables";
    }
  }
  return undefined;
}

/**
 * Whether `host`, an `upstreamHost` filled in from a request (a `$http_*` variable brings the
 * client's text), can be sent as the Host header; when not, the client's Host is kept.
 */
export function usableUpstreamHost(host: string): boolean {
  return (
    host.length <= MAX_UPSTREAM_HOST_LENGTH && HOST_VALUE.test(host) && !NOT_IN_HOST.test(host)
  );
}
