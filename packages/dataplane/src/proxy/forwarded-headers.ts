/**
 * The header rewriting of a reverse proxy, as pure functions: hop-by-hop headers removed in both
 * directions (RFC 9110 §7.6.1), `X-Forwarded-*` and `X-Real-IP` set the way ingress-nginx sets
 * them, and the facts the proxy needs about the request head (Host, body framing) collected in
 * the same single pass over the raw headers.
 *
 * Header names keep the case the client sent; values are never re-encoded.
 */
import { unmapIPv4 } from '@pier/shared';

/** Who sent the request and how it arrived. */
export interface ForwardingContext {
  /** The peer's address (`socket.remoteAddress`); an IPv4-mapped form is accepted. */
  remoteAddress: string;
  /**
   * Whether the peer is a trusted proxy: then its `X-Forwarded-For` is extended instead of
   * replaced, and its `X-Forwarded-Proto`/`-Host`/`-Port` and `X-Real-IP` are kept.
   */
  trusted: boolean;
  /** The scheme the client used to reach Pier. */
  scheme: 'http' | 'https';
  /** The local port the client connected to. */
  localPort: number;
  /**
   * A protocol upgrade (WebSocket...) that is passed through: `Upgrade` is kept and
   * `Connection: Upgrade` is sent; otherwise both are removed.
   */
  upgrade: boolean;
}

/** The upstream request head and what the proxy must know about the client's. */
export interface ForwardedRequest {
  /** Flat name/value list for the upstream request. Host is kept as sent. */
  headers: string[];
  /** The first Host header, as sent; undefined when absent. */
  host: string | undefined;
  /** How many Host headers the client sent; more than one is refused with 400. */
  hostCount: number;
  /** The first Content-Length, as sent. */
  contentLength: string | undefined;
  /** Whether a Transfer-Encoding header was sent (the body is chunked). */
  chunked: boolean;
}

/**
 * Hop-by-hop headers (lower case): they describe one connection, never the message, and are
 * dropped in both directions. `te` is special-cased in requests (`te: trailers` survives).
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

/** Whether a header (lower-case name) is hop-by-hop by definition. */
export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName);
}

/**
 * The header names a Connection header lists (RFC 9110 §7.6.1: they are hop-by-hop too), lower
 * case, without the connection options `close`, `keep-alive` and `upgrade`, which are not
 * header names Pier would otherwise forward. Undefined when there are none (the usual case).
 */
export function connectionTokens(
  values: string | readonly string[] | undefined,
): Set<string> | undefined {
  if (values === undefined) return undefined;
  // The usual single option, without splitting (every keep-alive response carries one).
  if (typeof values === 'string' && !values.includes(',')) {
    const only = values.trim().toLowerCase();
    if (only === 'keep-alive' || only === 'close' || only === 'upgrade' || only === '') {
      return undefined;
    }
  }
  let tokens: Set<string> | undefined;
  for (const value of typeof values === 'string' ? [values] : values) {
    for (const part of value.split(',')) {
      const token = part.trim().toLowerCase();
      if (token === '' || token === 'close' || token === 'keep-alive' || token === 'upgrade') {
        continue;
      }
      tokens ??= new Set();
      tokens.add(token);
    }
  }
  return tokens;
}

/** The client address as written in forwarding headers: IPv4-mapped IPv6 unmapped, no brackets. */
export function clientAddress(remoteAddress: string | undefined): string {
  return remoteAddress === undefined ? '' : unmapIPv4(remoteAddress);
}

/** Connection header values in a raw header list; undefined when there is none. */
function rawConnectionValues(raw: readonly string[]): string[] | undefined {
  let values: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 10 && name.toLowerCase() === 'connection') {
      values ??= [];
      values.push(raw[i + 1] as string);
    }
  }
  return values;
}

