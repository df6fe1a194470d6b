/**
 * The key of ingress-nginx's `upstream-hash-by`: an nginx string of literal text and request
 * variables (`$request_uri`, `$remote_addr`, `$http_x_user`, `${cookie_session}`…), compiled
 * once into parts that the dataplane fills in per request, and the endpoint a key maps to
 * (rendezvous hashing: every endpoint keeps its keys when others come and go). Pure.
 */

/** One piece of a hash key: literal text, or a request variable. */
export type HashKeyPart =
  | { text: string }
  | {
      variable: 'request_uri' | 'uri' | 'args' | 'remote_addr' | 'host' | 'scheme';
    }
  | { variable: 'http' | 'cookie' | 'arg'; name: string };

const SIMPLE: ReadonlyMap<string, HashKeyPart> = new Map<string, HashKeyPart>([
  ['request_uri', { variable: 'request_uri' }],
  ['uri', { variable: 'uri' }],
  ['document_uri', { variable: 'uri' }],
  ['args', { variable: 'args' }],
  ['query_string', { variable: 'args' }],
  ['remote_addr', { variable: 'remote_addr' }],
  ['binary_remote_addr', { variable: 'remote_addr' }],
  ['host', { variable: 'host' }],
  ['scheme', { variable: 'scheme' }],
]);
const PREFIXED = ['http_', 'cookie_', 'arg_'] as const;
/** Longest key template accepted. */
export const MAX_HASH_KEY_LENGTH = 256;

/**
 * The parts of `template`, or a string saying why it cannot be one: nginx's `$name` or
 * `${name}` variables among those listed, anything else literal.
 */
export function compileHashKey(template: string): HashKeyPart[] | string {
  if (template.length === 0 || template.length > MAX_HASH_KEY_LENGTH) {
    return `must be 1-${MAX_HASH_KEY_LENGTH} characters`;
  }
  if (!/^[\x20-\x7e]*$/.test(template)) return 'must be visible ASCII';
  const parts: HashKeyPart[] = [];
  const pattern = /\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g;
  let last = 0;
  for (const match of template.matchAll(pattern)) {
    if (match.index > last) parts.push({ text: template.slice(last, match.index) });
    const name = (match[1] ?? match[2] ?? '').toLowerCase();
    const part = variable(name);
    if (part === undefined) {
      return `$${name} is not a variable Pier knows (request_uri, uri, args, remote_addr, host, scheme, http_*, cookie_*, arg_*)`;
    }
    parts.push(part);
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push({ text: template.slice(last) });
  if (!parts.some((p) => 'variable' in p))
    return 'names no request variable, so every request would hash alike';
  return parts;
}

function variable(name: string): HashKeyPart | undefined {
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
 * FNV-1a, 32 bits, over the UTF-16 code units of `text`, then MurmurHash3's finalizer: FNV
 * alone mixes its last characters poorly, and the endpoint ids differ mostly at the end.
 */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * The index in `ids` that `key` maps to: the highest FNV-1a(`key|id`) (rendezvous hashing), so
 * a key stays on its endpoint while that endpoint is there, whatever else changes. Ties (never
 * in practice) go to the first. `ids` is not empty.
 */
export function rendezvousIndex(key: string, ids: readonly string[]): number {
  let best = 0;
  let bestWeight = -1;
  for (let i = 0; i < ids.length; i++) {
    const weight = fnv1a(`${key}|${ids[i]}`);
    if (weight > bestWeight) {
      best = i;
      bestWeight = weight;
    }
  }
  return best;
}
