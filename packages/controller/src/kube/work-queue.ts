/**
 * A work queue of object keys, in the manner of client-go's: a key added many
 * times before it is processed is processed once; a key added while it is
 * being processed is processed again afterwards (never concurrently with
 * itself); failures are retried with per-key exponential back-off.
 */

/** Timer functions, injected so tests control time. */
export interface Scheduler {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realScheduler: Scheduler = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What a handler tells the queue about one key. */
export type ReconcileResult =
  | { kind: 'done' }
  | { kind: 'retry'; reason: string }
  | { kind: 'requeueAfter'; ms: number };

export const DONE: ReconcileResult = Object.freeze({ kind: 'done' });

export interface WorkQueueOptions {
  /** First retry delay; doubles per consecutive failure of the same key. */
  baseDelayMs?: number;
  /** Upper bound of the retry delay. */
  maxDelayMs?: number;
  /** Keys processed at once (each key still never concurrently with itself). */
  concurrency?: number;
  scheduler?: Scheduler;
  /** Called when a handler throws: the queue retries the key as for `retry`. */
  onError?: (key: string, err: unknown) => void;
}

export class WorkQueue {
  readonly #queue: string[] = [];
  readonly #queued = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #delayed = new Map<string, unknown>();
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #concurrency: number;
  readonly #scheduler: Scheduler;
  readonly #onError: (key: string, err: unknown) => void;
  #handler: ((key: string) => Promise<ReconcileResult>) | undefined;
  #running = 0;
  #stopped = false;
  #idleWaiters: Array<() => void> = [];

  constructor(options: WorkQueueOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 200;
    this.#maxDelayMs = options.maxDelayMs ?? 60_000;
    this.#concurrency = options.concurrency ?? 1;
    if (!(this.#baseDelayMs > 0) || !(this.#maxDelayMs >= this.#baseDelayMs)) {
      throw new RangeError('WorkQueue: need 0 < baseDelayMs <= maxDelayMs');
    }
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw new RangeError('WorkQueue: concurrency must be an integer >= 1');
    }
    this.#scheduler = options.scheduler ?? realScheduler;
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Keys waiting to be processed (not counting delayed retries). */
  get depth(): number {
    return this.#queue.length;
  }

  /** Starts processing keys with `handler`. */
  start(handler: (key: string) => Promise<ReconcileResult>): void {
    this.#handler = handler;
    this.#stopped = false;
    this.#pump();
  }

  /** Stops taking new keys; resolves when the keys in progress are done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const handle of this.#delayed.values()) this.#scheduler.clearTimeout(handle);
    this.#delayed.clear();
    await this.idle();
  }

  /** Enqueues `key` unless it is already waiting. */
  add(key: string): void {
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#queued.add(key);
    this.#queue.push(key);
    this.#pump();
  }

  /** Enqueues `key` after `ms`; an earlier pending delay for the key is replaced. */
  addAfter(key: string, ms: number): void {
    const pending = this.#delayed.get(key);
    if (pending !== undefined) this.#scheduler.clearTimeout(pending);
    const handle = this.#scheduler.setTimeout(() => {
      this.#delayed.delete(key);
      if (!this.#stopped) this.add(key);
    }, ms);
    this.#delayed.set(key, handle);
  }

  /** The delay the next retry of `key` would wait. */
  retryDelay(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    return Math.min(this.#baseDelayMs * 2 ** failures, this.#maxDelayMs);
  }

  /** Resolves when nothing is queued or in progress (delayed retries aside). */
  idle(): Promise<void> {
    if (this.#running === 0 && (this.#queue.length === 0 || this.#stopped))
      return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #pump(): void {
    while (!this.#stopped && this.#handler && this.#running < this.#concurrency) {
      const key = this.#queue.shift();
      if (key === undefined) break;
      this.#queued.delete(key);
      this.#processing.add(key);
      this.#running++;
      void this.#process(key, this.#handler);
    }
    if (this.#running === 0 && (this.#queue.length === 0 || this.#stopped)) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  async #process(key: string, handler: (key: string) => Promise<ReconcileResult>): Promise<void> {
    let result: ReconcileResult;
    try {
      result = await handler(key);
    } catch (err) {
      this.#onError(key, err);
      result = { kind: 'retry', reason: String(err) };
    }
    this.#processing.delete(key);
    this.#running--;
    if (result.kind === 'retry') {
      const delay = this.retryDelay(key);
      this.#failures.set(key, (this.#failures.get(key) ?? 0) + 1);
      if (!this.#stopped) this.addAfter(key, delay);
    } else {
      this.#failures.delete(key);
      if (result.kind === 'requeueAfter' && !this.#stopped) this.addAfter(key, result.ms);
    }
    if (this.#dirty.delete(key)) this.add(key);
    this.#pump();
  }
}
