/**
 * Keeps the newest route content, publishes it in the background through a
 * {@link RoutePublisher}, retries with back-off through Redis outages, and tells the caller when
 * the content is in Redis.
 */
import type { EventEmitter } from 'node:events';
import { type ChangedKeys, type PierLogger, ROUTE_SECTIONS, type RouteEntries } from '@pier/shared';
import type { PublishResult, RoutePublisher } from './route-publisher.ts';

/** Options of {@link PublicationLoop}. */
export interface PublicationLoopOptions {
  /** Usually a {@link RoutePublisher}. */
  publisher: Pick<RoutePublisher, 'publish' | 'differsFrom'>;
  logger: PierLogger;
  /**
   * The publisher's Redis connection. On its `ready` event (a reconnect: Redis may have been
   * restarted empty) the latest content is checked and republished at once, without waiting
   * for the back-off.
   */
  redis?: EventEmitter;
  /** First retry delay after a failed publication, ms (default 100); doubles up to `maxDelayMs`. */
  initialDelayMs?: number;
  /** Longest retry delay, ms (default 5000). */
  maxDelayMs?: number;
  /** Called on each failed publication, e.g. to count it. */
  onError?: (err: unknown, failures: number, retryInMs: number) => void;
}

interface FlushWaiter {
  generation: number;
  resolve: (revision: number) => void;
  reject: (err: Error) => void;
}

/**
 * Publishes the newest route content in the background. `update()` replaces the pending
 * content (a burst of updates gives one publication of the last one); failures are retried with
 * exponential back-off and jitter until they succeed, and a Redis reconnect triggers a check at
 * once, so after an outage the newest content (and nothing older) ends up in Redis.
 */
export class PublicationLoop {
  readonly #publisher: Pick<RoutePublisher, 'publish' | 'differsFrom'>;
  readonly #log: PierLogger;
  readonly #redis: EventEmitter | undefined;
  readonly #initialDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #onError: PublicationLoopOptions['onError'];
  #content: RouteEntries | undefined;
  /** Keys changed since the content last known to be in Redis; 'all' when that is unknown. */
  #changed: MutableChangedKeys | 'all' = 'all';
  /** Bumped by every update(); the content is that of the newest generation. */
  #generation = 0;
  /** Newest generation known to be in Redis. */
  #done = 0;
  #revision = 0;
  #failures = 0;
  #active = false;
  #running: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #waiters: FlushWaiter[] = [];
  readonly #onReady = (): void => {
    if (this.#stopped || this.#generation === 0) return;
    // Redis may have come back empty: the latest content must be confirmed again, in full.
    this.#changed = 'all';
    this.#done = Math.min(this.#done, this.#generation - 1);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#kick();
  };

