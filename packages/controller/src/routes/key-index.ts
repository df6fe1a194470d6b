/**
 * A many-to-many index of keys (a Service to the Ingresses that name it, a virtual host to
 * the Ingresses that ask for it…): what to recompile when an object changes. Pure.
 */
export class KeyIndex {
  readonly #sets = new Map<string, Set<string>>();

  add(from: string, to: string): void {
    let set = this.#sets.get(from);
    if (set === undefined) {
      set = new Set();
      this.#sets.set(from, set);
    }
    set.add(to);
  }

  delete(from: string, to: string): void {
    const set = this.#sets.get(from);
    if (set === undefined) return;
    set.delete(to);
    if (set.size === 0) this.#sets.delete(from);
  }

  /** The keys `from` leads to; empty when none. Do not modify. */
  get(from: string): ReadonlySet<string> {
    return this.#sets.get(from) ?? EMPTY;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
