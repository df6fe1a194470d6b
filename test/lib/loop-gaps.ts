/** How long this process's event loop went without running a timer, for stall assertions. */

/** A running watch of the event loop: a timer every `intervalMs`, and the longest gap between runs. */
export interface LoopGapWatch {
  /** The longest gap since the start or the last reset, ms. */
  readonly worst: number;
  /** Forgets what was seen so far (e.g. work before the part that counts). */
  reset(): void;
  stop(): void;
}

export function watchLoopGaps(intervalMs: number): LoopGapWatch {
  let worst = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, intervalMs);
  return {
    get worst() {
      return worst;
    },
    reset() {
      worst = 0;
      last = performance.now();
    },
    stop() {
      clearInterval(ticker);
    },
  };
}
