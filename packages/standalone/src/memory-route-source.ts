/**
 * The in-memory store of standalone mode, for route tables: where a cluster's controller
 * publishes to Redis and each dataplane follows, here the compiled table is handed straight to
 * the dataplane of the same process. As in a cluster, each table is validated the way a
 * dataplane validates what it reads (a bad entry is dropped and reported, never the table), an
 * unchanged table is not republished, and every new table gets the next revision.
 */
import type { RouteSource, RouteSourceHandlers } from '@pier/dataplane';
import { type RouteTable, validateRouteTable } from '@pier/shared';

/** The route table of this process; see the module comment. */
export class MemoryRouteSource implements RouteSource {
  #handlers: RouteSourceHandlers | undefined;
  #revision = 0;
  #content: string | undefined;
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
    const content = JSON.stringify(table);
    if (content === this.#content) return undefined;
    this.#content = content;
    this.#revision += 1;
    const checked = validateRouteTable({ ...table, revision: this.#revision });
    if (checked.problems.length > 0) this.#handlers?.onProblems(checked.problems);
    this.#current = checked.table;
    if (this.#started) this.#handlers?.onTable(checked.table);
    return this.#revision;
  }
}
