/**
 * Long work in bounded slices, so that a process serving requests never stops serving while it
 * applies a large change: the work is a generator doing one small step per `next()` (an entry,
 * an endpoint), and {@link runSliced} runs steps until the slice's time budget is spent, then
 * yields to I/O (`setImmediate`) before the next slice. A request that arrives meanwhile waits for
 * at most one slice.
 */
import { performance } from 'node:perf_hooks';

/** Time one slice may hold the event loop, ms. */
export const SLICE_BUDGET_MS = 4;
/** The clock is read every this many steps (a step is far cheaper than a clock read's worth). */
const STEPS_PER_CLOCK_READ = 8;

/**
 * Runs `work` to its end in slices of about `budgetMs`. The first slice runs at once, in the
 * caller's turn: work that fits in one slice is done when this returns `undefined`; otherwise the
 * returned promise settles when the rest is done (rejects with what the generator threw).
 * `onDone`, when given, gets the event-loop time the work took once it ends: the sum of its
 * slices, ms, not the time between them.
 */
export function runSliced(
  work: Iterator<unknown>,
  budgetMs = SLICE_BUDGET_MS,
  onDone?: (busyMs: number) => void,
): Promise<void> | undefined {
  let busy = 0;
  const slice = (): boolean => {
    const start = performance.now();
    try {
      return runSlice(work, start + budgetMs);
    } finally {
      busy += performance.now() - start;
    }
  };
  if (slice()) {
    onDone?.(busy);
    return undefined;
  }
  return (async () => {
    do await yieldToIo();
    while (!slice());
    onDone?.(busy);
  })();
}

/** Lets timers and I/O run before the caller goes on. */
export function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs steps until `work` is done (true) or the clock passes `end` (false). */
function runSlice(work: Iterator<unknown>, end: number): boolean {
  for (let step = 1; ; step++) {
    if (work.next().done === true) return true;
    if (step % STEPS_PER_CLOCK_READ === 0 && performance.now() >= end) return false;
  }
}

/**
 * Sliced work run one piece after another, in the order given: a piece starts only when the one
 * before it has ended, so two pieces never interleave their steps.
 */
export class SlicedQueue {
  readonly #onError: (err: unknown) => void;
  readonly #onDone: ((busyMs: number) => void) | undefined;
  #tail: Promise<void> | undefined;

  /**
   * `onError` gets what a piece threw; the pieces after it run regardless. `onDone` gets the
   * event-loop time of each piece that ended (see {@link runSliced}).
   */
  constructor(onError: (err: unknown) => void, onDone?: (busyMs: number) => void) {
    this.#onError = onError;
    this.#onDone = onDone;
  }

  /** Queues `work` (called when its turn comes); with nothing queued, its first slice runs now. */
  run(work: () => Iterator<unknown>): void {
    if (this.#tail === undefined) {
      let pending: Promise<void> | undefined;
      try {
        pending = runSliced(work(), SLICE_BUDGET_MS, this.#onDone);
      } catch (err) {
        this.#onError(err);
      }
      if (pending !== undefined) this.#track(pending);
      return;
    }
    this.#track(this.#tail.then(() => runSliced(work(), SLICE_BUDGET_MS, this.#onDone)));
  }

  /**
   * A function that queues `apply` of the value it is given, where a value given while another
   * still waits its turn replaces it: of a burst of table updates, only the newest is applied.
   */
  newest<T>(apply: (value: T) => Iterator<unknown>): (value: T) => void {
    let waiting: { value: T } | undefined;
    return (value) => {
      const queued = waiting !== undefined;
      waiting = { value };
      if (queued) return;
      this.run(() => {
        const { value: newest } = waiting as { value: T };
        waiting = undefined;
        return apply(newest);
      });
    };
  }

  /** Something queued has not ended yet (a piece that ended in its first slice never counts). */
  get busy(): boolean {
    return this.#tail !== undefined;
  }

  /** Resolves once everything queued so far has run. */
  idle(): Promise<void> {
    return this.#tail ?? Promise.resolve();
  }

  #track(pending: Promise<void>): void {
    const tail: Promise<void> = pending.catch(this.#onError).finally(() => {
      if (this.#tail === tail) this.#tail = undefined;
    });
    this.#tail = tail;
  }
}
