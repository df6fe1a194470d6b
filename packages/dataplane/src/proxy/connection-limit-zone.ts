/**
 * nginx's `limit_conn` zone (ngx_http_limit_conn_module.c), as ingress-nginx's
 * `limit-connections` configures it. Pure.
 *
 * nginx counts, per client address, the requests being processed: the count goes up when a
 * request passes the check and down when the request is freed (the end of its response, or of
 * the WebSocket tunnel it became). With HTTP/1.1 that is the connections with a request in
 * progress; an idle keep-alive connection holds nothing. An address is kept only while it has
 * one, so memory follows the requests in flight; like nginx's fixed-size zone, a zone holding
 * `capacity` addresses refuses requests of new ones.
 */

/** Requests in progress by client address; see the module comment. */
export class ConnectionLimitZone {
  readonly #capacity: number;
  readonly #counts = new Map<string, number>();

  /** `capacity`: the most addresses counted at once, at least 1. */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** Addresses with a request in progress. */
  get size(): number {
    return this.#counts.size;
  }

  /** Requests of `address` in progress. */
  count(address: string): number {
    return this.#counts.get(address) ?? 0;
  }

  /**
   * Counts a request of `address` unless it has `limit` in progress already (or is new to a full
   * zone): whether it was counted. Each counted request is {@link release}d once.
   */
  acquire(address: string, limit: number): boolean {
    const count = this.#counts.get(address);
    if (count === undefined) {
      if (this.#counts.size >= this.#capacity) return false;
      this.#counts.set(address, 1);
      return true;
    }
    if (count >= limit) return false;
    this.#counts.set(address, count + 1);
    return true;
  }

  /** A counted request of `address` is over. */
  release(address: string): void {
    const count = this.#counts.get(address);
    if (count === undefined) return;
    if (count <= 1) this.#counts.delete(address);
    else this.#counts.set(address, count - 1);
  }
}
