/**
 * Several watched caches of one kind read as one: the Secrets of the TLS cache
 * (`type=kubernetes.io/tls`) and of the basic-auth cache (`type=Opaque`). The caches must hold
 * disjoint objects (a Secret's type never changes), so `get` takes the first that has it.
 */
import type { ObjectSource } from '../addresses/claim-kind.ts';

/** `sources` as one {@link ObjectSource}. */
export function joinSources<T>(...sources: ReadonlyArray<ObjectSource<T>>): ObjectSource<T> {
  return {
    list: () => sources.flatMap((source) => source.list()),
    get: (name, namespace) => {
      for (const source of sources) {
        const found = source.get(name, namespace);
        if (found !== undefined) return found;
      }
      return undefined;
    },
  };
}
