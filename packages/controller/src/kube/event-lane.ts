/**
 * Writes Events in the background, a few at a time, behind the writes users wait for. At a first
 * start with 10,000 Ingresses every status write was followed by an `AddressAssigned` Event in
 * the same work item: half the API server's writes were Events, and the statuses took that much
 * longer. Here an Event waits its turn in a bounded queue; when the queue is full it is dropped
 * (and counted), as Kubernetes' own event recorders drop what they cannot send. Pure scheduling:
 * the writes themselves, their metrics and their errors belong to the caller.
 */

/** Options of {@link EventLane}. */
export interface EventLaneOptions {
  /** Writes in flight at once (default {@link EVENT_CONCURRENCY}). */
  concurrency?: number;
  /** Writes waiting at most; a further one is dropped (default {@link EVENT_QUEUE_LIMIT}). */
  maxQueued?: number;
  /** Called for each write dropped because the queue was full. */
  onDropped?: () => void;
}

/** Default writes in flight at once: few, so that status writes keep most of the API server. */
export const EVENT_CONCURRENCY = 4;
/** Default queue bound: a first start's Event per object at 20,000 objects. */
export const EVENT_QUEUE_LIMIT = 20_000;

export class EventLane {
  readonly #concurrency: number;
  readonly #maxQueued: number;
  readonly #onDropped: (() => void) | undefined;
  #queue: Array<() => Promise<void>> = [];
  /** Index of the next write in `#queue` (shifting a long array per write is O(n)). */
  #head = 0;
  #running = 0;
  #idle: Array<() => void> = [];

  /** @throws RangeError when `concurrency` or `maxQueued` is not a positive integer. */
  constructor(options: EventLaneOptions = {}) {
    this.#concurrency = options.concurrency ?? EVENT_CONCURRENCY;
    this.#maxQueued = options.maxQueued ?? EVENT_QUEUE_LIMIT;
    this.#onDropped = options.onDropped;
    for (const [name, value] of [
      ['concurrency', this.#concurrency],
      ['maxQueued', this.#maxQueued],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`EventLane: ${name} must be an integer >= 1, not ${value}`);
      }
    }
  }

  /** Writes waiting (not those in flight). */
  get depth(): number {
    return this.#queue.length - this.#head;
  }

  /** Queues `write` (which should not throw; a rejection is ignored). False when dropped. */
  push(write: () => Promise<void>): boolean {
    if (this.depth >= this.#maxQueued) {
      this.#onDropped?.();
      return false;
    }
    this.#queue.push(write);
    this.#pump();
    return true;
  }

  /** Drops every write still waiting (the ones in flight finish); their count. */
  clear(): number {
    const dropped = this.depth;
    this.#queue = [];
    this.#head = 0;
    this.#settle();
    return dropped;
  }

  /** Resolves once nothing waits and nothing is in flight. */
  idle(): Promise<void> {
    if (this.depth === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#running < this.#concurrency && this.depth > 0) {
      const write = this.#queue[this.#head] as () => Promise<void>;
      this.#queue[this.#head] = undefined as never;
      this.#head += 1;
      if (this.#head > 1_024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.#running += 1;
      let written: Promise<void>;
      try {
        written = write();
      } catch {
        written = Promise.resolve();
      }
      written
        .catch(() => undefined)
        .finally(() => {
          this.#running -= 1;
          this.#pump();
          this.#settle();
        });
    }
  }

  #settle(): void {
    if (this.depth > 0 || this.#running > 0) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }
}
