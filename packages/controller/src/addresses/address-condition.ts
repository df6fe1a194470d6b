/**
 * The condition a claimant whose status has a conditions list (a Service of type LoadBalancer)
 * carries, so that a script can wait for its address with `kubectl wait
 * --for=condition=pier.dev/AddressAssigned`. Ingress status (networking.k8s.io/v1) has no
 * conditions field: an Ingress's failures are Events only. Pure.
 *
 * The type is domain-prefixed, as the API conventions ask of conditions that are not the
 * resource owner's. Stable: documented in docs/services.md.
 */
import type { V1Condition } from '@kubernetes/client-node';
import {
  type ConditionSpec,
  removeCondition,
  sameConditions,
  setCondition,
} from '../kube/conditions.ts';

export const CONDITION_ADDRESS_ASSIGNED = 'pier.dev/AddressAssigned';
/** The reason while True; while False the reason is the error code (`PIER_POOL_EXHAUSTED`…). */
export const REASON_ASSIGNED = 'Assigned';

/** `metadata.generation`, which Services do not have (then no observedGeneration is written). */
function generationOf(obj: object): { observedGeneration?: number } {
  const generation = (obj as { metadata?: { generation?: number } }).metadata?.generation;
  return generation === undefined ? {} : { observedGeneration: generation };
}

/** True: `addresses` are in status, from `pool`. */
export function assignedCondition(
  obj: object,
  addresses: readonly string[],
  pool: string,
): ConditionSpec {
  return {
    type: CONDITION_ADDRESS_ASSIGNED,
    status: 'True',
    reason: REASON_ASSIGNED,
    message: `Assigned ${addresses.join(', ')} from pool ${pool}`,
    ...generationOf(obj),
  };
}

/** False: no address could be given; `code` is the error code (a valid condition reason). */
export function failedCondition(obj: object, code: string, message: string): ConditionSpec {
  return {
    type: CONDITION_ADDRESS_ASSIGNED,
    status: 'False',
    reason: code,
    message,
    ...generationOf(obj),
  };
}

/**
 * The conditions to write so that `current` carries `next` (undefined: none of Pier's), or
 * undefined when `current` already says so: reconcile compares, and writes only on change.
 */
export function nextConditions(
  current: readonly V1Condition[],
  next: ConditionSpec | undefined,
  now: Date,
): V1Condition[] | undefined {
  const wanted =
    next === undefined
      ? removeCondition(current, CONDITION_ADDRESS_ASSIGNED)
      : setCondition(current, next, now);
  return sameConditions(current, wanted) ? undefined : wanted;
}
