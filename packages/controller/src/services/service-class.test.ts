import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Service } from '@kubernetes/client-node';
import { SERVICE_LOAD_BALANCER_CLASS, serviceNotOursBecause } from './service-class.ts';

function svc(spec: V1Service['spec']): V1Service {
  return { metadata: { name: 's', namespace: 'n' }, ...(spec ? { spec } : {}) };
}

test('the class Pier serves is pier.dev/lb', () => {
  assert.equal(SERVICE_LOAD_BALANCER_CLASS, 'pier.dev/lb');
});

const cases: Array<{
  name: string;
  service: V1Service;
  servesWithoutClass: boolean;
  /** undefined: ours; otherwise what the reason must say. */
  reason: RegExp | undefined;
}> = [
  {
    name: 'ClusterIP',
    service: svc({ type: 'ClusterIP', loadBalancerClass: 'pier.dev/lb' }),
    servesWithoutClass: true,
    reason: /its type is ClusterIP, not LoadBalancer/,
  },
  {
    name: 'NodePort',
    service: svc({ type: 'NodePort' }),
    servesWithoutClass: true,
    reason: /its type is NodePort, not LoadBalancer/,
  },
  {
    name: 'no type at all is ClusterIP',
    service: svc(undefined),
    servesWithoutClass: true,
    reason: /its type is ClusterIP/,
  },
  {
    name: 'class pier.dev/lb',
    service: svc({ type: 'LoadBalancer', loadBalancerClass: 'pier.dev/lb' }),
    servesWithoutClass: false,
    reason: undefined,
  },
  {
    name: 'class pier.dev/lb, with --services-without-class',
    service: svc({ type: 'LoadBalancer', loadBalancerClass: 'pier.dev/lb' }),
    servesWithoutClass: true,
    reason: undefined,
  },
  {
    name: 'another class',
    service: svc({ type: 'LoadBalancer', loadBalancerClass: 'metallb.io/metallb' }),
    servesWithoutClass: false,
    reason: /its loadBalancerClass is metallb\.io\/metallb, not pier\.dev\/lb/,
  },
  {
    name: 'another class, even with --services-without-class',
    service: svc({ type: 'LoadBalancer', loadBalancerClass: 'metallb.io/metallb' }),
    servesWithoutClass: true,
    reason: /its loadBalancerClass is metallb\.io\/metallb/,
  },
  {
    name: 'no class, without --services-without-class',
    service: svc({ type: 'LoadBalancer' }),
    servesWithoutClass: false,
    reason: /no loadBalancerClass .*--services-without-class/,
  },
  {
    name: 'empty class, without --services-without-class',
    service: svc({ type: 'LoadBalancer', loadBalancerClass: '' }),
    servesWithoutClass: false,
    reason: /no loadBalancerClass/,
  },
  {
    name: 'no class, with --services-without-class',
    service: svc({ type: 'LoadBalancer' }),
    servesWithoutClass: true,
    reason: undefined,
  },
];

for (const c of cases) {
  test(`serviceNotOursBecause: ${c.name}`, () => {
    const reason = serviceNotOursBecause(c.service, c.servesWithoutClass);
    if (c.reason === undefined) assert.equal(reason, undefined);
    else assert.match(reason ?? '(ours)', c.reason);
  });
}
