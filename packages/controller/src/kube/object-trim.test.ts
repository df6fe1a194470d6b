import assert from 'node:assert/strict';
import { test } from 'node:test';
import type {
  V1EndpointSlice,
  V1Ingress,
  V1IngressClass,
  V1Namespace,
  V1Node,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import { classifyIngress } from '../ingress/ingress-class.ts';
import { compileRoutes } from '../routes/route-compiler.ts';
import { A_CERT, A_KEY, compileInput } from '../routes/route-fixtures.test.ts';
import { readyNodesByService } from '../services/local-endpoints.ts';
import { parseServiceRequest } from '../services/service-address-request.ts';
import { serviceNotOursBecause } from '../services/service-class.ts';
import {
  LAST_APPLIED_ANNOTATION,
  trimAuthSecret,
  trimCustomObject,
  trimEndpointSlice,
  trimIngress,
  trimIngressClass,
  trimNamespace,
  trimNode,
  trimSecret,
  trimService,
} from './object-trim.ts';

const NS = 'shop';

/** What every watched object carries and Pier never reads. */
function fullMeta(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    namespace: NS,
    uid: `uid-${name}`,
    resourceVersion: '4711',
    generation: 3,
    creationTimestamp: new Date('2024-01-01T00:00:00Z'),
    generateName: `${name}-`,
    selfLink: `/apis/x/${name}`,
    finalizers: ['example.com/keep'],
    ownerReferences: [{ apiVersion: 'v1', kind: 'Thing', name: 'owner', uid: 'u' }],
    managedFields: [
      {
        manager: 'kubectl-client-side-apply',
        operation: 'Update',
        apiVersion: 'v1',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:annotations': {} } },
      },
    ],
    ...extra,
  };
}

const lastApplied = { [LAST_APPLIED_ANNOTATION]: '{"a very":"long copy of the whole object"}' };

const fullIngress: V1Ingress = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata: fullMeta('web', {
    labels: { app: 'web' },
    annotations: {
      ...lastApplied,
      'pier.dev/ip-sharing-key': 'team-a',
      'nginx.ingress.kubernetes.io/rewrite-target': '/',
      'kubernetes.io/ingress.class': 'pier',
    },
  }),
  spec: {
    ingressClassName: 'pier',
    tls: [{ hosts: ['a.example.test'], secretName: 'cert' }],
    rules: [
      {
        host: 'a.example.test',
        http: {
          paths: [
            {
              path: '/',
              pathType: 'Prefix',
              backend: { service: { name: 'web', port: { name: 'http' } } },
            },
          ],
        },
      },
    ],
  },
  status: { loadBalancer: { ingress: [{ ip: '192.0.2.1' }] } },
};

const fullService: V1Service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: fullMeta('web', {
    labels: { app: 'web' },
    annotations: {
      ...lastApplied,
      'metallb.io/allow-shared-ip': 'k',
      'pier.dev/address-pool': 'p',
    },
  }),
  spec: {
    type: 'LoadBalancer',
    loadBalancerClass: 'pier.dev/lb',
    loadBalancerIP: '192.0.2.7',
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    externalTrafficPolicy: 'Local',
    selector: { app: 'web' },
    ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 31000 }],
    clusterIP: '10.0.0.7',
    clusterIPs: ['10.0.0.7'],
    sessionAffinity: 'None',
    internalTrafficPolicy: 'Cluster',
    healthCheckNodePort: 32000,
    allocateLoadBalancerNodePorts: true,
  },
  status: {
    loadBalancer: { ingress: [{ ip: '192.0.2.7', ipMode: 'VIP' }] },
    conditions: [
      {
        type: 'example.com/Other',
        status: 'True',
        reason: 'Fine',
        message: '',
        lastTransitionTime: new Date(0),
      },
    ],
  },
};

const fullSlice: V1EndpointSlice = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: fullMeta('web-abcde', {
    labels: {
      'kubernetes.io/service-name': 'web',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      app: 'web',
    },
    annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2024-01-01T00:00:00Z' },
  }),
  addressType: 'IPv4',
  ports: [{ name: 'http', port: 8080, protocol: 'TCP', appProtocol: 'http' }],
  endpoints: [
    {
      addresses: ['198.51.100.10'],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: 'edge-1',
      zone: 'z1',
      hostname: 'web-0',
      targetRef: {
        kind: 'Pod',
        name: 'web-0',
        namespace: NS,
        uid: 'pod-uid',
        resourceVersion: '9',
      },
      hints: { forZones: [{ name: 'z1' }] },
      deprecatedTopology: { 'kubernetes.io/hostname': 'edge-1' },
    },
    {
      addresses: ['198.51.100.11'],
      conditions: { ready: false, serving: true, terminating: true },
      nodeName: 'edge-2',
    },
  ],
};