  constructor(options: PublicationLoopOptions) {
    this.#publisher = options.publisher;
    this.#log = options.logger;
    this.#redis = options.redis;
    this.#initialDelayMs = options.initialDelayMs ?? 100;
    this.#maxDelayMs = options.maxDelayMs ?? 5000;
    this.#onError = options.onError;
    if (!(this.#initialDelayMs > 0) || !(this.#maxDelayMs >= this.#initialDelayMs)) {
      throw new TypeError('PublicationLoop: need 0 < initialDelayMs <= maxDelayMs');
    }
    this.#redis?.on('ready', this.#onReady);
  }

  /** The revision last published (or confirmed); 0 before that. */
  get revision(): number {
    return this.#revision;
  }

  /** True while the newest content is not known to be in Redis. */
  get pending(): boolean {
    return this.#done < this.#generation;
  }

  /**
   * Makes `content` the content to publish, replacing any not yet published. `changed` lists
   * the keys that may differ from the content of the previous update ('all', or omitted, when
   * unknown); the keys of updates not yet published are kept together.
   */
  update(content: RouteEntries, changed: ChangedKeys | 'all' = 'all'): void {
    if (this.#stopped) return;
    this.#content = content;
    this.#addChanged(changed);
    this.#generation++;
    this.#kick();
  }

  /**
   * Resolves with the revision once the content of the latest `update()` before this call, or
   * newer content, is in Redis; at once when it already is. Waits through Redis outages.
   *
   * @throws Error when the loop is stopped first.
   */
  flush(): Promise<number> {
    if (this.#stopped) return Promise.reject(stoppedError());
    if (this.#done >= this.#generation) return Promise.resolve(this.#revision);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ generation: this.#generation, resolve, reject });
    });
  }

  /**
   * Checks that Redis holds exactly the latest content (snapshot and change log) and
   * republishes it when not. Returns true when it had drifted. Does nothing (false) while a
   * publication is pending anyway.
   */
  async repairDrift(): Promise<boolean> {
    const content = this.#content;
    if (this.#stopped || content === undefined || this.pending) return false;
    // A cheap look first (pieces read a few hundred at a time, compared by digest); the full
    // read and rewrite under WATCH only when something differs.
    const generation = this.#generation;
    const differs = await this.#publisher.differsFrom(content);
    if (differs !== true || this.#generation !== generation || this.pending) return false;
    const result = await this.#publisher.publish(content, 'all', { verify: true });
    this.#revision = result.revision;
    return result.published;
  }

  /**
   * Stops publishing (e.g. on losing leadership): waits for a publication in flight, then
   * rejects the flushes still waiting. Later updates are ignored.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#redis?.off('ready', this.#onReady);
    await this.#running;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(stoppedError());
  }

  #addChanged(changed: ChangedKeys | 'all'): void {
    if (this.#changed === 'all') return;
    if (changed === 'all') {
      this.#changed = 'all';
      return;
    }
    for (const section of ROUTE_SECTIONS) {
      const into = this.#changed[section];
      for (const key of changed[section]) into.add(key);
    }
  }

  #kick(): void {
    if (this.#stopped || this.#active || this.#timer !== undefined) return;
    if (this.#done >= this.#generation) return;
    this.#active = true;
    this.#running = this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (!this.#stopped && this.#done < this.#generation) {
        const generation = this.#generation;
        const content = this.#content as RouteEntries;
        const changed = this.#changed;
        this.#changed = emptyChanged();
        try {
          const result = await this.#publisher.publish(content, changed);
          this.#succeeded(generation, result);
        } catch (err) {
          // Not written (or not known to be): those keys are still to publish.
          this.#addChanged(changed);
          this.#failed(err);
          return;
        }
      }
    } finally {
      this.#active = false;
    }
  }

  #succeeded(generation: number, result: PublishResult): void {
    if (this.#failures > 0) {
      this.#log.info(
        { failures: this.#failures, revision: result.revision },
        'routes published after failures',
      );
    }
    this.#failures = 0;
    this.#done = Math.max(this.#done, generation);
    this.#revision = result.revision;
    const ready = this.#waiters.filter((w) => w.generation <= this.#done);
    this.#waiters = this.#waiters.filter((w) => w.generation > this.#done);
    for (const waiter of ready) waiter.resolve(result.revision);
  }

  #failed(err: unknown): void {
    this.#failures++;
    const ceiling = Math.min(
      this.#maxDelayMs,
      this.#initialDelayMs * 2 ** Math.min(this.#failures - 1, 30),
    );
    const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    const fields = { err: String(err), failures: this.#failures, retryInMs: delayMs };
    // Loud at first, then now and then: an outage of an hour is not a thousand warnings.
    if (this.#failures % 20 === 1) this.#log.warn(fields, 'publishing routes failed; retrying');
    else this.#log.debug(fields, 'publishing routes failed again');
    this.#onError?.(err, this.#failures, delayMs);
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#kick();
    }, delayMs);
  }
}

type MutableChangedKeys = { [S in keyof ChangedKeys]: Set<string> };

function emptyChanged(): MutableChangedKeys {
  return { virtualHosts: new Set(), backends: new Set(), certificates: new Set() };
}

function stoppedError(): Error {
  return new Error('publication loop stopped before the latest routes reached Redis');
}
