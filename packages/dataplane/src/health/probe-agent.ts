/**
 * The dispatcher health probes go through: one small undici Pool per endpoint origin, kept in a
 * map of its own.
 *
 * Why not undici's `Agent`: when a connection to an origin fails or closes, the Agent looks for
 * other dispatchers of the same origin by walking all of its dispatchers, so a table with n
 * endpoints costs O(n) per refused or closed probe connection and O(n²) when a table update
 * brings many endpoints that refuse connections at once (measured: 50,000 endpoints blocked the
 * event loop for two minutes). Here a failing connection costs O(1), and pools of endpoints that
 * left the table are closed by {@link ProbeAgent.retain}.
 */
import { Dispatcher, Pool } from 'undici';

/**
 * Pool options of probes: keep-alive connections (as Envoy's health checks; a 5 s default
 * interval usually outlives the 4 s idle time, so slow probes reconnect), one request per
 * connection at a time, a few connections per origin for targets that share it, no h2.
 */
const PROBE_POOL_OPTIONS: Pool.Options = Object.freeze({
  connections: 4,
  pipelining: 1,
  keepAliveTimeout: 4_000,
  keepAliveMaxTimeout: 60_000,
  allowH2: false,
});

export class ProbeAgent extends Dispatcher {
  readonly #pools = new Map<string, Pool>();
  #closed = false;

  /** Origins with a pool, e.g. `http://192.0.2.10:8080`. */
  get origins(): number {
    return this.#pools.size;
  }

  override dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    if (this.#closed) throw new Error('the probe agent is closed');
    const origin = String(options.origin);
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, PROBE_POOL_OPTIONS);
      this.#pools.set(origin, pool);
    }
    return pool.dispatch(options, handler);
  }

  /** Closes the pool of `origin` (its last probe target left the table). */
  release(origin: string): void {
    const pool = this.#pools.get(origin);
    if (pool === undefined) return;
    this.#pools.delete(origin);
    // A probe still in flight finishes or times out on its own; close() waits for it.
    pool.close().catch(() => {});
  }

  /** Closes the pools of every origin not in `origins` (their endpoints left the table). */
  retain(origins: ReadonlySet<string>): void {
    for (const [origin, pool] of this.#pools) {
      if (origins.has(origin)) continue;
      this.#pools.delete(origin);
      // A probe still in flight finishes or times out on its own; close() waits for it.
      pool.close().catch(() => {});
    }
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = this.#closeAll((pool) => pool.close());
    if (callback === undefined) return done;
    done.then(callback, callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(
    errOrCallback?: Error | null | (() => void),
    callback?: () => void,
  ): Promise<void> | void {
    const err = typeof errOrCallback === 'function' ? null : (errOrCallback ?? null);
    const cb = typeof errOrCallback === 'function' ? errOrCallback : callback;
    const done = this.#closeAll((pool) => pool.destroy(err));
    if (cb === undefined) return done;
    done.then(cb, cb);
  }

  async #closeAll(end: (pool: Pool) => Promise<void>): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.allSettled(pools.map(end));
  }
}
