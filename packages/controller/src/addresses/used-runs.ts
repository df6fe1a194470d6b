/**
 * In-use values of one family as sorted, disjoint, non-adjacent runs. Finding the lowest free
 * address jumps over whole runs, so 10,000 sequential allocations cost a few steps each instead
 * of a scan over everything allocated before.
 */
export class UsedRuns {
  private readonly runs: { start: bigint; end: bigint }[] = [];

  /** Index of the last run starting at or before `value`, or -1. */
  private floor(value: bigint): number {
    let low = 0;
    let high = this.runs.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const run = this.runs[middle];
      if (run !== undefined && run.start <= value) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return found;
  }

  add(value: bigint): void {
    const index = this.floor(value);
    const previous = this.runs[index];
    const next = this.runs[index + 1];
    if (previous !== undefined && value <= previous.end) return;
    const joinsPrevious = previous !== undefined && previous.end + 1n === value;
    const joinsNext = next !== undefined && next.start === value + 1n;
    if (joinsPrevious && joinsNext) {
      previous.end = next.end;
      this.runs.splice(index + 1, 1);
    } else if (joinsPrevious) previous.end = value;
    else if (joinsNext) next.start = value;
    else this.runs.splice(index + 1, 0, { start: value, end: value });
  }

  delete(value: bigint): void {
    const index = this.floor(value);
    const run = this.runs[index];
    if (run === undefined || value > run.end) return;
    if (run.start === run.end) this.runs.splice(index, 1);
    else if (value === run.start) run.start = value + 1n;
    else if (value === run.end) run.end = value - 1n;
    else {
      this.runs.splice(index + 1, 0, { start: value + 1n, end: run.end });
      run.end = value - 1n;
    }
  }

  /** The lowest value at or above `value` that is not in use. */
  nextFree(value: bigint): bigint {
    const run = this.runs[this.floor(value)];
    return run !== undefined && value <= run.end ? run.end + 1n : value;
  }
}
