/**
 * Which Services Pier gives addresses to: `type: LoadBalancer` with `spec.loadBalancerClass`
 * `pier.dev/lb`, and, when the controller is started with --services-without-class, those with
 * no class (as MetalLB does). Pure.
 */
import type { V1Service } from '@kubernetes/client-node';

export const SERVICE_LOAD_BALANCER_CLASS = 'pier.dev/lb';

/** undefined when the Service is Pier's; otherwise why it is not. */
export function serviceNotOursBecause(
  service: V1Service,
  servesWithoutClass: boolean,
): string | undefined {
  const type = service.spec?.type ?? 'ClusterIP';
  if (type !== 'LoadBalancer') return `its type is ${type}, not LoadBalancer`;
  const cls = service.spec?.loadBalancerClass;
  if (cls === SERVICE_LOAD_BALANCER_CLASS) return undefined;
  if (cls === undefined || cls === null || cls === '') {
    return servesWithoutClass
      ? undefined
      : `it has no loadBalancerClass and the controller runs without --services-without-class`;
  }
  return `its loadBalancerClass is ${cls}, not ${SERVICE_LOAD_BALANCER_CLASS}`;
}
