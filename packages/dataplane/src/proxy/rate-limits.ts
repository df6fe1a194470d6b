/**
 * The rate limits of one dataplane process (ingress-nginx's `limit-rps`, `limit-rpm`,
 * `limit-connections`, `limit-allowlist`): the zones by name, and the decision for one request.
 *
 * As ingress-nginx, every Ingress has zones of its own shared by all its paths and hosts (the
 * route's `rateLimit.zone`), keyed by client address. The zones outlive route tables: a new
 * table, whole or patched, finds the counters where the old one left them, and a changed rate
 * applies to them, as nginx keeps a zone's state across reloads. What a zone holds is bounded
 * ({@link RATE_LIMIT_CAPACITY} addresses per limit) and {@link RateLimits.sweep}, run every so
 * often, forgets idle addresses and empty zones, so a zone of an Ingress that is gone goes too.
 *
 * The time is injected (a millisecond clock that never goes back).
 */
import type { BlockList } from 'node:net';
import type { RouteRateLimit } from '@pier/shared';
import { ConnectionLimitZone } from './connection-limit-zone.ts';
import { REFUSED, RequestRateZone } from './request-rate-zone.ts';
import { cidrBlockList, listed } from './source-access.ts';

/**
 * Addresses a zone keeps per limit. nginx's 5 MB zones (ingress-nginx's size) hold some 40,000;
 * here an address costs about 100 bytes (measured with IPv4 keys; IPv6 ones are longer), so a
 * full zone of one limit holds about 2 MB.
 */
export const RATE_LIMIT_CAPACITY = 16_384;

/** Which limit refused a request: `limit-rps`, `limit-rpm` or `limit-connections`. */
export type RateLimitKind = 'rps' | 'rpm' | 'connections';

/** What {@link RateLimits} needs. */
export interface RateLimitsOptions {
  /** Milliseconds, never going back (e.g. `Math.floor(performance.now())`). */
  clock: () => number;
  /** Addresses per zone and limit; {@link RATE_LIMIT_CAPACITY} by default. */
  capacity?: number;
  /** A request was refused (for the metric). */
  onRefused?: (zone: string, kind: RateLimitKind) => void;
}

/** The zones of one name. */
interface Zones {
  perSecond: RequestRateZone | undefined;
  perMinute: RequestRateZone | undefined;
  connections: ConnectionLimitZone | undefined;
}

/**
 * A request counted by `limit-connections`: {@link release} it when the request is over (its
 * response sent, its tunnel closed, or it was answered otherwise). Releasing twice is harmless.
 */
export class ConnectionSlot {
  #zone: ConnectionLimitZone | undefined;
  readonly #address: string;

  constructor(zone: ConnectionLimitZone, address: string) {
    this.#zone = zone;
    this.#address = address;
  }

  release(): void {
    this.#zone?.release(this.#address);
    this.#zone = undefined;
  }
}

/** The zones and decisions; see the module comment. */
export class RateLimits {
  readonly #clock: () => number;
  readonly #capacity: number;
  readonly #onRefused: ((zone: string, kind: RateLimitKind) => void) | undefined;
  readonly #zones = new Map<string, Zones>();
  /** The allowlist of each `exempt` list of a table, compiled once. */
  readonly #exempt = new WeakMap<readonly string[], BlockList>();

  constructor(options: RateLimitsOptions) {
    this.#clock = options.clock;
    this.#capacity = options.capacity ?? RATE_LIMIT_CAPACITY;
    this.#onRefused = options.onRefused;
    if (!Number.isSafeInteger(this.#capacity) || this.#capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${this.#capacity}`);
    }
  }

  /** Zones held now. */
  get zones(): number {
    return this.#zones.size;
  }

  /**
   * The decision for a request of `address` (the TCP peer, IPv4-mapped form unmapped) on a route
   * with `limit`, in nginx's order: the request rates (`limit-rps`, then `limit-rpm`; a request
   * one refuses counts in neither), then the requests in progress. Returns the limit that
   * refuses it; or, when `limit-connections` counted it, the slot to release; or undefined (go
   * on, nothing to release). An address in the allowlist is never counted.
   */
  admit(limit: RouteRateLimit, address: string): RateLimitKind | ConnectionSlot | undefined {
    if (limit.exempt !== undefined && this.#exempted(limit.exempt, address)) return undefined;
    let zones = this.#zones.get(limit.zone);
    if (zones === undefined) {
      zones = { perSecond: undefined, perMinute: undefined, connections: undefined };
      this.#zones.set(limit.zone, zones);
    }
    const now = this.#clock();
    const second = limit.perSecond;
    const minute = limit.perMinute;
    let secondExcess = 0;
    let minuteExcess = 0;
    if (second !== undefined) {
      zones.perSecond ??= new RequestRateZone(this.#capacity);
      zones.perSecond.configure(second.rate, second.burst, false);
      secondExcess = zones.perSecond.excessAfter(address, now);
      if (secondExcess === REFUSED) return this.#refuse(limit.zone, 'rps');
    }
    if (minute !== undefined) {
      zones.perMinute ??= new RequestRateZone(this.#capacity);
      zones.perMinute.configure(minute.rate, minute.burst, true);
      minuteExcess = zones.perMinute.excessAfter(address, now);
      if (minuteExcess === REFUSED) return this.#refuse(limit.zone, 'rpm');
    }
    if (second !== undefined) zones.perSecond?.commit(address, now, secondExcess);
    if (minute !== undefined) zones.perMinute?.commit(address, now, minuteExcess);
    if (limit.connections === undefined) return undefined;
    zones.connections ??= new ConnectionLimitZone(this.#capacity);
    if (!zones.connections.acquire(address, limit.connections)) {
      return this.#refuse(limit.zone, 'connections');
    }
    return new ConnectionSlot(zones.connections, address);
  }

  /**
   * Forgets addresses idle a minute whose excess ran out, and zones left with nothing; returns
   * how many addresses went. Costs a look at each idle address and one more per zone.
   */
  sweep(): number {
    const now = this.#clock();
    let removed = 0;
    for (const [name, zones] of this.#zones) {
      removed += (zones.perSecond?.sweep(now) ?? 0) + (zones.perMinute?.sweep(now) ?? 0);
      if (
        (zones.perSecond?.size ?? 0) === 0 &&
        (zones.perMinute?.size ?? 0) === 0 &&
        (zones.connections?.size ?? 0) === 0
      ) {
        this.#zones.delete(name);
      }
    }
    return removed;
  }

  #refuse(zone: string, kind: RateLimitKind): RateLimitKind {
    this.#onRefused?.(zone, kind);
    return kind;
  }

  #exempted(cidrs: readonly string[], address: string): boolean {
    let list = this.#exempt.get(cidrs);
    if (list === undefined) {
      list = cidrBlockList(cidrs) as BlockList;
      this.#exempt.set(cidrs, list);
    }
    return listed(list, address);
  }
}
