/**
 * Writes the next version of a route table's entries in place: an entry equal to the one it
 * replaces keeps the old object, and the keys written are recorded, so a consumer learns what
 * changed from {@link EntryWriter.changed} without comparing the table. A change costs what it
 * writes, not a copy of its section: the maps are the compiler's own, read by the publication
 * (which compiles and publishes one after the other) and by nobody else. Pure.
 */
import {
  type ChangedKeys,
  canonicalJson,
  type RouteEntries,
  type RouteSection,
} from '@pier/shared';

type Entry<S extends RouteSection> =
  RouteEntries[S] extends ReadonlyMap<string, infer V> ? V : never;

/** Entries whose maps may be written: the compiler's own. */
export type WritableEntries = { [S in RouteSection]: Map<string, Entry<S>> };

export class EntryWriter {
  readonly #entries: WritableEntries;
  readonly #changed = {
    virtualHosts: new Set<string>(),
    backends: new Set<string>(),
    certificates: new Set<string>(),
  };

  constructor(entries: WritableEntries) {
    this.#entries = entries;
  }

  has(section: RouteSection, key: string): boolean {
    return this.#entries[section].has(key);
  }

  /** Sets `key` of `section` to `value`, or removes it (undefined). */
  set<S extends RouteSection>(section: S, key: string, value: Entry<S> | undefined): void {
    const map = this.#entries[section] as Map<string, Entry<S>>;
    const old = map.get(key);
    if (value === undefined ? old === undefined : old !== undefined && same(old, value)) return;
    if (value === undefined) map.delete(key);
    else map.set(key, value);
    this.#changed[section].add(key);
  }

  /** The entries as written so far. */
  get entries(): RouteEntries {
    return this.#entries;
  }

  /** The keys whose entries were added, replaced or removed. */
  get changed(): ChangedKeys {
    return this.#changed;
  }
}

/** Equal as published: the same canonical JSON. */
function same(a: unknown, b: unknown): boolean {
  return a === b || canonicalJson(a) === canonicalJson(b);
}
