/**
 * The key of ingress-nginx's `upstream-hash-by`: an nginx string (nginx-string.ts) of literal
 * text and request variables, and the endpoint a key maps to
 * (rendezvous hashing: every endpoint keeps its keys when others come and go). Pure.
 */

import { compileNginxString, type NginxStringPart } from './nginx-string.ts';

/** One piece of a hash key: literal text, or a request variable (nginx-string.ts). */
export type HashKeyPart = NginxStringPart;

/** Longest key template accepted. */
export const MAX_HASH_KEY_LENGTH = 256;

/**
 * The parts of `template`, or a string saying why it cannot be one: an nginx string
 * (nginx-string.ts) that names at least one request variable.
 */
export function compileHashKey(template: string): HashKeyPart[] | string {
  const parts = compileNginxString(template, MAX_HASH_KEY_LENGTH);
  if (typeof parts === 'string') return parts;
  if (!parts.some((p) => 'variable' in p))
    return 'names no request variable, so every request would hash alike';
  return parts;
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
