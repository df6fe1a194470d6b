/**
 * The dispatcher health probes go through: one undici Client (one keep-alive connection) per
 * endpoint origin, kept in a map of its own. A Client rather than a Pool: a probe goes out every
 * few seconds per target, and a table update can start 2,000 first probes a second, where a
 * Pool's extra objects per origin doubled the garbage collector's pauses (measured: longest
 * pause 33 ms with Pools, 14 ms with Clients, at 1,000 refused probes a second). Targets sharing
 * an origin (same endpoint, other path) take turns on its connection.
 *
 * Why not undici's `Agent`: when a connection to an origin fails or closes, the Agent looks for
 * other dispatchers of the same origin by walking all of its dispatchers, so a table with n
 * endpoints costs O(n) per refused or closed probe connection and O(n²) when a table update
 * brings many endpoints that refuse connections at once (measured: 50,000 endpoints blocked the
 * event loop for two minutes). Here a failing connection costs O(1), and the clients of endpoints
 * that left the table are closed by {@link ProbeAgent.release}.
 */
import { Client, Dispatcher } from 'undici';

/**
 * Client options of probes: a keep-alive connection (as Envoy's health checks; a 5 s default
 * interval usually outlives the 4 s idle time, so slow probes reconnect), one request at a time,
 * no h2.
 */
const PROBE_CLIENT_OPTIONS: Client.Options = Object.freeze({
  pipelining: 1,
  keepAliveTimeout: 4_000,
  keepAliveMaxTimeout: 60_000,
  allowH2: false,
});

/** The same over TLS: pods' certificates are not verified (nginx's `proxy_ssl_verify off`). */
const TLS_PROBE_CLIENT_OPTIONS: Client.Options = Object.freeze({
  ...PROBE_CLIENT_OPTIONS,
  connect: { rejectUnauthorized: false },
});

export class ProbeAgent extends Dispatcher {
  readonly #clients = new Map<string, Client>();
  #closed = false;

  /** Origins with a client, e.g. `http://192.0.2.10:8080`. */
  get origins(): number {
    return this.#clients.size;
  }

  override dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    if (this.#closed) throw new Error('the probe agent is closed');
    const origin = String(options.origin);
    let client = this.#clients.get(origin);
    if (client === undefined) {
      client = new Client(
        origin,
        origin.startsWith('https:') ? TLS_PROBE_CLIENT_OPTIONS : PROBE_CLIENT_OPTIONS,
      );
      this.#clients.set(origin, client);
    }
    return client.dispatch(options, handler);
  }

  /**
   * Closes the client of `origin`: its last probe target left the table, or its probe got no
   * answer (nothing worth keeping alive). The next probe of the origin connects anew.
   */
  release(origin: string): void {
    const client = this.#clients.get(origin);
    if (client === undefined) return;
    this.#clients.delete(origin);
    // A probe still in flight finishes or times out on its own; close() waits for it.
    client.close().catch(() => {});
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    const done = this.#closeAll((client) => client.close());
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
    const done = this.#closeAll((client) => client.destroy(err));
    if (cb === undefined) return done;
    done.then(cb, cb);
  }

  async #closeAll(end: (client: Client) => Promise<void>): Promise<void> {
    this.#closed = true;
    const clients = [...this.#clients.values()];
    this.#clients.clear();
    await Promise.allSettled(clients.map(end));
  }
}
