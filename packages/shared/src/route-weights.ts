/**
 * The weighted choice among a route's backends: ingress-nginx's `canary-weight` out of
 * `canary-weight-total`, and the Gateway API's `backendRefs[].weight`. Each backend gets a share
 * of weight / (sum of weights) of the requests. Pure: the random source is injected.
 */

/** One backend of a weighted split. */
export interface WeightedBackend {
  /** Key into the table's backends. */
  backend: string;
  /** Integer, 0 to {@link MAX_BACKEND_WEIGHT}; 0 sends it nothing. */
  weight: number;
}

/** Largest weight of one backend (a 32-bit signed integer, as nginx's and the Gateway API's). */
export const MAX_BACKEND_WEIGHT = 2_147_483_647;
/** Most backends one split may list (the Gateway API allows 16 backendRefs per rule). */
export const MAX_SPLIT_BACKENDS = 16;

/** Why `weight` cannot be a backend's weight, or undefined when it can. */
export function weightProblem(weight: unknown): string | undefined {
  return typeof weight === 'number' &&
    Number.isInteger(weight) &&
    weight >= 0 &&
    weight <= MAX_BACKEND_WEIGHT
    ? undefined
    : `must be an integer from 0 to ${MAX_BACKEND_WEIGHT}`;
}

/**
 * Draws one of `items` with probability weight / total, or undefined when every weight is 0 (or
 * there is none). `random` is uniform in [0, 1), as Math.random; a source that returns 1 or
 * garbage is clamped, never out of range.
 */
export function pickWeighted<T extends { readonly weight: number }>(
  items: readonly T[],
  random: () => number,
): T | undefined {
  let total = 0;
  for (const item of items) total += item.weight;
  if (total <= 0) return undefined;
  const r = random();
  let draw = Math.floor((Number.isFinite(r) ? r : 0) * total);
  draw = Math.min(Math.max(draw, 0), total - 1);
  for (const item of items) {
    if (draw < item.weight) return item;
    draw -= item.weight;
  }
  return undefined;
}
