/**
 * The per-backend health state both checkers keep (`HealthChecker`, `LocalHealthChecker`), and
 * how a new route table changes it: only backends whose object differs from the one known are
 * looked at (a route table keeps the objects of entries that did not change), endpoint by
 * endpoint in sliced steps, so that a table update of any size never holds the event loop long.
 */
import { type Backend, endpointField, type RouteTable } from '@pier/shared';
import { HealthTracker } from './health-state.ts';
import type { PassiveEjector } from './passive-ejector.ts';

/** Endpoints handled per step of {@link applyBackendChanges}. */
const ENDPOINTS_PER_STEP = 64;
/** Removed backends handled per step (each may send a Redis command). */
const BACKENDS_PER_STEP = 16;

/** What a checker knows of one backend. */
export interface BackendHealth {
  backend: Backend;
  tracker: HealthTracker;
  /** Ids of every endpoint in the table (ready or not); shared state of others is ignored. */
  endpoints: Set<string>;
  /** Endpoints that can take traffic (ready, not terminating): the base of maxEjectionPercent. */
  readyCount: number;
  /** When this node last wrote each endpoint's state, ms (the shared checker's). */
  written: Map<string, number>;
}

/** The backends of a table that are new or changed, and the ids of those it no longer has. */
export interface BackendChanges {
  changed: Backend[];
  removed: string[];
}

/**
 * Compares `table` with the known backends by object identity: O(backends), no endpoint read.
 * With `only`, just those backend ids are compared (the keys a delta changed): O(changed).
 */
export function backendChanges(
  known: ReadonlyMap<string, BackendHealth>,
  table: RouteTable,
  only?: Iterable<string>,
): BackendChanges {
  const changed: Backend[] = [];
  const removed: string[] = [];
  if (only !== undefined) {
    for (const id of only) {
      const backend = Object.hasOwn(table.backends, id) ? table.backends[id] : undefined;
      if (backend === undefined) {
        if (known.has(id)) removed.push(id);
      } else if (known.get(id)?.backend !== backend) {
        changed.push(backend);
      }
    }
    return { changed, removed };
  }
  for (const id of known.keys()) if (!Object.hasOwn(table.backends, id)) removed.push(id);
  for (const backend of Object.values(table.backends)) {
    if (known.get(backend.id)?.backend !== backend) changed.push(backend);
  }
  return { changed, removed };
}

/** What {@link applyBackendChanges} tells its caller. */
export interface BackendChangeHooks {
  /** A backend left the table (its state is already dropped). */
  removed(backendId: string): void;
  /** A backend that remains lost these endpoints (their state is already dropped). */
  gone(state: BackendHealth, endpointIds: string[]): void;
  /** A backend is new, or has endpoints new to this node: their shared state is worth reading. */
  fresh(backendId: string): void;
}

/**
 * Applies `changes` to `states` (and drops the ejections of endpoints that left), a few
 * endpoints per step: run it with `runSliced`. A backend's state changes in one step once its
 * endpoints have been read, so `usable` never sees half a backend.
 */
export function* applyBackendChanges(
  states: Map<string, BackendHealth>,
  ejector: PassiveEjector,
  changes: BackendChanges,
  node: string,
  hooks: BackendChangeHooks,
): Generator<void> {
  // One count for the whole update: a step is a few endpoints, of one backend or of several.
  let step = 0;
  for (const id of changes.removed) {
    if (++step % BACKENDS_PER_STEP === 0) yield;
    if (!states.delete(id)) continue;
    ejector.forget(id);
    hooks.removed(id);
  }
  for (const backend of changes.changed) {
    const ids = new Set<string>();
    let readyCount = 0;
    for (const e of backend.endpoints) {
      ids.add(endpointField(e.address, e.port));
      if (e.ready && !e.terminating) readyCount += 1;
      if (++step % ENDPOINTS_PER_STEP === 0) yield;
    }
    const known = states.get(backend.id);
    if (known === undefined) {
      states.set(backend.id, {
        backend,
        tracker: new HealthTracker({ node }),
        endpoints: ids,
        readyCount,
        written: new Map(),
      });
      hooks.fresh(backend.id);
      continue;
    }
    const gone: string[] = [];
    for (const id of known.endpoints) {
      if (!ids.has(id)) gone.push(id);
      if (++step % ENDPOINTS_PER_STEP === 0) yield;
    }
    let hasNew = false;
    for (const id of ids) {
      if (!known.endpoints.has(id)) {
        hasNew = true;
        break;
      }
      if (++step % ENDPOINTS_PER_STEP === 0) yield;
    }
    if (gone.length > 0) {
      known.tracker.forget(ids);
      ejector.forget(backend.id, ids);
      for (const id of gone) known.written.delete(id);
    }
    known.backend = backend;
    known.endpoints = ids;
    known.readyCount = readyCount;
    if (gone.length > 0) hooks.gone(known, gone);
    if (hasNew) hooks.fresh(backend.id);
  }
}
