/**
 * nginx's `limit_req` zone (ngx_http_limit_req_module.c), as ingress-nginx's `limit-rps` and
 * `limit-rpm` configure it (`burst=<rate × multiplier> nodelay`). Pure: the time is handed in.
 *
 * Per client address the zone keeps an excess in milli-requests and the time it was last
 * brought up to date. A request at `now` makes it
 * `max(0, excess − rate × elapsedMs / 1000 + 1000)` (integer arithmetic, as nginx's; `rate` in
 * milli-requests per second); the request is refused when that is above `burst × 1000`, else it
 * is served at once and the excess kept. Requests exactly at the rate so keep the excess at 0. An address new to the zone starts at 0, so `burst + 1` requests pass in a burst. As in
 * nginx, the time is moved on only when it advanced by at least a millisecond, and a refused
 * request changes nothing but the address's recency.
 *
 * Memory is bounded as nginx's fixed-size zone: at most `capacity` addresses. The least recently
 * seen comes first (a Map's insertion order; a lookup moves the address to the end). Before an
 * address is added, up to two of the oldest are dropped when idle a minute and fully decayed
 * (nginx's `ngx_http_limit_req_expire`); a full zone drops its oldest by force. {@link sweep}
 * does the same over all idle addresses, for a periodic clean-up without a timer per address.
 */

/** An address idle this long whose excess has decayed may be forgotten (nginx's 60 s). */
export const RATE_IDLE_MS = 60_000;

/** What {@link RequestRateZone.excessAfter} returns for a request past the burst. */
export const REFUSED = -1;

/** One address's state. */
interface RateState {
  /** Milli-requests above the rate. */
  excess: number;
  /** When `excess` was last brought up to date, ms. */
  last: number;
}

/** The leaky buckets of one zone, by client address; see the module comment. */
export class RequestRateZone {
  readonly #capacity: number;
  readonly #entries = new Map<string, RateState>();
  /** Milli-requests per second drained from every bucket (nginx's `ctx->rate`). */
  #rate = 1000;
  /** The most excess that is still served, milli-requests (nginx's `limit->burst`). */
  #burst = 0;

  /** `capacity`: the most addresses kept, at least 1. */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** Addresses held now. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Sets the rate and burst, in requests: `perMinute` for a rate per minute (nginx keeps
   * `rate × 1000 / 60` milli-requests per second, rounded down). The state kept stays, as
   * nginx keeps a zone's state across reloads.
   */
  configure(rate: number, burst: number, perMinute: boolean): void {
    this.#rate = perMinute ? Math.floor((rate * 1000) / 60) : rate * 1000;
    this.#burst = burst * 1000;
  }

  /**
   * The excess a request of `address` at `now` leaves, or {@link REFUSED} when it is past the
   * burst. Nothing is recorded but the address's recency: {@link commit} records an admitted
   * request (so that of several limits, a request one refuses counts in none, as nginx).
   */
  excessAfter(address: string, now: number): number {
    const state = this.#entries.get(address);
    if (state === undefined) return 0;
    this.#entries.delete(address);
    this.#entries.set(address, state);
    const excess = state.excess - this.#drained(state, now) + 1000;
    if (excess > this.#burst) return REFUSED;
    return Math.max(excess, 0);
  }

  /** Records an admitted request: `excess` is what {@link excessAfter} said at the same `now`. */
  commit(address: string, now: number, excess: number): void {
    const state = this.#entries.get(address);
    if (state !== undefined) {
      if (now > state.last) state.last = now;
      state.excess = excess;
      return;
    }
    this.#expire(now, 2);
    if (this.#entries.size >= this.#capacity) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(address, { excess: 0, last: now });
  }

  /** Forgets every address idle {@link RATE_IDLE_MS} or more whose excess has run out. */
  sweep(now: number): number {
    let removed = 0;
    for (const [address, state] of this.#entries) {
      if (now - state.last < RATE_IDLE_MS) break;
      if (state.excess <= this.#drained(state, now)) {
        this.#entries.delete(address);
        removed++;
      }
    }
    return removed;
  }

  /** Up to `most` of the oldest addresses, while idle and decayed (nginx stops at the first that is not). */
  #expire(now: number, most: number): void {
    let left = most;
    for (const [address, state] of this.#entries) {
      if (left-- === 0 || now - state.last < RATE_IDLE_MS) return;
      if (state.excess > this.#drained(state, now)) return;
      this.#entries.delete(address);
    }
  }

  /** Milli-requests drained since `state.last`: `rate × ms / 1000`, rounded down as nginx's. */
  #drained(state: RateState, now: number): number {
    const ms = now > state.last ? now - state.last : 0;
    return Math.floor((this.#rate * ms) / 1000);
  }
}
