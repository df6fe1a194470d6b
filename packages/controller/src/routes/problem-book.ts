/**
 * The problems of a compile kept by the part of the table that found them (an Ingress's plan,
 * a virtual host, a backend…), so that recompiling one part replaces only its problems. A
 * problem found by several parts is listed once, while any of them still finds it. Pure.
 */
import { type CompileProblem, compareProblems, problemKey } from './compile-problems.ts';

export class ProblemBook {
  /** Every problem found, with how many parts find it. */
  readonly #counts = new Map<string, { problem: CompileProblem; count: number }>();
  /** The keys of the problems each part found. */
  readonly #parts = new Map<string, readonly string[]>();
  /** The sorted list, kept while no problem comes or goes. */
  #sorted: readonly CompileProblem[] | undefined = [];

  /** Replaces the problems found by `part` (empty: it finds none). */
  set(part: string, problems: readonly CompileProblem[]): void {
    const before = this.#parts.get(part);
    if (before === undefined && problems.length === 0) return;
    const keys = new Map<string, CompileProblem>();
    for (const problem of problems) keys.set(problemKey(problem), problem);
    for (const [key, problem] of keys) {
      const seen = this.#counts.get(key);
      if (seen !== undefined) {
        seen.count++;
      } else {
        this.#counts.set(key, { problem, count: 1 });
        this.#sorted = undefined;
      }
    }
    for (const key of before ?? []) {
      const seen = this.#counts.get(key);
      if (seen === undefined) continue;
      if (--seen.count === 0) {
        this.#counts.delete(key);
        this.#sorted = undefined;
      }
    }
    if (keys.size === 0) this.#parts.delete(part);
    else this.#parts.set(part, [...keys.keys()]);
  }

  /** All problems, deduplicated and sorted; the same array as long as nothing changed. */
  get list(): readonly CompileProblem[] {
    this.#sorted ??= [...this.#counts.values()].map((c) => c.problem).sort(compareProblems);
    return this.#sorted;
  }
}
