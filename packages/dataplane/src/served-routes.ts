/**
 * What requests are routed by: the route index, the table it was built from, and a balancer per
 * backend, taken from each new table in slices of a few milliseconds (a large table never holds
 * the event loop). What changed is found by identity (a route source keeps the objects of
 * unchanged entries); the new index, TLS contexts and balancers of changed backends are built
 * first, and requests switch to all of them in one step. Pools of endpoints that left and the
 * health checker follow.
 */
import {
  type Backend,
  emptyRouteTable,
  endpointField,
  type PierLogger,
  RouteIndex,
  type RouteTable,
} from '@pier/shared';
import type { DataplaneMetrics } from './dataplane-metrics.ts';
import type { DataplaneHealth } from './dataplane-parts.ts';
import { BackendBalancer } from './proxy/backend-balancer.ts';
import type { UpstreamDispatchers } from './proxy/upstream-dispatchers.ts';
import type { TlsStore } from './tls/tls-store.ts';

/** Backends handled per step of a table update. */
const BACKENDS_PER_STEP = 32;

/** What a table update changes besides the routes themselves. */
export interface ServedRoutesDeps {
  dispatchers: UpstreamDispatchers;
  metrics: DataplaneMetrics;
  logger: PierLogger;
}

/** The routes requests see now; see the module comment. */
export class ServedRoutes {
  readonly #deps: ServedRoutesDeps;
  #index = new RouteIndex(emptyRouteTable());
  #table: RouteTable | undefined;
  readonly #balancers = new Map<string, BackendBalancer>();
  /** Per endpoint id, how many backends of the table list it: its pool lives while any does. */
  readonly #endpointRefs = new Map<string, number>();

  constructor(deps: ServedRoutesDeps) {
    this.#deps = deps;
  }

  get index(): RouteIndex {
    return this.#index;
  }

  /** The table served, once one has been applied. */
  get table(): RouteTable | undefined {
    return this.#table;
  }

  balancer(backendId: string): BackendBalancer | undefined {
    return this.#balancers.get(backendId);
  }

  /** Applies `table` a few entries per step (run it with `runSliced`). */
  *apply(
    table: RouteTable,
    tls: TlsStore | undefined,
    health: DataplaneHealth | undefined,
  ): Generator<void> {
    const { metrics } = this.#deps;
    const previous = this.#table?.backends ?? {};
    const index = yield* RouteIndex.build(table);
    const staged = new Map<string, BackendBalancer>();
    let step = 0;
    for (const backend of Object.values(table.backends)) {
      if (previous[backend.id] === backend && this.#balancers.has(backend.id)) continue;
      staged.set(backend.id, new BackendBalancer(backend));
      if (++step % BACKENDS_PER_STEP === 0) yield;
    }
    const removed = Object.keys(previous).filter((id) => !Object.hasOwn(table.backends, id));
    yield;
    const problems = tls === undefined ? [] : yield* tls.updating(table, index);
    // One step from here: a request sees the old table or the new one.
    this.#index = index;
    this.#table = table;
    for (const [id, balancer] of staged) {
      const before = this.#balancers.get(id);
      if (before !== undefined) balancer.adopt(before);
      this.#balancers.set(id, balancer);
    }
    for (const id of removed) this.#balancers.delete(id);
    metrics.certificateProblems.set(problems.length);
    metrics.certificates.set(tls?.loaded.size ?? 0);
    metrics.routeRevision.set(table.revision);
    yield;
    // Endpoints still in some backend keep their pools; the others' pools close.
    let left = false;
    const count = (backend: Backend | undefined, by: number): void => {
      for (const e of backend?.endpoints ?? []) {
        const id = endpointField(e.address, e.port);
        const refs = (this.#endpointRefs.get(id) ?? 0) + by;
        if (refs > 0) this.#endpointRefs.set(id, refs);
        else {
          this.#endpointRefs.delete(id);
          left = true;
        }
      }
    };
    for (const id of staged.keys()) {
      count(table.backends[id], 1);
      count(previous[id], -1);
      if (++step % BACKENDS_PER_STEP === 0) yield;
    }
    for (const id of removed) {
      count(previous[id], -1);
      if (++step % BACKENDS_PER_STEP === 0) yield;
    }
    if (left) this.#deps.dispatchers.retain(this.#endpointRefs);
    health?.update(table);
    this.#deps.logger.debug(
      { revision: table.revision, changed: staged.size, removed: removed.length },
      'route table applied',
    );
  }
}
