/**
 * Passive outlier ejection: endpoints whose live requests keep failing (connection errors, 5xx)
 * are taken out of rotation for a while, without waiting for the next active probe. Pure: the
 * caller passes `now` (ms), the backend's settings and its endpoint count, and shares ejections
 * through Redis itself.
 *
 * State is kept per backend and endpoint id (`endpointField`): `maxEjectionPercent` is a share of
 * one backend's endpoints, and the same pod address may serve two Services with different
 * settings.
 */
import type { HealthCheckSettings } from '@pier/shared';

/** The passive settings of a backend's health check. */
export type PassiveSettings = HealthCheckSettings['passive'];

/** The largest back-off multiplier: an endpoint is never ejected longer than 8 × ejectionMs. */
export const MAX_EJECTION_MULTIPLIER = 8;

/**
 * An endpoint that stays in (not ejected) for this many × ejectionMs after its last ejection
 * ended starts over at 1 × ejectionMs on its next ejection.
 */
export const EJECTION_RESET_FACTOR = 10;

/** What {@link PassiveEjector.recordResult} returns when a result ejects an endpoint. */
export interface Ejection {
  /** The endpoint receives no new requests before this time, ms. */
  ejectedUntil: number;
  /** The back-off multiplier used: 1, 2, 4 or 8. */
  multiplier: number;
}

interface EndpointState {
  /** Consecutive failed requests since the last success or ejection. */
  failures: number;
  /** End of the current or last ejection, ms; 0 if never ejected. */
  ejectedUntil: number;
  /** Ejections counted for back-off (reset after a long enough time in). */
  ejections: number;
}

/**
 * Counts consecutive failures per endpoint and decides ejections.
 *
 * - `consecutiveFailures` failed requests in a row eject the endpoint; a success resets the count,
 *   and so does the ejection itself (after it the endpoint needs a fresh run of failures).
 * - The n-th ejection lasts `ejectionMs × 2^(n-1)`, capped at ×{@link MAX_EJECTION_MULTIPLIER}.
 *   n restarts at 1 when the endpoint stayed in for {@link EJECTION_RESET_FACTOR} × ejectionMs
 *   since its previous ejection ended (time in, not probe or request results, since an idle
 *   endpoint gets no requests to prove itself with).
 * - At most `floor(maxEjectionPercent × endpointCount / 100)` endpoints of one backend are ejected
 *   at once, counting ejections learned from other nodes; `maxEjectionPercent` 0 disables
 *   ejection. A failure refused for that reason keeps its count, so the endpoint is ejected on
 *   its next failure once a slot frees.
 * - Results that arrive while the endpoint is ejected (requests that were already in flight) are
 *   ignored: they say nothing new and must not extend the ejection.
 */
export class PassiveEjector {
  readonly #backends = new Map<string, Map<string, EndpointState>>();

