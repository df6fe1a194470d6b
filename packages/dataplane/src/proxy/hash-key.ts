/**
 * The key a request hashes by on a backend with `balancing.hashBy` (ingress-nginx's
 * `upstream-hash-by`): its nginx variables filled in from the request as nginx would (raw path
 * and query as sent, the TCP peer, the Host without port). Templates are compiled once each.
 */
import type { IncomingMessage } from 'node:http';
import { compileHashKey, cookieValue, type HashKeyPart, unmapIPv4 } from '@pier/shared';

/** Compiled templates; the route table holds few distinct ones, bounded in case it does not. */
const compiled = new Map<string, HashKeyPart[] | undefined>();
const MAX_TEMPLATES = 1024;

/**
 * The key of `req` under `template`, or undefined when the template is not one (the table was
 * validated, so only a newer controller's variable can get here: the backend's algorithm then
 * applies).
 */
export function hashKeyOf(template: string, req: IncomingMessage): string | undefined {
  let parts = compiled.get(template);
  if (parts === undefined && !compiled.has(template)) {
    if (compiled.size >= MAX_TEMPLATES) compiled.clear();
    const result = compileHashKey(template);
    parts = typeof result === 'string' ? undefined : result;
    compiled.set(template, parts);
  }
  if (parts === undefined) return undefined;
  let key = '';
  for (const part of parts) key += 'text' in part ? part.text : value(part, req);
  return key;
}

function value(part: Exclude<HashKeyPart, { text: string }>, req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  switch (part.variable) {
    case 'request_uri':
      return url;
    case 'uri':
      return q < 0 ? url : url.slice(0, q);
    case 'args':
      return q < 0 ? '' : url.slice(q + 1);
    case 'remote_addr':
      return unmapIPv4(req.socket.remoteAddress ?? '');
    case 'scheme':
      return (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
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
