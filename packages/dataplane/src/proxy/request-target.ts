/**
 * The request target and the header edits the request and upgrade handlers share: the
 * origin-form path of what the client asked for, and replacing a header in undici's flat list.
 * Pure.
 */

/** What the proxy sends upstream, derived from the client's request target. */
export interface RequestTarget {
  /** Origin-form path with query. */
  path: string;
  /** The authority of an absolute-form target, which overrides Host (RFC 9112 §3.2.2). */
  authority?: string;
}

/**
 * The request target in origin form. Absolute-form (`http://host/path`) is accepted as
 * RFC 9112 requires of servers: its authority replaces Host. Anything else (`*`, authority
 * form) is undefined: refused with 400.
 */
export function requestTarget(url: string | undefined): RequestTarget | undefined {
  if (url === undefined || url === '') return undefined;
  if (url.charCodeAt(0) === 47 /* '/' */) return { path: url };
  const scheme = /^https?:\/\//i.exec(url);
  if (scheme === null) return undefined;
  const rest = url.slice(scheme[0].length);
  const slash = rest.search(/[/?]/);
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  if (authority === '' || authority.includes('@')) return undefined;
  const tail = slash < 0 ? '/' : rest.slice(slash);
  return { path: tail.startsWith('/') ? tail : `/${tail}`, authority };
}

/** Replaces (or adds) the Host header in a flat header list. */
export function replaceHost(headers: string[], host: string): void {
  replaceHeader(headers, 'host', host);
}

/** Replaces the first `name` header (lowercase) in a flat header list, or adds it. */
export function replaceHeader(headers: string[], name: string, value: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() === name) {
      headers[i + 1] = value;
      return;
    }
  }
  headers.push(name, value);
}
