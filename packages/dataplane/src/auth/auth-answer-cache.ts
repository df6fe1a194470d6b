/**
 * Auth answers kept for `route.externalAuth.cache` (ingress-nginx's `auth-cache-key`): the
 * status and the few headers a decision uses, by key, for as long as the answer said; the
 * least recently used goes first past the bound. Per dataplane process, in memory. The clock
 * is passed in.
 */
import type { AuthResponseHeaders } from './external-auth-request.ts';

/** A kept answer. */
export interface KeptAnswer {
  status: number;
  /** Only the headers a decision reads (the route's response headers, WWW-Authenticate). */
  headers: AuthResponseHeaders;
}

/** Answers kept per process (ingress-nginx: a 10 MB key zone, 128 MB of answers). */
export const MAX_KEPT_ANSWERS = 4096;
/** Larger answers (their kept headers) are not kept. */
const MAX_ANSWER_BYTES = 8 * 1024;

interface Entry {
  answer: KeptAnswer;
  until: number;
}

/** The cache; see the module comment. */
export class AuthAnswerCache {
  /** Insertion order is use order: a hit moves its entry to the end. */
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;

  constructor(max = MAX_KEPT_ANSWERS) {
    this.#max = max;
  }

  /** The answer kept under `key` at `now` (ms), if any. */
  get(key: string, now: number): KeptAnswer | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.until <= now) return undefined;
    this.#entries.set(key, entry);
    return entry.answer;
  }

  /** Keeps `answer` under `key` for `ms` from `now`, with only the headers `names`. */
  set(
    key: string,
    status: number,
    headers: AuthResponseHeaders,
    names: readonly string[],
    ms: number,
    now: number,
  ): void {
    if (ms <= 0) return;
    const kept: Record<string, string | string[]> = {};
    let bytes = key.length;
    for (const name of names) {
      const value = headers[name];
      if (value === undefined) continue;
      kept[name] = value;
      bytes += name.length + (typeof value === 'string' ? value.length : value.join('').length);
    }
    if (bytes > MAX_ANSWER_BYTES) return;
    this.#entries.delete(key);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    this.#entries.set(key, { answer: { status, headers: kept }, until: now + ms });
  }

  /** How many answers are kept (expired ones included until looked up or pushed out). */
  get size(): number {
    return this.#entries.size;
  }
}
