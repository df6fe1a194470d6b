/**
 * A route table kept entry by entry, the way a reader follows Redis (docs/redis-keyspace.md,
 * "Reading protocol"): the entries *as published* (what the next delta applies to) and the
 * entries *served* (validated), each with the JSON text it is sent and saved as.
 *
 * A delta is validated by what it touches: the entries it sets or removes, and the virtual hosts
 * whose references it makes appear or disappear (a virtual host naming a backend or certificate
 * that a delta adds, or drops). So a reader at revision r serves exactly
 * `validateRouteTable(table r)` whichever way it got there, and a one-entry change costs one
 * entry's validation, whatever the size of the table.
 */
import { InvalidRoutePatchError, RevisionGapError } from './errors.ts';
import { isObject } from './field-reader.ts';
import type { ChangedKeys, RouteSection } from './route-entries.ts';
import { ROUTE_SECTIONS } from './route-entries.ts';
import type { RoutePatch } from './route-patch.ts';
import type { Backend, Certificate, RouteTable, VirtualHost } from './route-table.ts';
import type { Checked, Problem } from './route-table-validation.ts';
import { checkBackend, checkCertificate, checkVirtualHost } from './route-table-validation.ts';

/** A served entry: the validated value and its JSON text (`JSON.stringify(value)`). */
export interface ServedEntry<T> {
  readonly value: T;
  readonly text: string;
}

/** The value type of each section. */
export interface SectionValues {
  virtualHosts: VirtualHost;
  backends: Backend;
  certificates: Certificate;
}

/** What one delta (or a resync) changed in the served entries. */
export interface RouteTableChange {
  /** The revision after the change. */
  revision: number;
  /** Keys whose served entry was added, replaced or removed; no key of an equal entry. */
  changed: ChangedKeys;
  /** Problems of the entries checked for this change (not of the whole table). */
  problems: Problem[];
}

/** A published piece whose text is not JSON: kept in its place, never served. */
class Unparsable {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

type Published = Record<RouteSection, Map<string, unknown>>;
type Served = { [S in RouteSection]: Map<string, ServedEntry<SectionValues[S]>> };
type MutableChanged = { [S in RouteSection]: Set<string> };

/** A route table kept entry by entry; see the module comment. */
export class RouteTableState {
  #revision: number;
  readonly #published: Published = emptySections();
  readonly #served: Served = emptySections() as Served;
  /** Virtual hosts naming each backend or certificate, as published (missing ones too). */
  readonly #referrers = {
    backends: new Map<string, Set<string>>(),
    certificates: new Map<string, Set<string>>(),
  };

  private constructor(revision: number) {
    this.#revision = revision;
  }

  /**
   * The table at `revision` from the pieces read from Redis: per section, entry key → JSON
   * text. A piece that is not JSON, or not a valid entry, is dropped from the served table and
   * reported; it stays in its place in the published one, to be replaced by a later delta.
   */
  static fromPieces(
    revision: number,
    pieces: Partial<Record<RouteSection, Iterable<[string, string]>>>,
  ): { state: RouteTableState; problems: Problem[] } {
    const state = new RouteTableState(revision);
    for (const section of ROUTE_SECTIONS) {
      for (const [key, text] of pieces[section] ?? []) {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          value = new Unparsable(text);
        }
        state.#publish(section, key, value);
      }
    }
    return { state, problems: state.#checkAll() };
  }

