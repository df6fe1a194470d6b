/**
 * Host matching with Kubernetes Ingress semantics (`spec.rules[].host`):
 * exact names, `*.example.com` wildcards covering exactly one label, and '' for any host.
 */
import { isIP } from 'node:net';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const MAX_DNS_NAME_LENGTH = 253;
const MAX_DNS_LABEL_LENGTH = 63;

/**
 * Turns a Host header (or `:authority`, or a TLS server name) into the form hosts are matched in:
 * lowercase, without `:port`, without the brackets of `[v6]:port`, and without one trailing dot
 * (`example.com.` is the same name as `example.com`). Returns '' for an empty or absent header.
 *
 * A port that is not all digits is left in place on purpose, so a malformed header such as
 * `example.com:x` matches no host rule instead of being repaired into one.
 */
export function normalizeHost(hostHeader: string | undefined): string {
  if (hostHeader === undefined) return '';
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close > 0 && (close === host.length - 1 || isPort(host.slice(close + 1)))) {
      return host.slice(1, close);
    }
    return host;
  }
  const colon = host.indexOf(':');
  // More than one colon means a bare IPv6 address, which has no port to strip.
  if (colon >= 0 && host.indexOf(':', colon + 1) < 0 && isPort(host.slice(colon))) {
    host = host.slice(0, colon);
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host;
}

/** `:` followed by digits only (`:` alone counts: `example.com:` has an empty port). */
function isPort(suffix: string): boolean {
  return /^:[0-9]*$/.test(suffix);
}

/** True for an Ingress wildcard host such as `*.example.com`. */
export function isWildcardHost(host: string): boolean {
  return host.startsWith('*.');
}

/**
 * Whether a request host matches a host rule, both already normalized ({@link normalizeHost};
 * rules are lowercase by validation). Pattern '' matches every host; `*.foo.com` matches
 * exactly one extra non-empty label (`bar.foo.com`, not `foo.com`, not `baz.bar.foo.com`);
 * anything else must be equal.
 */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '') return true;
  if (!isWildcardHost(pattern)) return pattern === host;
  const suffix = pattern.slice(1); // '.foo.com'
  if (!host.endsWith(suffix)) return false;
  const label = host.slice(0, host.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}

/**
 * Checks an Ingress host rule as the API server does: an RFC 1123 DNS name, or `*.` followed by
 * one, lowercase, no IP address, no port. '' is accepted: it is the "any host" rule.
 *
 * @returns a message saying what is wrong, or undefined when the host is acceptable.
 */
export function validateIngressHost(host: string): string | undefined {
  if (host === '') return undefined;
  if (host.includes(':')) {
    return isIP(host) !== 0 ? 'must be a DNS name, not an IP address' : 'must not contain a port';
  }
  if (isIP(host) !== 0) return 'must be a DNS name, not an IP address';
  const name = isWildcardHost(host) ? host.slice(2) : host;
  if (name.includes('*')) return "a wildcard is only allowed as the whole first label ('*.')";
  if (name !== name.toLowerCase()) return 'must be lowercase';
  if (name.length === 0) return 'must not be empty after the wildcard';
  if (name.length > MAX_DNS_NAME_LENGTH) {
    return `must be at most ${MAX_DNS_NAME_LENGTH} characters`;
  }
  for (const label of name.split('.')) {
    if (label.length > MAX_DNS_LABEL_LENGTH) {
      return `label '${label}' is longer than ${MAX_DNS_LABEL_LENGTH} characters`;
    }
    if (!DNS_LABEL.test(label)) {
      return label === ''
        ? 'must not contain empty labels (leading, trailing or doubled dots)'
        : `label '${label}' must consist of a-z, 0-9 and '-', and start and end with a letter or digit`;
    }
  }
  return undefined;
}
