/**
 * The credentials that were accepted lately, so that a keep-alive client (or a browser, which
 * sends them with every request) pays for a bcrypt check once, not per request. Bounded: at most
 * `maxEntries`, least recently used first out, each for `ttlMs` from its check. Only successes
 * are kept: wrong passwords, however many, take no memory here.
 *
 * Keys are SHA-256 digests of the user set's identity and the whole Authorization value, so the
 * cache holds no password, and a changed Secret (sealed anew, so a new identity) matches nothing
 * it held.
 */
import { createHash } from 'node:crypto';

/** Entries at most, by default. */
export const DEFAULT_CACHE_ENTRIES = 4096;
/** How long an accepted credential is trusted without a check, by default, ms. */
export const DEFAULT_CACHE_TTL_MS = 5 * 60_000;

export class CredentialCache {
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Key → expiry; a Map keeps insertion order, which is the recency order here. */
  readonly #entries = new Map<string, number>();

  constructor(options: { maxEntries?: number; ttlMs?: number; now?: () => number } = {}) {
    this.#maxEntries = options.maxEntries ?? DEFAULT_CACHE_ENTRIES;
    this.#ttlMs = options.ttlMs ?? DEFAULT_CACHE_TTL_MS;
    this.#now = options.now ?? performance.now.bind(performance);
  }

  /** Entries held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** The key of `authorization` for the user set `usersId`. */
  key(usersId: string, authorization: string): string {
    return createHash('sha256').update(usersId).update('\0').update(authorization).digest('base64');
  }

  /** Whether `key` was accepted less than the TTL ago. */
  has(key: string): boolean {
    const expires = this.#entries.get(key);
    if (expires === undefined) return false;
    this.#entries.delete(key);
    if (expires <= this.#now()) return false;
    this.#entries.set(key, expires);
    return true;
  }

  /** Remembers an accepted credential. */
  add(key: string): void {
    this.#entries.delete(key);
    this.#entries.set(key, this.#now() + this.#ttlMs);
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
}
