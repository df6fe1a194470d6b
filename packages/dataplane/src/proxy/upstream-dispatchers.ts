/**
 * One undici connection pool per upstream endpoint (pod address and port), created on first use
 * and closed when the endpoint leaves the route table. Pools are keyed by endpoint id
 * (`endpointField(address, port)`), the same id balancing and health state use, and remember the
 * backend whose request made them (its owner), which is how a table update finds the pools of
 * endpoints that left without counting every endpoint of the table.
 */
import { endpointField } from '@pier/shared';
import { type Dispatcher, Pool } from 'undici';

/** Options of {@link UpstreamDispatchers}. */
export interface UpstreamDispatcherOptions {
  /** TCP connect timeout, ms (ProxyOptions.connectTimeoutMs). */
  connectTimeoutMs: number;
  /**
   * Most connections open to one endpoint at once; further requests wait in the pool's queue.
   * Default 256.
   */
  connectionsPerEndpoint?: number;
  /**
   * How long an idle keep-alive connection is kept, ms. Default 4000: below the 5 s idle timeout
   * of Node, Apache, uvicorn and many other application servers, so Pier closes an idle
   * connection before the pod does and rarely writes a request into a connection the pod is
   * closing at that moment. A `Keep-Alive: timeout=N` hint from the upstream overrides it (minus
   * a 1 s margin), up to {@link keepAliveMaxTimeoutMs}.
   */
  keepAliveTimeoutMs?: number;
  /** Cap on a keep-alive hint from the upstream, ms. Default 60000. */
  keepAliveMaxTimeoutMs?: number;
  /** Largest upstream response head accepted, bytes; larger is a 502. Default 64 KiB. */
  maxResponseHeaderSize?: number;
}

/** Defaults of {@link UpstreamDispatcherOptions}. */
export const UPSTREAM_DISPATCHER_DEFAULTS = Object.freeze({
  connectionsPerEndpoint: 256,
  keepAliveTimeoutMs: 4_000,
  keepAliveMaxTimeoutMs: 60_000,
  maxResponseHeaderSize: 64 * 1024,
});

/**
 * The upstream connection pools of one dataplane process.
 *
 * Each pool: HTTP/1.1 over plain TCP (pods are reached by IP inside the cluster), keep-alive,
 * pipelining 1 (a request is written only to an idle connection: pipelining multiplies the damage
 * of one slow or failing request), TCP_NODELAY, and undici's per-request header and body timeouts
 * (set by the proxy for each request).
 */
export class UpstreamDispatchers {
  readonly #pools = new Map<string, Pool>();
  /**
   * Per endpoint id, the keys of its pools with a connect timeout of their own (a route's
   * `upstream.connectTimeoutMs`), `${id}~${ms}`; they close with the endpoint's own pool.
   */
  readonly #variants = new Map<string, Set<string>>();
  /** Per pool, the backend whose request made it. */
  readonly #owners = new Map<string, string>();
  /** The endpoint ids of the pools each backend's requests made. */
  readonly #byBackend = new Map<string, Set<string>>();
  readonly #options: Pool.Options;
  readonly #connectTimeoutMs: number;
  #closed = false;

