/**
 * Route patches: the unit of the change log. A patch takes a table from one revision to the next
 * by whole entries (set or remove by key), so applying it needs no merge logic and a reader that
 * missed one simply resyncs from the snapshot.
 */
import { InvalidRoutePatchError, RevisionGapError } from './errors.ts';
import { canonicalJson } from './route-codec.ts';
import type { Backend, Certificate, RouteTable, VirtualHost } from './route-table.ts';

/** The sections of a route table that patches change. */
export const PATCH_SECTIONS = Object.freeze(['virtualHosts', 'backends', 'certificates'] as const);

/** One of {@link PATCH_SECTIONS}. */
export type PatchSection = (typeof PATCH_SECTIONS)[number];

/** The change from table revision `fromRevision` to `toRevision`. */
export interface RoutePatch {
  /** The revision the patch applies to; a reader at another revision must resync. */
  fromRevision: number;
  /** The revision of the table after the patch; greater than `fromRevision`. */
  toRevision: number;
  /** Entries added or replaced whole, by key. */
  set: {
    virtualHosts?: Record<string, VirtualHost>;
    backends?: Record<string, Backend>;
    certificates?: Record<string, Certificate>;
  };
  /** Keys of entries removed. A key is never both set and removed in one patch. */
  remove: {
    virtualHosts?: string[];
    backends?: string[];
    certificates?: string[];
  };
}

/**
 * The patch that turns `prev` into `next`, or undefined when their content is identical
 * (revisions are not content). Entries are compared by canonical JSON, so key order and object
 * identity do not matter; keys are listed sorted, so equal inputs give byte-equal patches.
 *
 * @throws InvalidRoutePatchError when the content differs but `next.revision` is not greater
 *   than `prev.revision`: such a patch could never be applied.
 */
export function diffRouteTables(prev: RouteTable, next: RouteTable): RoutePatch | undefined {
  const patch: RoutePatch = {
    fromRevision: prev.revision,
    toRevision: next.revision,
    set: {},
    remove: {},
  };
  let changed = false;
  for (const section of PATCH_SECTIONS) {
    const before: Record<string, unknown> = prev[section];
    const after: Record<string, unknown> = next[section];
    const set = Object.keys(after)
      .sort()
      .filter(
        (key) =>
          !Object.hasOwn(before, key) || canonicalJson(before[key]) !== canonicalJson(after[key]),
      );
    const remove = Object.keys(before)
      .sort()
      .filter((key) => !Object.hasOwn(after, key));
    if (set.length > 0) {
      Object.assign(patch.set, { [section]: Object.fromEntries(set.map((k) => [k, after[k]])) });
    }
    if (remove.length > 0) Object.assign(patch.remove, { [section]: remove });
    changed ||= set.length > 0 || remove.length > 0;
  }
  if (!changed) return undefined;
  assertRevisionStep(patch);
  return patch;
}

/**
 * Applies a patch, returning a new table at `patch.toRevision`; `table` is not modified, and
 * sections the patch does not touch are shared with it (tables are immutable by convention).
 * References are not checked here: run `validateRouteTable` on the result before serving it.
 *
 * @throws RevisionGapError when `patch.fromRevision` is not `table.revision`.
 * @throws InvalidRoutePatchError when the revisions do not advance or a key is both set and
 *   removed.
 */
export function applyRoutePatch(table: RouteTable, patch: RoutePatch): RouteTable {
  if (patch.fromRevision !== table.revision) {
    throw new RevisionGapError(
      `patch ${patch.fromRevision}→${patch.toRevision} does not follow table revision ${table.revision}`,
      { details: { tableRevision: table.revision, fromRevision: patch.fromRevision } },
    );
  }
  assertRevisionStep(patch);
  return {
    revision: patch.toRevision,
    virtualHosts: applySection(table.virtualHosts, patch, 'virtualHosts'),
    backends: applySection(table.backends, patch, 'backends'),
    certificates: applySection(table.certificates, patch, 'certificates'),
  };
}

function applySection<T>(
  current: Record<string, T>,
  patch: RoutePatch,
  section: PatchSection,
): Record<string, T> {
  const set = (patch.set[section] ?? {}) as Record<string, T>;
  const remove = patch.remove[section] ?? [];
  const setKeys = Object.keys(set);
  if (setKeys.length === 0 && remove.length === 0) return current;
  const entries = new Map(Object.entries(current));
  for (const key of remove) {
    if (Object.hasOwn(set, key)) {
      throw new InvalidRoutePatchError(`patch both sets and removes ${section} '${key}'`, {
        details: { section, key },
      });
    }
    entries.delete(key);
  }
  for (const key of setKeys) entries.set(key, set[key] as T);
  // fromEntries defines own properties, so even a '__proto__' key cannot reach the prototype.
  return Object.fromEntries(entries);
}

function assertRevisionStep(patch: RoutePatch): void {
  if (!(patch.toRevision > patch.fromRevision)) {
    throw new InvalidRoutePatchError(
      `patch must advance the revision, got ${patch.fromRevision}→${patch.toRevision}`,
      { details: { fromRevision: patch.fromRevision, toRevision: patch.toRevision } },
    );
  }
}