const fullSecret: V1Secret = {
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: fullMeta('cert', {
    labels: { app: 'web' },
    annotations: { ...lastApplied, 'cert-manager.io/issuer-name': 'x' },
  }),
  type: 'kubernetes.io/tls',
  data: {
    'tls.crt': Buffer.from(A_CERT).toString('base64'),
    'tls.key': Buffer.from(A_KEY).toString('base64'),
    'ca.crt': Buffer.from(A_CERT).toString('base64'),
  },
};

const fullNode: V1Node = {
  apiVersion: 'v1',
  kind: 'Node',
  metadata: {
    ...fullMeta('edge-1', { labels: { 'pier.dev/edge': 'true' } }),
    namespace: undefined,
    annotations: { 'node.alpha.kubernetes.io/ttl': '0' },
  },
  spec: { podCIDR: '10.244.0.0/24', taints: [{ key: 'k', effect: 'NoSchedule' }] },
  status: { images: [{ names: ['registry.example/a:1'], sizeBytes: 1 }], capacity: { cpu: '2' } },
};

const fullNamespace: V1Namespace = {
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { ...fullMeta(NS, { labels: { team: 'a' } }), namespace: undefined },
  spec: { finalizers: ['kubernetes'] },
  status: { phase: 'Active' },
};

const fullClass: V1IngressClass = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: {
    ...fullMeta('pier', {
      annotations: { ...lastApplied, 'ingressclass.kubernetes.io/is-default-class': 'true' },
    }),
    namespace: undefined,
  },
  spec: { controller: 'pier.dev/ingress-controller' },
};

const fullPool = {
  apiVersion: 'pier.dev/v1alpha1',
  kind: 'IPAddressPool',
  metadata: { ...fullMeta('pool', { annotations: { ...lastApplied } }), namespace: undefined },
  spec: { addresses: ['192.0.2.0/28'], l2: { interfaces: ['eth0'] } },
  status: { assigned: 1, available: 15, conditions: [] },
};

type Json = Record<string, unknown>;

/** Always dropped from metadata, whatever the resource. */
const DROPPED_META = [
  'metadata.managedFields',
  'metadata.ownerReferences',
  'metadata.finalizers',
  'metadata.generateName',
  'metadata.selfLink',
  `metadata.annotations.${LAST_APPLIED_ANNOTATION}`,
];

/** Identity every cache entry keeps (the informer compares resourceVersion). */
const IDENTITY = [
  'metadata.name',
  'metadata.uid',
  'metadata.resourceVersion',
  'metadata.creationTimestamp',
];

