import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { V1Endpoint, V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import {
  isLocalLoadBalancer,
  localNodesFor,
  readyNodesByService,
  SERVICE_NAME_LABEL,
  sliceService,
} from './local-endpoints.ts';
import { serviceOwner } from './service-claims.ts';

function slice(
  namespace: string,
  service: string | undefined,
  endpoints: V1Endpoint[],
  name = `${service ?? 'orphan'}-x`,
): V1EndpointSlice {
  return {
    addressType: 'IPv4',
    metadata: {
      name,
      namespace,
      ...(service === undefined ? {} : { labels: { [SERVICE_NAME_LABEL]: service } }),
    },
    endpoints,
  };
}

function endpoint(nodeName: string | undefined, ready?: boolean): V1Endpoint {
  return {
    addresses: ['10.0.0.1'],
    ...(nodeName === undefined ? {} : { nodeName }),
    ...(ready === undefined ? {} : { conditions: { ready } }),
  };
}

function svc(type: string, externalTrafficPolicy?: string): V1Service {
  return {
    metadata: { name: 's', namespace: 'n' },
    spec: { type, ...(externalTrafficPolicy ? { externalTrafficPolicy } : {}) },
  };
}

describe('sliceService', () => {
  test('the Service is named by the kubernetes.io/service-name label', () => {
    assert.equal(SERVICE_NAME_LABEL, 'kubernetes.io/service-name');
    assert.equal(sliceService(slice('shop', 'web', [])), 'shop/web');
  });

  test('a slice without the label belongs to no Service', () => {
    assert.equal(sliceService(slice('shop', undefined, [])), undefined);
    assert.equal(sliceService(slice('shop', '', [])), undefined);
  });
});

describe('readyNodesByService', () => {
  test('nodes with a ready endpoint; unset ready counts as ready', () => {
    const nodes = readyNodesByService([
      slice('shop', 'web', [
        endpoint('node-a'),
        endpoint('node-b', true),
        endpoint('node-c', false),
        endpoint(undefined, true),
      ]),
    ]);
    assert.deepEqual(nodes, new Map([['shop/web', new Set(['node-a', 'node-b'])]]));
  });

  test('several slices of one Service merge; namespaces stay apart; unlabelled slices ignored', () => {
    const nodes = readyNodesByService([
      slice('shop', 'web', [endpoint('node-a')], 'web-1'),
      slice('shop', 'web', [endpoint('node-b'), endpoint('node-a')], 'web-2'),
      slice('blog', 'web', [endpoint('node-c')]),
      slice('shop', undefined, [endpoint('node-d')]),
    ]);
    assert.deepEqual(
      nodes,
      new Map([
        ['shop/web', new Set(['node-a', 'node-b'])],
        ['blog/web', new Set(['node-c'])],
      ]),
    );
  });

  test('a Service whose endpoints are all unready has an empty set', () => {
    const nodes = readyNodesByService([slice('shop', 'web', [endpoint('node-a', false)])]);
    assert.deepEqual(nodes.get('shop/web'), new Set());
  });
});

describe('isLocalLoadBalancer', () => {
  const rows: Array<[string, V1Service | undefined, boolean]> = [
    ['LoadBalancer, Local', svc('LoadBalancer', 'Local'), true],
    ['LoadBalancer, Cluster', svc('LoadBalancer', 'Cluster'), false],
    ['LoadBalancer, no policy', svc('LoadBalancer'), false],
    ['NodePort, Local', svc('NodePort', 'Local'), false],
    ['no Service', undefined, false],
  ];
  for (const [name, service, expected] of rows) {
    test(name, () => assert.equal(isLocalLoadBalancer(service), expected));
  }
});

describe('localNodesFor', () => {
  const services = new Map<string, V1Service>([
    ['shop/local', svc('LoadBalancer', 'Local')],
    ['shop/local-too', svc('LoadBalancer', 'Local')],
    ['shop/idle', svc('LoadBalancer', 'Local')],
    ['shop/cluster', svc('LoadBalancer', 'Cluster')],
  ]);
  const ready = new Map([
    ['shop/local', new Set(['node-a', 'node-b'])],
    ['shop/local-too', new Set(['node-b', 'node-c'])],
    ['shop/cluster', new Set(['node-a'])],
  ]);
  const nodesFor = (owners: string[]): ReadonlySet<string> | undefined =>
    localNodesFor(
      owners,
      (nn) => services.get(nn),
      () => ready,
    );

  const rows: Array<[string, string[], Set<string> | undefined]> = [
    ['no owners', [], undefined],
    ['an Ingress does not restrict', ['shop/local'], undefined],
    ['a Cluster-policy Service does not restrict', [serviceOwner('shop/cluster')], undefined],
    ['a Service no longer in the cache does not restrict', [serviceOwner('shop/gone')], undefined],
    [
      'a Local Service: its ready nodes',
      [serviceOwner('shop/local')],
      new Set(['node-a', 'node-b']),
    ],
    ['a Local Service without ready endpoints: no node', [serviceOwner('shop/idle')], new Set()],
    [
      'two Local Services: the nodes both have',
      [serviceOwner('shop/local'), serviceOwner('shop/local-too')],
      new Set(['node-b']),
    ],
    [
      'a Local Service with Ingresses and Cluster Services: only its nodes',
      ['shop/local-too', serviceOwner('shop/cluster'), serviceOwner('shop/local')],
      new Set(['node-a', 'node-b']),
    ],
  ];
  for (const [name, owners, expected] of rows) {
    test(name, () => assert.deepEqual(nodesFor(owners), expected));
  }
});
