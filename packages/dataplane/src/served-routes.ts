/**
 * What requests are routed by: the route index, the table it was built from, and a balancer per
 * backend. A new table is taken in slices of a few milliseconds (a large table never holds the
 * event loop): the new index and TLS contexts are built first, and requests switch to both, and
 * to the table, in one step. What changed is found by identity (a route source keeps the objects
 * of unchanged entries).
 *
 * Balancers follow the table lazily: a backend's balancer is made, or given the backend's new
 * version, by the first request that needs it, so an update costs nothing per endpoint here,
 * and a backend that takes no traffic costs nothing at all. The pools of endpoints that left
 * close after the switch; the health keeper is told last.
 *
 * A small change can instead be patched in ({@link ServedRoutes.patch}): the route source changed
 * the served table's entries in place and names them, and everything here follows in the same
 * step, looking only at what changed.
 */
import {
  type ChangedKeys,
  emptyRouteTable,
  type PierLogger,
  RouteIndex,
  type RouteTable,
} from '@pier/shared';
import type { DataplaneMetrics } from './dataplane-metrics.ts';
import type { DataplaneHealth } from './dataplane-parts.ts';
import { BackendBalancer } from './proxy/backend-balancer.ts';
import type { UpstreamDispatchers } from './proxy/upstream-dispatchers.ts';
import type { TlsStore } from './tls/tls-store.ts';

/** Balancers or pools looked at per step of a table update. */
const PER_STEP = 64;

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
  /** Balancers made so far, each for the version of its backend it was last given. */
  readonly #balancers = new Map<string, BackendBalancer>();

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

  /**
   * The balancer of a backend of the table served, brought to the table's version of the
   * backend (outstanding counts and the round-robin position carry over); undefined for a
   * backend the table does not have.
   */
  balancer(backendId: string): BackendBalancer | undefined {
    const backend = this.#table?.backends[backendId];
    if (backend === undefined) return undefined;
    const balancer = this.#balancers.get(backendId);
    if (balancer === undefined) {
      const made = new BackendBalancer(backend);
      this.#balancers.set(backendId, made);
      return made;
    }
    if (balancer.backend !== backend) balancer.update(backend);
    return balancer;
  }

  /**
   * Follows the served table changed in place (`table` holds the same section records as the
   * table served, `changed` names the entries set, replaced or removed), in one synchronous step:
   * the index and TLS contexts are patched, the balancers and pools of changed backends follow.
   * The caller makes sure no request runs between the table changing and this call, and that no
   * {@link ServedRoutes.apply} is under way.
   */
  patch(
    table: RouteTable,
    changed: ChangedKeys,
    tls: TlsStore | undefined,
    health: DataplaneHealth | undefined,
  ): void {
    const { metrics, dispatchers } = this.#deps;
    this.#index.patch(table, changed);
    const problems = tls?.patch(table, this.#index, changed.certificates) ?? 0;
    this.#table = table;
    metrics.certificateProblems.set(problems);
    metrics.certificates.set(tls?.loaded.size ?? 0);
    metrics.serverAliases.set(this.#index.aliasCount);
    metrics.routeRevision.set(table.revision);
    const gone: string[] = [];
    for (const backendId of changed.backends) {
      const present = Object.hasOwn(table.backends, backendId);
      if (!present) this.#balancers.delete(backendId);
      for (const endpointId of dispatchers.endpointsOf(backendId)) {
        if (!present || this.balancer(backendId)?.has(endpointId) !== true) gone.push(endpointId);
      }
    }
    dispatchers.closePools(gone);
    health?.update(table);
  }

  /** Applies `table` a few entries per step (run it with `runSliced`). */
  *apply(
    table: RouteTable,
    tls: TlsStore | undefined,
    health: DataplaneHealth | undefined,
  ): Generator<void> {
    const { metrics, dispatchers } = this.#deps;
    const previous = this.#table?.backends ?? {};
    const index = yield* RouteIndex.build(table);
    yield;
    const problems = tls === undefined ? [] : yield* tls.updating(table, index);
    // One step from here: a request sees the old table or the new one.
    this.#index = index;
    this.#table = table;
    metrics.certificateProblems.set(problems.length);
    metrics.certificates.set(tls?.loaded.size ?? 0);
    metrics.serverAliases.set(index.aliasCount);
    metrics.routeRevision.set(table.revision);
    yield;
    let step = 0;
    let removed = 0;
    for (const id of [...this.#balancers.keys()]) {
      if (!Object.hasOwn(table.backends, id) && this.#balancers.delete(id)) removed += 1;
      if (++step % PER_STEP === 0) yield;
    }
    // A pool stays while the backend that made it still lists its endpoint (one another backend
    // shares is made again by that backend's next request).
    const gone: string[] = [];
    for (const [endpointId, backendId] of dispatchers.owners()) {
      const backend = table.backends[backendId];
      const kept =
        backend !== undefined &&
        (previous[backendId] === backend || this.balancer(backendId)?.has(endpointId) === true);
      if (!kept) gone.push(endpointId);
      if (++step % PER_STEP === 0) yield;
    }
    dispatchers.closePools(gone);
    health?.update(table);
    this.#deps.logger.debug(
      { revision: table.revision, balancersRemoved: removed, poolsClosed: gone.length },
      'route table applied',
    );
  }
}