const cases: Array<{
  resource: string;
  full: object;
  trim: (o: never) => object;
  /** Paths whose value must be kept as it was. */
  kept: string[];
  /** Paths that must be gone. */
  dropped: string[];
}> = [
  {
    resource: 'Ingress',
    full: fullIngress,
    trim: trimIngress as (o: never) => object,
    kept: [
      ...IDENTITY,
      'metadata.namespace',
      'metadata.generation',
      'metadata.labels',
      'metadata.annotations.pier.dev/ip-sharing-key',
      'spec',
      'status.loadBalancer',
    ],
    dropped: DROPPED_META,
  },
  {
    resource: 'Service',
    full: fullService,
    trim: trimService as (o: never) => object,
    kept: [
      ...IDENTITY,
      'metadata.namespace',
      'metadata.labels',
      'spec.type',
      'spec.loadBalancerClass',
      'spec.loadBalancerIP',
      'spec.ipFamilies',
      'spec.ipFamilyPolicy',
      'spec.externalTrafficPolicy',
      'spec.selector',
      'spec.ports.0.name',
      'spec.ports.0.port',
      'spec.ports.0.protocol',
      'status.loadBalancer',
      'status.conditions',
    ],
    dropped: [
      ...DROPPED_META,
      'spec.clusterIP',
      'spec.clusterIPs',
      'spec.sessionAffinity',
      'spec.internalTrafficPolicy',
      'spec.healthCheckNodePort',
      'spec.allocateLoadBalancerNodePorts',
      'spec.ports.0.targetPort',
      'spec.ports.0.nodePort',
    ],
  },
  {
    resource: 'EndpointSlice',
    full: fullSlice,
    trim: trimEndpointSlice as (o: never) => object,
    kept: [
      ...IDENTITY,
      'metadata.namespace',
      'metadata.labels.kubernetes.io/service-name',
      'addressType',
      'ports.0.name',
      'ports.0.port',
      'ports.0.protocol',
      'endpoints.0.addresses',
      'endpoints.0.conditions',
      'endpoints.0.nodeName',
      'endpoints.0.zone',
      'endpoints.0.targetRef.kind',
      'endpoints.0.targetRef.name',
      'endpoints.0.targetRef.namespace',
      'endpoints.1.conditions',
    ],
    dropped: [
      ...DROPPED_META,
      'metadata.annotations',
      'metadata.labels.app',
      'metadata.labels.endpointslice.kubernetes.io/managed-by',
      'ports.0.appProtocol',
      'endpoints.0.hostname',
      'endpoints.0.hints',
      'endpoints.0.deprecatedTopology',
      'endpoints.0.targetRef.uid',
      'endpoints.0.targetRef.resourceVersion',
    ],
  },
  {
    resource: 'Secret',
    full: fullSecret,
    trim: trimSecret as (o: never) => object,
    kept: [...IDENTITY, 'metadata.namespace', 'type', 'data.tls.crt', 'data.tls.key'],
    dropped: [...DROPPED_META, 'metadata.labels', 'metadata.annotations', 'data.ca.crt'],
  },
  {
    resource: 'Node',
    full: fullNode,
    trim: trimNode as (o: never) => object,
    kept: [...IDENTITY, 'metadata.labels'],
    dropped: [...DROPPED_META, 'metadata.annotations', 'spec', 'status'],
  },
  {
    resource: 'Namespace',
    full: fullNamespace,
    trim: trimNamespace as (o: never) => object,
    kept: [...IDENTITY, 'metadata.labels'],
    dropped: [...DROPPED_META, 'spec', 'status'],
  },
  {
    resource: 'IngressClass',
    full: fullClass,
    trim: trimIngressClass as (o: never) => object,
    kept: [...IDENTITY, 'metadata.annotations.ingressclass.kubernetes.io/is-default-class', 'spec'],
    dropped: DROPPED_META,
  },
  {
    resource: 'IPAddressPool (custom object)',
    full: fullPool,
    trim: trimCustomObject as (o: never) => object,
    kept: [...IDENTITY, 'apiVersion', 'kind', 'spec', 'status'],
    dropped: DROPPED_META,
  },
];

/** Paths with dotted keys (`kubernetes.io/service-name`) are split on the first dots only. */
function lookup(obj: unknown, path: string): unknown {
  // Try the longest key first at each level, so that `labels.kubernetes.io/service-name` works.
  const parts = path.split('.');
  const walk = (value: unknown, i: number): unknown => {
    if (i === parts.length) return value;
    if (value === null || typeof value !== 'object') return undefined;
    for (let j = parts.length; j > i; j--) {
      const key = parts.slice(i, j).join('.');
      if (key in (value as Json)) return walk((value as Json)[key], j);
    }
    return undefined;
  };
  return walk(obj, 0);
}

for (const c of cases) {
  test(`${c.resource}: the fields a reader uses are kept as they were`, () => {
    const trimmed = c.trim(structuredClone(c.full) as never);
    for (const path of c.kept) {
      assert.notEqual(lookup(c.full, path), undefined, `fixture has ${path}`);
      assert.deepEqual(lookup(trimmed, path), lookup(c.full, path), `${path} kept`);
    }
  });

  test(`${c.resource}: managedFields, last-applied and unread fields are dropped`, () => {
    const trimmed = c.trim(structuredClone(c.full) as never);
    for (const path of c.dropped) {
      const parent = path.slice(0, path.lastIndexOf('.'));
      if (lookup(c.full, parent) !== undefined || path.split('.').length <= 2) {
        assert.equal(lookup(trimmed, path), undefined, `${path} dropped`);
      }
    }
    assert.ok(JSON.stringify(trimmed).length < JSON.stringify(c.full).length);
  });

  test(`${c.resource}: the input is left as it was`, () => {
    const input = structuredClone(c.full);
    c.trim(input as never);
    assert.deepEqual(input, c.full);
  });
}

test('an object without metadata, spec or status trims to what it has, with no undefined keys', () => {
  const trimmed = trimIngress({});
  assert.deepEqual(trimmed, { metadata: {} });
  assert.deepEqual(Object.keys(trimService({ metadata: { name: 'a' } })), ['metadata']);
  // A watch event's raw JSON carries timestamps as strings: they are kept as they came.
  const raw = trimIngress({
    metadata: { name: 'a', creationTimestamp: '2024-01-01T00:00:00Z' as never },
  });
  assert.equal(raw.metadata?.creationTimestamp, '2024-01-01T00:00:00Z');
});

