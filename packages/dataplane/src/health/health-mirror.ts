/**
 * Endpoint health on the serving thread when the `HealthChecker` runs on the dataplane's
 * background thread ({@link BackgroundThread}): probes, their timers and connections, the shared
 * state in Redis and the passive ejector all live there, and so does the garbage they make; this
 * side keeps only the endpoints that are not plainly usable, as the worker reports them
 * (`HealthReporter`). `usable` is one map lookup per request, none for a backend with nothing to
 * report.
 *
 * Proxied attempts go the other way, batched per turn of the loop: every failure, and the first
 * success after one (a success on an endpoint with no failure counted changes nothing in the
 * ejector), so a healthy fleet sends nothing.
 */
import type { AttemptResult, MainMessage, WorkerMessage } from '../background/messages.ts';
import type { DataplaneHealth, HealthEvents } from '../dataplane-parts.ts';

/** How long `stop` waits for the worker's checker to leave, ms. */
const STOP_WAIT_MS = 5_000;

const SEPARATOR = '\u0000';

interface Standing {
  unhealthy: boolean;
  ejectedUntil: number;
}

type HealthReport = Extract<WorkerMessage, { type: 'health' }>;

/** The serving thread's side of the worker's health checker; see the module comment. */
export class HealthMirror implements DataplaneHealth {
  readonly #events: HealthEvents;
  #post: ((message: MainMessage) => void) | undefined;
  /** Per backend, its endpoints that are unhealthy or ejected (or were, until `ejectedUntil`). */
  readonly #standings = new Map<string, Map<string, Standing>>();
  /** Endpoints with a failure sent and no success since. */
  readonly #failing = new Set<string>();
  #results: AttemptResult[] = [];
  #owned = 0;
  #nextQuestion = 0;
  readonly #questions = new Map<number, () => void>();
  #started: { resolve: () => void; reject: (err: Error) => void } | undefined;
  readonly #startedPromise: Promise<void>;
  #stopped: (() => void) | undefined;

  constructor(events: HealthEvents) {
    this.#events = events;
    this.#startedPromise = new Promise((resolve, reject) => {
      this.#started = { resolve, reject };
    });
  }

  /** Resolves once the worker's checker has started; rejects when it could not. */
  start(): Promise<void> {
    return this.#startedPromise;
  }

  /**
   * A worker is there to talk to (`post`), or none is (`undefined`: it ended). Either way what
   * was known came from the worker before, so it is dropped: a new worker reads the shared state
   * again and reports it.
   */
  connect(post: ((message: MainMessage) => void) | undefined): void {
    this.#post = post;
    this.#standings.clear();
    this.#failing.clear();
    this.#results = [];
    for (const answer of this.#questions.values()) answer();
    this.#questions.clear();
  }

  /** Takes one message of the worker (the health ones; others are ignored). */
  receive(message: WorkerMessage): void {
    switch (message.type) {
      case 'health-started': {
        const started = this.#started;
        this.#started = undefined;
        if (message.failed === undefined) started?.resolve();
        else started?.reject(new Error(message.failed));
        break;
      }
      case 'health':
        this.#report(message);
        break;
      case 'health-synced':
        this.#questions.get(message.id)?.();
        this.#questions.delete(message.id);
        break;
      case 'health-stopped':
        this.#stopped?.();
        break;
      default:
        break;
    }
  }

  synced(): Promise<void> {
    const post = this.#post;
    if (post === undefined) return Promise.resolve();
    const id = this.#nextQuestion++;
    return new Promise((resolve) => {
      this.#questions.set(id, resolve);
      post({ type: 'health-synced', id });
    });
  }

  /** The worker has the table already (it follows the routes itself): nothing to do here. */
  update(): void {}

  usable(backendId: string, endpointId: string, now: number): boolean {
    const standing = this.#standings.get(backendId)?.get(endpointId);
    return standing === undefined || (!standing.unhealthy && standing.ejectedUntil <= now);
  }

  /** Counted from the standings the worker reported (ejections end by the clock, unreported). */
  ejectedCounts(now: number): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [backendId, endpoints] of this.#standings) {
      let count = 0;
      for (const standing of endpoints.values()) if (standing.ejectedUntil > now) count += 1;
      if (count > 0) counts.set(backendId, count);
    }
    return counts;
  }

  reportResult(backendId: string, endpointId: string, ok: boolean, now: number): void {
    if (ok && this.#failing.size === 0) return;
    const key = backendId + SEPARATOR + endpointId;
    if (ok) {
      if (!this.#failing.delete(key)) return;
    } else this.#failing.add(key);
    if (this.#results.length === 0) setImmediate(() => this.#sendResults());
    this.#results.push([backendId, endpointId, ok, now]);
  }

  get owned(): number {
    return this.#owned;
  }

  async stop(options: { release?: boolean } = {}): Promise<void> {
    const post = this.#post;
    if (post === undefined) return;
    this.#sendResults();
    const stopped = new Promise<void>((resolve) => {
      this.#stopped = resolve;
      setTimeout(resolve, STOP_WAIT_MS).unref();
    });
    post({ type: 'health-stop', release: options.release ?? true });
    await stopped;
  }

  #sendResults(): void {
    if (this.#results.length === 0) return;
    this.#post?.({ type: 'results', results: this.#results });
    this.#results = [];
  }

  #report(message: HealthReport): void {
    for (const [backendId, endpointId, unhealthy, ejectedUntil] of message.standings) {
      let endpoints = this.#standings.get(backendId);
      if (!unhealthy && ejectedUntil === 0) {
        endpoints?.delete(endpointId);
        if (endpoints?.size === 0) this.#standings.delete(backendId);
        continue;
      }
      if (endpoints === undefined) {
        endpoints = new Map();
        this.#standings.set(backendId, endpoints);
      }
      endpoints.set(endpointId, { unhealthy, ejectedUntil });
    }
    this.#owned = message.owned;
    for (const [backendId, endpointId, from, to] of message.statuses) {
      this.#events.onTransition(backendId, endpointId, from, to);
    }
    for (let i = 0; i < message.probes.healthy; i++) this.#events.onProbe({ ok: true });
    for (let i = 0; i < message.probes.unhealthy; i++) this.#events.onProbe({ ok: false });
  }
}