  constructor(options: UpstreamDispatcherOptions) {
    assertPositive('connectTimeoutMs', options.connectTimeoutMs);
    this.#connectTimeoutMs = options.connectTimeoutMs;
    const connections =
      options.connectionsPerEndpoint ?? UPSTREAM_DISPATCHER_DEFAULTS.connectionsPerEndpoint;
    const keepAlive = options.keepAliveTimeoutMs ?? UPSTREAM_DISPATCHER_DEFAULTS.keepAliveTimeoutMs;
    const keepAliveMax =
      options.keepAliveMaxTimeoutMs ?? UPSTREAM_DISPATCHER_DEFAULTS.keepAliveMaxTimeoutMs;
    const maxHeaderSize =
      options.maxResponseHeaderSize ?? UPSTREAM_DISPATCHER_DEFAULTS.maxResponseHeaderSize;
    assertPositive('connectionsPerEndpoint', connections);
    assertPositive('keepAliveTimeoutMs', keepAlive);
    assertPositive('keepAliveMaxTimeoutMs', keepAliveMax);
    assertPositive('maxResponseHeaderSize', maxHeaderSize);
    this.#options = Object.freeze({
      connections,
      pipelining: 1,
      keepAliveTimeout: keepAlive,
      keepAliveMaxTimeout: keepAliveMax,
      keepAliveTimeoutThreshold: 1_000,
      maxHeaderSize,
      // Pods speak HTTP/1.1 over plain TCP; never probe for h2.
      allowH2: false,
      connect: {
        timeout: options.connectTimeoutMs,
        noDelay: true,
        keepAlive: true,
        keepAliveInitialDelay: 60_000,
      },
    });
  }

  /**
   * The pool of an endpoint, created on first use (by a request to `backendId`).
   *
   * @param id the endpoint id when the caller has it (saves building it again).
   * @param connectTimeoutMs a route's own connect timeout: such requests get a pool of their own
   *   to the endpoint (undici sets the timeout per pool), closed with the endpoint's.
   * @param tls the endpoint speaks HTTPS (a backend of `protocol: https`): a pool of its own over
   *   TLS, without SNI, the pod's certificate not verified (nginx's `proxy_ssl_verify off`).
   * @throws Error after {@link close}.
   */
  for(
    address: string,
    port: number,
    id = endpointField(address, port),
    backendId = '',
    connectTimeoutMs?: number,
    tls = false,
  ): Dispatcher {
    const timeout =
      connectTimeoutMs !== undefined && connectTimeoutMs !== this.#connectTimeoutMs
        ? connectTimeoutMs
        : undefined;
    const own = timeout !== undefined || tls;
    const key = own ? `${id}~${timeout ?? ''}${tls ? '~tls' : ''}` : id;
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      if (this.#closed) throw new Error('upstream dispatchers are closed');
      const connect = { ...this.#options.connect } as Record<string, unknown>;
      if (timeout !== undefined) connect.timeout = timeout;
      if (tls) connect.rejectUnauthorized = false;
      const options = own ? { ...this.#options, connect } : this.#options;
      pool = new Pool(`${tls ? 'https' : 'http'}://${id}`, options);
      this.#pools.set(key, pool);
      if (own) {
        let keys = this.#variants.get(id);
        if (keys === undefined) {
          keys = new Set();
          this.#variants.set(id, keys);
        }
        keys.add(key);
      }
      if (!this.#owners.has(id)) {
        this.#owners.set(id, backendId);
        let ids = this.#byBackend.get(backendId);
        if (ids === undefined) {
          ids = new Set();
          this.#byBackend.set(backendId, ids);
        }
        ids.add(id);
      }
    }
    return pool;
  }

  /** Each pool's endpoint id and the backend whose request made it. */
  owners(): IterableIterator<[endpointId: string, backendId: string]> {
    return this.#owners.entries();
  }

  /** The endpoint ids of the pools a request to `backendId` made (a copy). */
  endpointsOf(backendId: string): string[] {
    return [...(this.#byBackend.get(backendId) ?? [])];
  }

  /**
   * Closes the pools of `ids` (endpoints gone from the route table). Requests in flight on them
   * complete; a request that still picks such an endpoint gets a fresh pool.
   */
  closePools(ids: Iterable<string>): void {
    for (const id of ids) {
      const pool = this.#pools.get(id);
      this.#pools.delete(id);
      for (const key of this.#variants.get(id) ?? []) {
        this.#pools
          .get(key)
          ?.close()
          .catch(() => undefined);
        this.#pools.delete(key);
      }
      this.#variants.delete(id);
      const owner = this.#owners.get(id);
      this.#owners.delete(id);
      if (owner !== undefined) {
        const ids = this.#byBackend.get(owner);
        ids?.delete(id);
        if (ids?.size === 0) this.#byBackend.delete(owner);
      }
      pool?.close().catch(() => undefined);
    }
  }

  /**
   * Closes every pool: waits for requests in flight up to `graceMs`, then destroys what is left.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    this.#variants.clear();
    this.#owners.clear();
    this.#byBackend.clear();
    await Promise.all(
      pools.map(async (pool) => {
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        await Promise.race([pool.close().catch(() => undefined), deadline]);
        clearTimeout(timer);
        if (!pool.destroyed) await pool.destroy().catch(() => undefined);
      }),
    );
  }
}

function assertPositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
}