  /** The table `table` as published (entries unchecked: validated here). */
  static fromTable(table: RouteTable): { state: RouteTableState; problems: Problem[] } {
    const state = new RouteTableState(table.revision);
    for (const section of ROUTE_SECTIONS) {
      for (const [key, value] of Object.entries(table[section])) {
        state.#publish(section, key, value);
      }
    }
    return { state, problems: state.#checkAll() };
  }

  /** The empty table at revision 0, where every history starts. */
  static empty(): RouteTableState {
    return new RouteTableState(0);
  }

  /** The revision of the table. */
  get revision(): number {
    return this.#revision;
  }

  /** The served entries of a section, by key. Read-only; changes with every delta. */
  served<S extends RouteSection>(section: S): ReadonlyMap<string, ServedEntry<SectionValues[S]>> {
    return this.#served[section];
  }

  /** Number of entries served, all sections together. */
  get size(): number {
    return ROUTE_SECTIONS.reduce((n, s) => n + this.#served[s].size, 0);
  }

  /**
   * Applies a delta in place, checking the entries it touches and the virtual hosts whose
   * references it changes. All or nothing: a delta that does not apply changes nothing.
   *
   * @throws RevisionGapError when `patch.fromRevision` is not this table's revision.
   * @throws InvalidRoutePatchError when the revisions do not advance or a key is both set and
   *   removed.
   */
  apply(patch: RoutePatch): RouteTableChange {
    if (patch.fromRevision !== this.#revision) {
      throw new RevisionGapError(
        `patch ${patch.fromRevision}→${patch.toRevision} does not follow table revision ${this.#revision}`,
        { details: { tableRevision: this.#revision, fromRevision: patch.fromRevision } },
      );
    }
    if (!(patch.toRevision > patch.fromRevision)) {
      throw new InvalidRoutePatchError(
        `patch must advance the revision, got ${patch.fromRevision}→${patch.toRevision}`,
        { details: { fromRevision: patch.fromRevision, toRevision: patch.toRevision } },
      );
    }
    for (const section of ROUTE_SECTIONS) {
      const set = patch.set[section] ?? {};
      for (const key of patch.remove[section] ?? []) {
        if (Object.hasOwn(set, key)) {
          throw new InvalidRoutePatchError(`patch both sets and removes ${section} '${key}'`, {
            details: { section, key },
          });
        }
      }
    }
    const touched = emptySections<Set<string>>(() => new Set());
    for (const section of ROUTE_SECTIONS) {
      for (const key of patch.remove[section] ?? []) {
        this.#unpublish(section, key);
        touched[section].add(key);
      }
      for (const [key, value] of Object.entries(patch.set[section] ?? {})) {
        this.#publish(section, key, value);
        touched[section].add(key);
      }
    }
    this.#revision = patch.toRevision;
    return { revision: this.#revision, ...this.#check(touched) };
  }

  /**
   * Compares this table with `other` (the table served before a resync), takes over `other`'s
   * entry objects where the text is equal, so consumers that compare entries by identity see no
   * change there, and returns the keys whose served entry differs (present in one only, or with
   * another text).
   */
  adopt(other: RouteTableState | undefined): ChangedKeys {
    const changed = emptySections<Set<string>>(() => new Set());
    for (const section of ROUTE_SECTIONS) {
      const mine = this.#served[section] as Map<string, ServedEntry<unknown>>;
      const theirs = (other === undefined ? new Map() : other.#served[section]) as Map<
        string,
        ServedEntry<unknown>
      >;
      for (const [key, entry] of mine) {
        const before = theirs.get(key);
        if (before?.text === entry.text) mine.set(key, before);
        else changed[section].add(key);
      }
      for (const key of theirs.keys()) if (!mine.has(key)) changed[section].add(key);
    }
    return changed;
  }

  /** The served table as plain records (a new object; O(table)). */
  toTable(): RouteTable {
    const record = <S extends RouteSection>(section: S) =>
      Object.fromEntries([...this.#served[section]].map(([k, e]) => [k, e.value])) as Record<
        string,
        SectionValues[S]
      >;
    return {
      revision: this.#revision,
      virtualHosts: record('virtualHosts'),
      backends: record('backends'),
      certificates: record('certificates'),
    };
  }

  /**
   * The served table as JSON text (`decodeRouteTable` reads it back), made of the entries' texts:
   * O(table), but no entry is encoded again. Not canonical: keys are in insertion order.
   */
  encode(): string {
    return [...this.encodeChunks()].join('');
  }

  /**
   * {@link RouteTableState.encode}'s text in pieces of about `chunkChars`, made as they are
   * read: for writing a large table out without building it whole (each piece is short-lived
   * garbage). The table is the one at the call, even if the state changes before the last
   * piece is read (served entries are immutable; the call copies only their references).
   */
  encodeChunks(chunkChars = 64 * 1024): Iterable<string> {
    const revision = this.#revision;
    const sections = ROUTE_SECTIONS.map(
      (section) => [section, [...this.#served[section]]] as const,
    );
    return (function* () {
      let chunk = `{"revision":${revision}`;
      for (const [section, entries] of sections) {
        chunk += `,${JSON.stringify(section)}:{`;
        let first = true;
        for (const [key, entry] of entries) {
          chunk += `${first ? '' : ','}${JSON.stringify(key)}:${entry.text}`;
          first = false;
          if (chunk.length >= chunkChars) {
            yield chunk;
            chunk = '';
          }
        }
        chunk += '}';
      }
      yield `${chunk}}`;
    })();
  }

  #publish(section: RouteSection, key: string, value: unknown): void {
    if (section === 'virtualHosts') this.#unrefer(key);
    this.#published[section].set(key, value);
    if (section === 'virtualHosts') this.#refer(key, value);
  }

  #unpublish(section: RouteSection, key: string): void {
    if (section === 'virtualHosts') this.#unrefer(key);
    this.#published[section].delete(key);
  }

  #refer(vhostKey: string, value: unknown): void {
    const refs = referencesOf(value);
    for (const kind of ['backends', 'certificates'] as const) {
      for (const id of refs[kind]) {
        const referrers = this.#referrers[kind];
        let set = referrers.get(id);
        if (set === undefined) {
          set = new Set();
          referrers.set(id, set);
        }
        set.add(vhostKey);
      }
    }
  }

  #unrefer(vhostKey: string): void {
    const old = this.#published.virtualHosts.get(vhostKey);
    if (old === undefined) return;
    const refs = referencesOf(old);
    for (const kind of ['backends', 'certificates'] as const) {
      for (const id of refs[kind]) {
        const set = this.#referrers[kind].get(id);
        set?.delete(vhostKey);
        if (set?.size === 0) this.#referrers[kind].delete(id);
      }
    }
  }

  #checkAll(): Problem[] {
    const all = emptySections<Set<string>>(() => new Set());
    for (const section of ROUTE_SECTIONS) {
      for (const key of this.#published[section].keys()) all[section].add(key);
    }
    return this.#check(all).problems;
  }

  /**
   * Checks the touched entries, certificates and backends first (references point up), then the
   * touched virtual hosts and those naming a certificate or backend that appeared or vanished.
   */
  #check(touched: MutableChanged): { changed: ChangedKeys; problems: Problem[] } {
    const changed = emptySections<Set<string>>(() => new Set());
    const problems: Problem[] = [];
    const vhosts = touched.virtualHosts;
    for (const section of ['certificates', 'backends'] as const) {
      for (const key of touched[section]) {
        const had = this.#served[section].has(key);
        if (this.#recheck(section, key, problems)) changed[section].add(key);
        if (had !== this.#served[section].has(key)) {
          for (const vhost of this.#referrers[section].get(key) ?? []) vhosts.add(vhost);
        }
      }
    }
    for (const key of vhosts) {
      if (this.#recheck('virtualHosts', key, problems)) changed.virtualHosts.add(key);
    }
    return { changed, problems };
  }

  /** Validates one entry again; true when its served entry changed. */
  #recheck(section: RouteSection, key: string, problems: Problem[]): boolean {
    const served = this.#served[section] as Map<string, ServedEntry<unknown>>;
    const previous = served.get(key);
    const published = this.#published[section];
    if (!published.has(key)) return served.delete(key);
    const checked = this.#checkEntry(section, key, published.get(key));
    problems.push(...checked.problems);
    if (checked.value === undefined) return served.delete(key);
    const text = JSON.stringify(checked.value);
    if (previous?.text === text) return false; // equal: the entry keeps its object
    served.set(key, { value: checked.value, text });
    return true;
  }

  #checkEntry(section: RouteSection, key: string, value: unknown): Checked<unknown> {
    if (value instanceof Unparsable) {
      return {
        value: undefined,
        problems: [{ section, key, field: '', message: 'is not valid JSON; dropped' }],
      };
    }
    switch (section) {
      case 'certificates':
        return checkCertificate(key, value);
      case 'backends':
        return checkBackend(key, value);
      case 'virtualHosts':
        return checkVirtualHost(key, value, {
          hasBackend: (id) => this.#served.backends.has(id),
          hasCertificate: (id) => this.#served.certificates.has(id),
        });
    }
  }
}

/** The backends and certificates a published virtual host names, whatever else is wrong with it. */
function referencesOf(value: unknown): { backends: string[]; certificates: string[] } {
  const refs = { backends: [] as string[], certificates: [] as string[] };
  if (!isObject(value)) return refs;
  if (Array.isArray(value.routes)) {
    for (const route of value.routes) {
      if (isObject(route) && typeof route.backend === 'string') refs.backends.push(route.backend);
    }
  }
  if (typeof value.defaultBackend === 'string') refs.backends.push(value.defaultBackend);
  if (isObject(value.tls) && typeof value.tls.certificate === 'string') {
    refs.certificates.push(value.tls.certificate);
  }
  return refs;
}

function emptySections<T = Map<string, unknown>>(
  make: () => T = () => new Map() as T,
): Record<RouteSection, T> {
  return { virtualHosts: make(), backends: make(), certificates: make() };
}