test('an annotation map with only last-applied trims to no annotations', () => {
  const trimmed = trimIngress({ metadata: { name: 'a', annotations: { ...lastApplied } } });
  assert.equal(trimmed.metadata?.annotations, undefined);
});

// The readers themselves, on full and on trimmed objects: every decision is the same.

test('route compiler: the same table, problems and served Ingresses from trimmed objects', () => {
  const input = compileInput({
    ingresses: [fullIngress],
    services: [{ ...fullService, spec: { ...fullService.spec, type: 'ClusterIP' } }],
    endpointSlices: [fullSlice],
    secrets: [fullSecret],
  });
  const full = compileRoutes(input);
  const trimmed = compileRoutes({
    ...input,
    ingresses: input.ingresses.map(trimIngress),
    services: input.services.map(trimService),
    endpointSlices: input.endpointSlices.map(trimEndpointSlice),
    secrets: input.secrets.map(trimSecret),
  });
  assert.deepEqual(trimmed, full);
  // The fixture exercises what matters: a TLS host with a ready and a draining endpoint.
  const backend = Object.values(full.table.backends)[0];
  assert.equal(backend?.endpoints.length, 2);
  assert.equal(backend?.endpoints[0]?.nodeName, 'edge-1');
  assert.equal(backend?.endpoints[0]?.zone, 'z1');
  assert.deepEqual(backend?.endpoints[0]?.targetRef, { namespace: NS, name: 'web-0' });
  assert.equal(Object.keys(full.table.certificates).length, 1);
});

test('Service claims: the same class verdict and address request from a trimmed Service', () => {
  const variants: V1Service[] = [
    fullService,
    { ...fullService, spec: { ...fullService.spec, loadBalancerClass: 'other' } },
    { ...fullService, spec: { ...fullService.spec, type: 'NodePort' } },
  ];
  for (const s of variants) {
    for (const withoutClass of [false, true]) {
      assert.equal(
        serviceNotOursBecause(trimService(s), withoutClass),
        serviceNotOursBecause(s, withoutClass),
      );
    }
    assert.deepEqual(parseServiceRequest(trimService(s)), parseServiceRequest(s));
  }
});

test('Ingress class: the same verdict from trimmed Ingresses and classes', () => {
  const legacy: V1Ingress = {
    ...fullIngress,
    spec: { ...fullIngress.spec, ingressClassName: undefined },
  };
  for (const ingress of [fullIngress, legacy]) {
    assert.deepEqual(
      classifyIngress(trimIngress(ingress), [trimIngressClass(fullClass)]),
      classifyIngress(ingress, [fullClass]),
    );
  }
});

test('local endpoints: the same ready nodes per Service from trimmed slices', () => {
  assert.deepEqual(
    readyNodesByService([trimEndpointSlice(fullSlice)]),
    readyNodesByService([fullSlice]),
  );
});

test('a slice without ports keeps none (FQDN or not yet filled)', () => {
  const { ports: _ports, ...noPorts } = fullSlice;
  assert.equal(trimEndpointSlice(noPorts).ports, undefined);
});

test('trimAuthSecret: an Opaque Secret keeps its htpasswd and hash-like values, never other secrets', () => {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: fullMeta('basic-auth', { labels: { a: 'b' } }),
    data: {
      auth: b64('foo:$apr1$elxsI/fT$SdAO/Y.voO91B1raUvhNA.\n'),
      bob: b64('$2y$05$BZ34fNpADeQM4QmpsTseje4lIM4TDaDwCgWSDKtnDNOiC.iIYhYZO'),
      sha: b64('{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00='),
      'db-password': b64('hunter2'),
      huge: b64(`$${'x'.repeat(600)}`),
    },
  };
  const trimmed = trimAuthSecret(secret as never);
  assert.deepEqual(trimmed.data, {
    auth: secret.data.auth,
    bob: secret.data.bob,
    sha: secret.data.sha,
    'db-password': '',
    huge: '',
  });
  assert.equal(trimmed.type, 'Opaque');
  assert.equal(trimmed.metadata?.labels, undefined);
  const token = trimAuthSecret({ ...secret, data: { auth: b64('an-api-token') } } as never);
  assert.deepEqual(token.data, {}, 'an auth key without a : is no htpasswd file');
});