/**
 * Builds the upstream request headers from the client's raw headers (`req.rawHeaders`: names and
 * values alternating, as received).
 *
 * - Hop-by-hop headers and every header the Connection header names are dropped; `te` is kept as
 *   `te: trailers` when it asks for trailers. `Expect` is dropped too: the listener has already
 *   answered `100 Continue` itself.
 * - Host is kept as sent (the first one; a second one is counted, not forwarded).
 * - `X-Forwarded-For`: the client address; from a trusted proxy, appended to the incoming list.
 * - `X-Forwarded-Proto` / `-Host` / `-Port`: Pier's scheme, the Host header and the local port;
 *   from a trusted proxy, its values win where present.
 * - `X-Real-IP`: the client address; from a trusted proxy, its value wins where present.
 * - For an upgrade, `Upgrade` is kept and `Connection: Upgrade` added.
 */
export function forwardRequestHeaders(
  raw: readonly string[],
  ctx: ForwardingContext,
): ForwardedRequest {
  const named = connectionTokens(rawConnectionValues(raw));
  const headers: string[] = [];
  let host: string | undefined;
  let hostCount = 0;
  let contentLength: string | undefined;
  let chunked = false;
  let forwardedFor: string | undefined;
  let forwardedProto: string | undefined;
  let forwardedHost: string | undefined;
  let forwardedPort: string | undefined;
  let realIp: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    switch (lower) {
      case 'host':
        hostCount++;
        if (host === undefined) {
          host = value;
          headers.push(name, value);
        }
        continue;
      case 'content-length':
        if (contentLength === undefined) {
          contentLength = value;
          headers.push(name, value);
        }
        continue;
      case 'transfer-encoding':
        chunked = true;
        continue;
      case 'upgrade':
        if (ctx.upgrade) headers.push(name, value);
        continue;
      case 'te':
        if (/(?:^|[\s,])trailers(?:$|[\s,;])/i.test(value)) headers.push(name, 'trailers');
        continue;
      case 'connection':
      case 'keep-alive':
      case 'proxy-connection':
      case 'trailer':
      case 'proxy-authorization':
      case 'proxy-authenticate':
      case 'expect':
        continue;
      case 'x-forwarded-for':
        if (ctx.trusted)
          forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        continue;
      case 'x-forwarded-proto':
        if (ctx.trusted) forwardedProto ??= value;
        continue;
      case 'x-forwarded-host':
        if (ctx.trusted) forwardedHost ??= value;
        continue;
      case 'x-forwarded-port':
        if (ctx.trusted) forwardedPort ??= value;
        continue;
      case 'x-real-ip':
        if (ctx.trusted) realIp ??= value;
        continue;
      default:
        if (named?.has(lower) !== true) headers.push(name, value);
    }
  }
  const client = clientAddress(ctx.remoteAddress);
  headers.push(
    'x-forwarded-for',
    forwardedFor === undefined ? client : `${forwardedFor}, ${client}`,
    'x-forwarded-proto',
    forwardedProto ?? ctx.scheme,
  );
  const xfHost = forwardedHost ?? host;
  if (xfHost !== undefined) headers.push('x-forwarded-host', xfHost);
  headers.push(
    'x-forwarded-port',
    forwardedPort ?? String(ctx.localPort),
    'x-real-ip',
    realIp ?? client,
  );
  if (ctx.upgrade) headers.push('connection', 'upgrade');
  return { headers, host, hostCount, contentLength, chunked };
}

/** Response headers as undici reports them: lower-case names, repeated ones as arrays. */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/**
 * Builds the client response headers from the upstream's: hop-by-hop headers and those the
 * Connection header names are dropped (Node frames the response for the client itself); the
 * affinity cookie, when given, is added after the upstream's own `Set-Cookie` headers.
 *
 * @returns a flat name/value list for `res.writeHead`; a value may be an array (repeated header).
 */
export function forwardResponseHeaders(
  upstream: ResponseHeaders,
  setCookie?: string,
): Array<string | string[]> {
  const named = connectionTokens(upstream.connection);
  const headers: Array<string | string[]> = [];
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name) === true) continue;
    headers.push(name, value);
  }
  if (setCookie !== undefined) headers.push('set-cookie', setCookie);
  return headers;
}
