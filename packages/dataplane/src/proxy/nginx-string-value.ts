/**
 * nginx strings (shared nginx-string.ts) filled in from a request as nginx would: the raw path
 * and query as sent, the TCP peer, the Host without port. Templates are compiled once each.
 */
import type { IncomingMessage } from 'node:http';
import {
  basicCredentials,
  compileNginxString,
  cookieValue,
  escapeUri,
  type NginxStringPart,
  unmapIPv4,
  usableUpstreamHost,
} from '@pier/shared';
import { replaceHost } from './request-target.ts';

/** Compiled templates; the route table holds few distinct ones, bounded in case it does not. */
const compiled = new Map<string, NginxStringPart[] | undefined>();
const MAX_TEMPLATES = 1024;
/** Longer than any template a validated route table holds. */
const MAX_TEMPLATE_LENGTH = 4096;

/**
 * `template` filled in from `req`, or undefined when it is not an nginx string Pier knows (the
 * table was validated, so only a newer controller's variable can get here).
 */
export function nginxStringOf(template: string, req: IncomingMessage): string | undefined {
  let parts = compiled.get(template);
  if (parts === undefined && !compiled.has(template)) {
    if (compiled.size >= MAX_TEMPLATES) compiled.clear();
    const result = compileNginxString(template, MAX_TEMPLATE_LENGTH);
    parts = typeof result === 'string' ? undefined : result;
    compiled.set(template, parts);
  }
  if (parts === undefined) return undefined;
  let text = '';
  for (const part of parts) text += 'text' in part ? part.text : value(part, req);
  return text;
}

/** nginx's `$scheme`: https on a TLS connection. */
export function requestScheme(req: IncomingMessage): 'http' | 'https' {
  return (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
}

function value(part: Exclude<NginxStringPart, { text: string }>, req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  switch (part.variable) {
    case 'request_uri':
      return url;
    case 'escaped_request_uri':
      return escapeUri(url);
    case 'uri':
      return q < 0 ? url : url.slice(0, q);
    case 'args':
      return q < 0 ? '' : url.slice(q + 1);
    case 'remote_addr':
      return unmapIPv4(req.socket.remoteAddress ?? '');
    case 'scheme':
      return requestScheme(req);
    case 'request_method':
      return req.method ?? 'GET';
    case 'remote_user':
      return basicCredentials(req.headers.authorization)?.user ?? '';
    case 'host': {
      const host = (req.headers.host ?? '').toLowerCase();
      return host.startsWith('[')
        ? host.slice(0, host.indexOf(']') + 1)
        : (host.split(':')[0] ?? '');
    }
    case 'http': {
      const header = req.headers[part.name];
      return Array.isArray(header) ? header.join(', ') : (header ?? '');
    }
    case 'cookie':
      return cookieValue(req.headers.cookie, part.name) ?? '';
    case 'arg': {
      if (q < 0) return '';
      for (const pair of url.slice(q + 1).split('&')) {
        const eq = pair.indexOf('=');
        if ((eq < 0 ? pair : pair.slice(0, eq)) === part.name)
          return eq < 0 ? '' : pair.slice(eq + 1);
      }
      return '';
    }
  }
}

/**
 * Sends a route's `upstreamHost` (ingress-nginx's `upstream-vhost`), filled in from `req`, as
 * the Host in `headers` (undici's flat list). A value that fills in to no Host (a `$http_*`
 * variable brings the client's text) keeps the client's.
 */
export function applyUpstreamHost(headers: string[], template: string, req: IncomingMessage): void {
  const host = template.includes('$') ? nginxStringOf(template, req) : template;
  if (host !== undefined && usableUpstreamHost(host)) replaceHost(headers, host);
}
