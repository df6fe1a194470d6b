/**
 * The in-memory store of standalone mode, for route tables: where a cluster's controller
 * publishes to Redis and each dataplane follows, here the compiled table is handed straight to
 * the dataplane of the same process. As in a cluster, each table is validated the way a
 * dataplane validates what it reads (a bad entry is dropped and reported, never the table), an
 * unchanged table is not republished, and every new table gets the next revision. Each table is
 * applied as a delta to the one before (`RouteTableState`, as a dataplane applies the change
 * log): only the entries that changed are validated, and unchanged ones keep their objects.
 */
import type { RouteSource, RouteSourceHandlers } from '@pier/dataplane';
import { diffRouteTables, type RouteTable, RouteTableState } from '@pier/shared';

/** The route table of this process; see the module comment. */
export class MemoryRouteSource implements RouteSource {
  #handlers: RouteSourceHandlers | undefined;
  /** The content as published (what the next delta is made from), at its revision. */
  #published: RouteTable = { revision: 0, virtualHosts: {}, backends: {}, certificates: {} };
  readonly #state = RouteTableState.empty();
  #current: RouteTable | undefined;
  #started = false;

  /** The last table published (with its revision), if any. */
  get table(): RouteTable | undefined {
    return this.#current;
  }

  /** Connects the dataplane; what `DataplaneParts.routes` returns. */
  bind(handlers: RouteSourceHandlers): this {
    this.#handlers = handlers;
    return this;
  }

  /** Hands the current table, if any, to the dataplane. */
  async start(): Promise<void> {
    this.#started = true;
    if (this.#current !== undefined) this.#handlers?.onTable(this.#current);
  }

  async stop(): Promise<void> {
    this.#started = false;
  }

  /** Publishes a compiled table; returns its revision, or undefined when nothing changed. */
  publish(table: Omit<RouteTable, 'revision'>): number | undefined {
    const next = { ...table, revision: this.#published.revision + 1 };
    const delta = diffRouteTables(this.#published, next);
    if (delta === undefined) return undefined;
    this.#published = next;
    const change = this.#state.apply(delta);
    if (change.problems.length > 0) this.#handlers?.onProblems(change.problems);
    this.#current = this.#state.toTable();
    if (this.#started) this.#handlers?.onTable(this.#current);
    return next.revision;
  }
}
