/**
 * Active health-check state: one small state machine per endpoint, fed with probe results by the
 * node that owns the probe and with shared states read from Redis by every other node. Pure: no
 * clock, no Redis; the caller passes `now` (ms) and writes {@link HealthTracker.serialize}'s
 * output to the `healthKey(backendId)` hash itself.
 *
 * Ids are opaque strings, normally `endpointField(address, port)`. Thresholds and probe settings
 * belong to a backend and the Redis hash is per backend, so the dataplane keeps one tracker per
 * backend: the same pod address in two Services can be healthy for one and not the other.
 */
import { type HealthStatus, parseHealthState, type SharedHealthState } from '@pier/shared';

// The Redis form of the state is the contract's (shared); re-exported for the health modules.
export { type HealthStatus, parseHealthState, type SharedHealthState };

/** Consecutive results needed to change status; from {@link HealthCheckSettings}. */
export interface HealthThresholds {
  /** Consecutive successes that mark an endpoint healthy (from unhealthy or unknown). */
  healthyThreshold: number;
  /** Consecutive failures that mark an endpoint unhealthy (from healthy or unknown). */
  unhealthyThreshold: number;
}

/** A change of status, for logs, metrics and the `health:events` announcement. */
export interface HealthTransition {
  id: string;
  from: HealthStatus;
  to: HealthStatus;
}

/** What the tracker knows about one endpoint. */
export interface EndpointHealth {
  status: HealthStatus;
  /** Consecutive failed probes; reset by a success. */
  failures: number;
  /** Consecutive successful probes; reset by a failure. */
  successes: number;
  /** When the status last changed (or the endpoint was first seen), ms. */
  lastChange: number;
  /** When this node last recorded a probe result for it, ms; absent if it never did. */
  lastProbe?: number;
  /** The node whose result or state this is. */
  by?: string;
}

/**
 * Health states of a set of endpoints.
 *
 * Transition rules (`healthyThreshold` = H, `unhealthyThreshold` = U):
 * - an endpoint starts `unknown`, which counts as usable: a node that just joined, or an
 *   endpoint that just appeared, must not black-hole traffic before the first probe (the shared
 *   state in Redis is normally known already and applied first);
 * - `unknown` → `healthy` after H consecutive successes, the same rule as from `unhealthy`, so
 *   "healthy" always means "passed H probes in a row"; since `unknown` is already usable this
 *   only changes what is reported, never where traffic goes;
 * - `unknown` or `healthy` → `unhealthy` after U consecutive failures;
 * - `unhealthy` → `healthy` after H consecutive successes;
 * - a success resets the failure count and a failure the success count.
 */
export class HealthTracker {
  readonly #node: string | undefined;
  readonly #entries = new Map<string, EndpointHealth>();

  /** @param options.node this node's name, written as `by` with the states it produces. */
  constructor(options: { node?: string } = {}) {
    this.#node = options.node;
  }

  /**
   * Records one probe result and returns the transition when the status changed.
   * An id seen for the first time starts `unknown` at `now`.
   */
  record(
    id: string,
    ok: boolean,
    now: number,
    thresholds: HealthThresholds,
  ): HealthTransition | undefined {
    const entry = this.#entry(id, now);
    entry.lastProbe = now;
    if (this.#node !== undefined) entry.by = this.#node;
    let to: HealthStatus = entry.status;
    if (ok) {
      entry.failures = 0;
      entry.successes += 1;
      if (entry.status !== 'healthy' && entry.successes >= thresholds.healthyThreshold) {
        to = 'healthy';
      }
    } else {
      entry.successes = 0;
      entry.failures += 1;
      if (entry.status !== 'unhealthy' && entry.failures >= thresholds.unhealthyThreshold) {
        to = 'unhealthy';
      }
    }
    return this.#change(id, entry, to, now);
  }

  /**
   * Adopts a state learned from another node through Redis (last writer wins: in steady state
   * exactly one node, the probe owner, writes an endpoint's state). The counters are taken over
   * too, so a node that inherits the probe after the owner left continues where it stopped.
   * Returns the transition when the status changed.
   */
  apply(
    id: string,
    shared: Pick<SharedHealthState, 'status' | 'since' | 'by'> &
      Partial<Pick<SharedHealthState, 'failures' | 'successes'>>,
  ): HealthTransition | undefined {
    const entry = this.#entry(id, shared.since);
    entry.failures = shared.failures ?? 0;
    entry.successes = shared.successes ?? 0;
    if (shared.by === undefined) delete entry.by;
    else entry.by = shared.by;
    const transition = this.#change(id, entry, shared.status, shared.since);
    entry.lastChange = shared.since;
    return transition;
  }

  /** Drops every endpoint not in `keep` (gone from the route table); returns the dropped ids. */
  forget(keep: ReadonlySet<string>): string[] {
    const dropped: string[] = [];
    for (const id of this.#entries.keys()) {
      if (!keep.has(id)) {
        this.#entries.delete(id);
        dropped.push(id);
      }
    }
    return dropped;
  }

  /** Whether traffic may go to the endpoint: anything but `unhealthy` (unknown ids included). */
  isUsable(id: string): boolean {
    return this.#entries.get(id)?.status !== 'unhealthy';
  }

  /** The endpoint's status; `unknown` for ids never seen. */
  status(id: string): HealthStatus {
    return this.#entries.get(id)?.status ?? 'unknown';
  }

  /** A copy of what is known about the endpoint, or undefined for ids never seen. */
  get(id: string): EndpointHealth | undefined {
    const entry = this.#entries.get(id);
    return entry === undefined ? undefined : { ...entry };
  }

  /** Ids currently tracked. */
  ids(): string[] {
    return [...this.#entries.keys()];
  }

  /** The Redis hash value for the endpoint ({@link SharedHealthState} as JSON), if tracked. */
  serialize(id: string): string | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    const value: SharedHealthState = {
      status: entry.status,
      since: entry.lastChange,
      failures: entry.failures,
      successes: entry.successes,
    };
    if (entry.by !== undefined) value.by = entry.by;
    return JSON.stringify(value);
  }

  #entry(id: string, now: number): EndpointHealth {
    let entry = this.#entries.get(id);
    if (entry === undefined) {
      entry = { status: 'unknown', failures: 0, successes: 0, lastChange: now };
      this.#entries.set(id, entry);
    }
    return entry;
  }

  #change(
    id: string,
    entry: EndpointHealth,
    to: HealthStatus,
    now: number,
  ): HealthTransition | undefined {
    const from = entry.status;
    if (from === to) return undefined;
    entry.status = to;
    entry.lastChange = now;
    return { id, from, to };
  }
}
