/**
 * The worker side of the health state the serving thread mirrors ({@link HealthMirror}): tells
 * it which endpoints' standing changed, in one message per turn of the worker's loop at most.
 * Only endpoints that are not plainly usable are ever sent (unhealthy, or ejected), and an
 * endpoint that becomes usable again is sent once more so that the other side forgets it; the
 * healthy bulk of a large table costs nothing here and nothing there.
 */
import type { EndpointStanding, StatusChange, WorkerMessage } from '../background/messages.ts';
import type { HealthStatus } from './health-state.ts';

/** Where the standing of an endpoint is read: the `HealthChecker`. */
export interface StandingSource {
  status(backendId: string, endpointId: string): HealthStatus;
  ejectedUntil(backendId: string, endpointId: string, now: number): number | undefined;
  /** Probe targets this process probes now. */
  readonly owned: number;
}

/** Options of {@link HealthReporter}. */
export interface HealthReporterOptions {
  post: (message: Extract<WorkerMessage, { type: 'health' }>) => void;
  /** Wall clock, ms. */
  clock?: () => number;
  /** Runs `flush` later in this turn's wake (default `setImmediate`). */
  schedule?: (flush: () => void) => void;
}

const SEPARATOR = '\u0000';

/** See the module comment. */
export class HealthReporter {
  readonly #post: HealthReporterOptions['post'];
  readonly #clock: () => number;
  readonly #schedule: (flush: () => void) => void;
  #source: StandingSource | undefined;
  /** What the other side holds: only endpoints not plainly usable. */
  readonly #reported = new Map<string, EndpointStanding>();
  readonly #dirty = new Map<string, [string, string]>();
  #statuses: StatusChange[] = [];
  #probes = { healthy: 0, unhealthy: 0 };
  #ownedSent = -1;
  #scheduled = false;

  constructor(options: HealthReporterOptions) {
    this.#post = options.post;
    this.#clock = options.clock ?? Date.now;
    this.#schedule = options.schedule ?? ((flush) => setImmediate(flush));
  }

  /** The checker whose state is reported (it is made after the reporter, with its hooks). */
  attach(source: StandingSource): void {
    this.#source = source;
  }

  /** The endpoint's status or ejection may have changed. */
  changed(backendId: string, endpointId: string): void {
    this.#dirty.set(backendId + SEPARATOR + endpointId, [backendId, endpointId]);
    this.#soon();
  }

  /** The endpoint's active status changed. */
  statusChanged(backendId: string, endpointId: string, from: HealthStatus, to: HealthStatus): void {
    this.#statuses.push([backendId, endpointId, from, to]);
    this.changed(backendId, endpointId);
  }

  /** A probe ended. */
  probed(ok: boolean): void {
    if (ok) this.#probes.healthy += 1;
    else this.#probes.unhealthy += 1;
    this.#soon();
  }

  /**
   * Every endpoint reported so far is looked at again: after a table update (state of endpoints
   * that left is dropped without an event) and once an ejection may have ended.
   */
  recheck(): void {
    for (const [key, [backendId, endpointId]] of this.#reported) {
      this.#dirty.set(key, [backendId, endpointId]);
    }
    this.#soon();
  }

  /** Sends what changed since the last report, if anything did. */
  flush(): void {
    this.#scheduled = false;
    const source = this.#source;
    if (source === undefined) return;
    const now = this.#clock();
    const standings: EndpointStanding[] = [];
    for (const [key, [backendId, endpointId]] of this.#dirty) {
      const unhealthy = source.status(backendId, endpointId) === 'unhealthy';
      const ejectedUntil = source.ejectedUntil(backendId, endpointId, now) ?? 0;
      const before = this.#reported.get(key);
      if (!unhealthy && ejectedUntil === 0) {
        if (before === undefined) continue;
        this.#reported.delete(key);
      } else {
        if (before !== undefined && before[2] === unhealthy && before[3] === ejectedUntil) continue;
        this.#reported.set(key, [backendId, endpointId, unhealthy, ejectedUntil]);
      }
      standings.push([backendId, endpointId, unhealthy, ejectedUntil]);
    }
    this.#dirty.clear();
    const owned = source.owned;
    const probes = this.#probes;
    const quiet = probes.healthy === 0 && probes.unhealthy === 0;
    if (standings.length === 0 && this.#statuses.length === 0 && quiet && owned === this.#ownedSent)
      return;
    this.#post({ type: 'health', standings, statuses: this.#statuses, probes, owned });
    this.#statuses = [];
    this.#probes = { healthy: 0, unhealthy: 0 };
    this.#ownedSent = owned;
  }

  #soon(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    this.#schedule(() => this.flush());
  }
}
