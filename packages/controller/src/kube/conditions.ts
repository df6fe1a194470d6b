/**
 * Status conditions (metav1.Condition) as Pier keeps them on the objects it writes: one per
 * type, sorted by type, `lastTransitionTime` kept while the status stays the same, and compared
 * without timestamps, so that an unchanged condition is never rewritten. Pure.
 */
import type { V1Condition } from '@kubernetes/client-node';

/** A condition as a reconcile computes it; the writer stamps the transition time. */
export type ConditionSpec = Omit<V1Condition, 'lastTransitionTime'>;

/**
 * Sets or replaces a condition, keeping lastTransitionTime when the status
 * did not change (so an unchanged condition compares equal and is not rewritten).
 */
export function setCondition(
  conditions: readonly V1Condition[],
  next: ConditionSpec,
  now: Date,
): V1Condition[] {
  const previous = conditions.find((c) => c.type === next.type);
  const lastTransitionTime =
    previous && previous.status === next.status ? previous.lastTransitionTime : now;
  const merged: V1Condition = { ...next, lastTransitionTime };
  return [...conditions.filter((c) => c.type !== next.type), merged].sort((a, b) =>
    a.type.localeCompare(b.type),
  );
}

/** The conditions without the one of `type`. */
export function removeCondition(conditions: readonly V1Condition[], type: string): V1Condition[] {
  return conditions.filter((c) => c.type !== type);
}

/** Whether two lists say the same, whatever the order and the timestamps' form (Date or string). */
export function sameConditions(a: readonly V1Condition[], b: readonly V1Condition[]): boolean {
  const norm = (cs: readonly V1Condition[]): string =>
    JSON.stringify(
      [...cs]
        .map((c) => [c.type, c.status, c.reason, c.message, c.observedGeneration])
        .sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
  return norm(a) === norm(b);
}
