/**
 * Writes a new version of a route table's entries over an older one without touching it:
 * a section is copied only when one of its entries changes, an entry equal to the one it
 * replaces keeps the old object, and the keys written are recorded. So the result shares
 * every unchanged entry (and section) with the version before, and a consumer can diff by
 * reference. Pure.
 */
import {
  type ChangedKeys,
  canonicalJson,
  type RouteEntries,
  type RouteSection,
} from '@pier/shared';

type Entry<S extends RouteSection> =
  RouteEntries[S] extends ReadonlyMap<string, infer V> ? V : never;

export class EntryWriter {
  readonly #base: RouteEntries;
  readonly #copies: { -readonly [S in RouteSection]?: Map<string, Entry<S>> } = {};
  readonly #changed = {
    virtualHosts: new Set<string>(),
    backends: new Set<string>(),
    certificates: new Set<string>(),
  };

  constructor(base: RouteEntries) {
    this.#base = base;
  }

  has(section: RouteSection, key: string): boolean {
    return (this.#copies[section] ?? this.#base[section]).has(key);
  }

  /** Sets `key` of `section` to `value`, or removes it (undefined). */
  set<S extends RouteSection>(section: S, key: string, value: Entry<S> | undefined): void {
    const current = (this.#copies[section] ?? this.#base[section]) as ReadonlyMap<string, Entry<S>>;
    const old = current.get(key);
    if (value === undefined ? old === undefined : old !== undefined && same(old, value)) return;
    let copy = this.#copies[section] as Map<string, Entry<S>> | undefined;
    if (copy === undefined) {
      copy = new Map(current);
      (this.#copies as Record<string, unknown>)[section] = copy;
    }
    if (value === undefined) copy.delete(key);
    else copy.set(key, value);
    this.#changed[section].add(key);
  }

  /** The entries as written so far. */
  get entries(): RouteEntries {
    return {
      virtualHosts: this.#copies.virtualHosts ?? this.#base.virtualHosts,
      backends: this.#copies.backends ?? this.#base.backends,
      certificates: this.#copies.certificates ?? this.#base.certificates,
    };
  }

  /** The keys whose entries differ from the base. */
  get changed(): ChangedKeys {
    return this.#changed;
  }
}

/** Equal as published: the same canonical JSON. */
function same(a: unknown, b: unknown): boolean {
  return a === b || canonicalJson(a) === canonicalJson(b);
}