  /**
   * Records the outcome of one proxied request.
   *
   * @param endpointCount the backend's endpoints that can take traffic (ready ones); the base of
   *   `maxEjectionPercent`.
   * @returns the ejection when this result ejects the endpoint, else undefined.
   */
  recordResult(
    backendId: string,
    id: string,
    ok: boolean,
    now: number,
    settings: PassiveSettings,
    endpointCount: number,
  ): Ejection | undefined {
    const state = this.#state(backendId, id);
    if (state.ejectedUntil > now) return undefined;
    if (ok) {
      state.failures = 0;
      return undefined;
    }
    state.failures += 1;
    if (state.failures < settings.consecutiveFailures) return undefined;
    if (!this.#roomFor(backendId, id, now, settings, endpointCount)) return undefined;
    const multiplier = this.#countEjection(state, now, settings.ejectionMs);
    state.ejectedUntil = now + settings.ejectionMs * multiplier;
    state.failures = 0;
    return { ejectedUntil: state.ejectedUntil, multiplier };
  }

  /**
   * Adopts an ejection decided by another node (read from Redis), within the same
   * `maxEjectionPercent` limit, so ejections from several nodes together cannot empty a
   * backend. An ejection that starts while the endpoint is in counts for back-off; one that
   * overlaps the current ejection only extends it. Returns whether the endpoint is ejected at
   * `now` afterwards.
   */
  applyShared(
    backendId: string,
    id: string,
    ejectedUntil: number,
    now: number,
    settings: PassiveSettings,
    endpointCount: number,
  ): boolean {
    if (!Number.isFinite(ejectedUntil) || ejectedUntil <= now)
      return this.isEjected(backendId, id, now);
    const state = this.#state(backendId, id);
    if (state.ejectedUntil > now) {
      state.ejectedUntil = Math.max(state.ejectedUntil, ejectedUntil);
      return true;
    }
    if (!this.#roomFor(backendId, id, now, settings, endpointCount)) return false;
    this.#countEjection(state, now, settings.ejectionMs);
    state.ejectedUntil = ejectedUntil;
    state.failures = 0;
    return true;
  }

  /** Whether the endpoint is ejected at `now` (its ejection ends at `ejectedUntil`, exclusive). */
  isEjected(backendId: string, id: string, now: number): boolean {
    const until = this.#backends.get(backendId)?.get(id)?.ejectedUntil ?? 0;
    return until > now;
  }

  /** End of the endpoint's current ejection, or undefined when it is not ejected at `now`. */
  ejectedUntil(backendId: string, id: string, now: number): number | undefined {
    const until = this.#backends.get(backendId)?.get(id)?.ejectedUntil ?? 0;
    return until > now ? until : undefined;
  }

  /** How many of the backend's endpoints are ejected at `now`. */
  ejectedCount(backendId: string, now: number): number {
    let count = 0;
    for (const state of this.#backends.get(backendId)?.values() ?? []) {
      if (state.ejectedUntil > now) count += 1;
    }
    return count;
  }

  /** The backends with endpoints ejected at `now`, and how many each (others left out). */
  ejectedCounts(now: number): Map<string, number> {
    const counts = new Map<string, number>();
    for (const backendId of this.#backends.keys()) {
      const count = this.ejectedCount(backendId, now);
      if (count > 0) counts.set(backendId, count);
    }
    return counts;
  }

  /**
   * Drops state of endpoints gone from a backend (`keep` = the ids that remain), or of the
   * whole backend when `keep` is omitted (backend gone, or passive ejection turned off).
   */
  forget(backendId: string, keep?: ReadonlySet<string>): void {
    const endpoints = this.#backends.get(backendId);
    if (endpoints === undefined) return;
    if (keep !== undefined) {
      for (const id of endpoints.keys()) if (!keep.has(id)) endpoints.delete(id);
    }
    if (keep === undefined || endpoints.size === 0) this.#backends.delete(backendId);
  }

  /** Ids of backends with state. */
  backendIds(): string[] {
    return [...this.#backends.keys()];
  }

  #state(backendId: string, id: string): EndpointState {
    let endpoints = this.#backends.get(backendId);
    if (endpoints === undefined) {
      endpoints = new Map();
      this.#backends.set(backendId, endpoints);
    }
    let state = endpoints.get(id);
    if (state === undefined) {
      state = { failures: 0, ejectedUntil: 0, ejections: 0 };
      endpoints.set(id, state);
    }
    return state;
  }

  /** Whether one more endpoint (`id`, currently in) may be ejected from the backend. */
  #roomFor(
    backendId: string,
    id: string,
    now: number,
    settings: PassiveSettings,
    endpointCount: number,
  ): boolean {
    const limit = Math.floor((settings.maxEjectionPercent * endpointCount) / 100);
    if (limit <= 0) return false;
    let ejected = 0;
    for (const [other, state] of this.#backends.get(backendId) ?? []) {
      if (other !== id && state.ejectedUntil > now) ejected += 1;
    }
    return ejected < limit;
  }

  /** Counts a new ejection starting at `now` and returns its back-off multiplier. */
  #countEjection(state: EndpointState, now: number, ejectionMs: number): number {
    if (state.ejections > 0 && now - state.ejectedUntil >= EJECTION_RESET_FACTOR * ejectionMs) {
      state.ejections = 0;
    }
    state.ejections += 1;
    return Math.min(2 ** (state.ejections - 1), MAX_EJECTION_MULTIPLIER);
  }
}
