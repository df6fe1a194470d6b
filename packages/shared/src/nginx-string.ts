/**
 * nginx strings: literal text with request variables (`$request_uri`, `$host`, `$http_x_user`,
 * `${cookie_session}`…), as ingress-nginx annotations write them (`upstream-hash-by`,
 * `auth-url`, `auth-signin`). Compiled once into parts that the dataplane fills in per request
 * (dataplane proxy/nginx-string-value.ts). Pure.
 */

/** One piece of an nginx string: literal text, or a request variable. */
export type NginxStringPart =
  | { text: string }
  | {
      variable:
        | 'request_uri'
        | 'escaped_request_uri'
        | 'uri'
        | 'args'
        | 'remote_addr'
        | 'host'
        | 'scheme'
        | 'request_method'
        | 'remote_user';
    }
  | { variable: 'http' | 'cookie' | 'arg'; name: string };

const SIMPLE: ReadonlyMap<string, NginxStringPart> = new Map<string, NginxStringPart>([
  ['request_uri', { variable: 'request_uri' }],
  // Set by ingress-nginx (set_escape_uri) in every location with auth-signin.
  ['escaped_request_uri', { variable: 'escaped_request_uri' }],
  ['uri', { variable: 'uri' }],
  ['document_uri', { variable: 'uri' }],
  ['args', { variable: 'args' }],
  ['query_string', { variable: 'args' }],
  ['remote_addr', { variable: 'remote_addr' }],
  ['binary_remote_addr', { variable: 'remote_addr' }],
  ['host', { variable: 'host' }],
  ['scheme', { variable: 'scheme' }],
  // ingress-nginx's own: the scheme, unless forwarded headers are trusted (Pier: the scheme).
  ['pass_access_scheme', { variable: 'scheme' }],
  ['request_method', { variable: 'request_method' }],
  // The user of a Basic Authorization header (ingress-nginx's auth-cache-key example).
  ['remote_user', { variable: 'remote_user' }],
]);
const PREFIXED = ['http_', 'cookie_', 'arg_'] as const;

/** The variables Pier knows, for messages. */
export const NGINX_VARIABLES_KNOWN =
  'request_uri, escaped_request_uri, uri, args, remote_addr, remote_user, host, scheme, request_method, http_*, cookie_*, arg_*';

/**
 * The parts of `template`, or a string saying why it cannot be one: nginx's `$name` or
 * `${name}` variables among {@link NGINX_VARIABLES_KNOWN}, anything else literal; at most
 * `maxLength` visible ASCII characters.
 */
export function compileNginxString(
  template: string,
  maxLength: number,
): NginxStringPart[] | string {
  if (template.length === 0 || template.length > maxLength) {
    return `must be 1-${maxLength} characters`;
  }
  if (!/^[\x20-\x7e]*$/.test(template)) return 'must be visible ASCII';
  const parts: NginxStringPart[] = [];
  const pattern = /\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g;
  let last = 0;
  for (const match of template.matchAll(pattern)) {
    if (match.index > last) parts.push({ text: template.slice(last, match.index) });
    const name = (match[1] ?? match[2] ?? '').toLowerCase();
    const part = variable(name);
    if (part === undefined) {
      return `$${name} is not a variable Pier knows (${NGINX_VARIABLES_KNOWN})`;
    }
    parts.push(part);
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push({ text: template.slice(last) });
  return parts;
}

function variable(name: string): NginxStringPart | undefined {
  const simple = SIMPLE.get(name);
  if (simple !== undefined) return simple;
  for (const prefix of PREFIXED) {
    if (name.startsWith(prefix) && name.length > prefix.length) {
      const rest = name.slice(prefix.length);
      // nginx: `$http_x_user` is the header `X-User`; cookies and arguments as written.
      const header = prefix === 'http_' ? rest.replaceAll('_', '-') : rest;
      return { variable: prefix.slice(0, -1) as 'http' | 'cookie' | 'arg', name: header };
    }
  }
  return undefined;
}

/**
 * nginx's `set_escape_uri` (ingress-nginx's `$escaped_request_uri`): every byte but ASCII
 * letters, digits and `-._~` percent-encoded, upper-case hex.
 */
export function escapeUri(text: string): string {
  let out = '';
  const bytes = Buffer.from(text, 'latin1');
  for (const byte of bytes) {
    if (
      (byte >= 0x30 && byte <= 0x39) ||
      (byte >= 0x41 && byte <= 0x5a) ||
      (byte >= 0x61 && byte <= 0x7a) ||
      byte === 0x2d ||
      byte === 0x2e ||
      byte === 0x5f ||
      byte === 0x7e
    ) {
      out += String.fromCharCode(byte);
    } else {
      out += `%${byte < 16 ? '0' : ''}${byte.toString(16).toUpperCase()}`;
    }
  }
  return out;
}
