/**
 * A many-to-many index of keys (a Service to the Ingresses that name it, a virtual host to
 * the Ingresses that ask for it…): what to recompile when an object changes. Pure.
 *
 * Most keys lead to one other (a Service to its one Ingress, backend, slice and policy), so a
 * key with one target holds the string itself and only a key with more holds a Set: at 10,000
 * Services a Set per key cost about 2 MiB per index.
 */
export class KeyIndex {
  readonly #targets = new Map<string, string | Set<string>>();

  add(from: string, to: string): void {
    const known = this.#targets.get(from);
    if (known === undefined) this.#targets.set(from, to);
    else if (typeof known !== 'string') known.add(to);
    else if (known !== to) this.#targets.set(from, new Set([known, to]));
  }

  delete(from: string, to: string): void {
    const known = this.#targets.get(from);
    if (known === undefined) return;
    if (typeof known === 'string') {
      if (known === to) this.#targets.delete(from);
      return;
    }
    known.delete(to);
    if (known.size === 1) this.#targets.set(from, known.values().next().value as string);
  }

  /** The keys `from` leads to, in the order they were added; empty when none. */
  get(from: string): Iterable<string> {
    const known = this.#targets.get(from);
    if (known === undefined) return EMPTY;
    return typeof known === 'string' ? [known] : known;
  }

  /** The first of the keys `from` leads to, or undefined when none. */
  first(from: string): string | undefined {
    const known = this.#targets.get(from);
    return typeof known === 'string' ? known : known?.values().next().value;
  }
}

const EMPTY: readonly string[] = [];
