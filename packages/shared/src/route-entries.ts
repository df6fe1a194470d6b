/**
 * The route table's content held as maps of whole entries, and the keys a change touched: the
 * form in which a large table changes by entry rather than as a whole. The controller's
 * incremental compiler produces it, the publisher writes only the changed entries, and readers
 * patch their table entry by entry (docs/redis-keyspace.md).
 */
import type { Backend, Certificate, RouteTable, VirtualHost } from './route-table.ts';

/** The sections of a route table, in the order readers check them (references point up). */
export const ROUTE_SECTIONS = Object.freeze(['certificates', 'backends', 'virtualHosts'] as const);

/** One of {@link ROUTE_SECTIONS}. */
export type RouteSection = (typeof ROUTE_SECTIONS)[number];

/** The entries of a route table, by key, without the revision. Treat as read-only. */
export interface RouteEntries {
  readonly virtualHosts: ReadonlyMap<string, VirtualHost>;
  readonly backends: ReadonlyMap<string, Backend>;
  readonly certificates: ReadonlyMap<string, Certificate>;
}

/**
 * Keys of the entries that may differ from an earlier state of the same {@link RouteEntries}:
 * set, replaced or removed. A key may be listed although its entry ended up equal; a changed
 * entry is never left out.
 */
export interface ChangedKeys {
  readonly virtualHosts: ReadonlySet<string>;
  readonly backends: ReadonlySet<string>;
  readonly certificates: ReadonlySet<string>;
}

/** Entries with nothing in them. */
export function emptyRouteEntries(): RouteEntries {
  return { virtualHosts: new Map(), backends: new Map(), certificates: new Map() };
}

/** The entries of a table (or of its content), as maps. The values are shared, not copied. */
export function routeEntriesOf(content: Omit<RouteTable, 'revision'>): RouteEntries {
  return {
    virtualHosts: new Map(Object.entries(content.virtualHosts)),
    backends: new Map(Object.entries(content.backends)),
    certificates: new Map(Object.entries(content.certificates)),
  };
}

/** The table of `entries` at `revision`, as plain records. The values are shared, not copied. */
export function routeTableOf(entries: RouteEntries, revision: number): RouteTable {
  return {
    revision,
    virtualHosts: Object.fromEntries(entries.virtualHosts),
    backends: Object.fromEntries(entries.backends),
    certificates: Object.fromEntries(entries.certificates),
  };
}

/** Every key of `entries`: what a change from an unknown state touches. */
export function allKeysOf(entries: RouteEntries): ChangedKeys {
  return {
    virtualHosts: new Set(entries.virtualHosts.keys()),
    backends: new Set(entries.backends.keys()),
    certificates: new Set(entries.certificates.keys()),
  };
}

/**
 * A section record may carry, under this key, a way to ask whether an entry's JSON text may
 * contain a string, answered without parsing the entry (a dataplane's `LazySection` does): a
 * reader can so skip entries that cannot hold a field it looks for. `true` when unsure.
 */
export const ENTRY_TEXT_PROBE: unique symbol = Symbol('pier.entryTextProbe');

/** Answers {@link ENTRY_TEXT_PROBE}'s question. */
export type EntryTextProbe = (key: string, needle: string) => boolean;

/** The record's {@link ENTRY_TEXT_PROBE}, if it has one (a plain object has none: read it). */
export function entryTextProbe(record: object): EntryTextProbe | undefined {
  return (record as { [ENTRY_TEXT_PROBE]?: EntryTextProbe })[ENTRY_TEXT_PROBE];
}
