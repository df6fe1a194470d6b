import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkManifestDocument, SELF_SIGNED_ANNOTATION } from './manifest-validation.ts';

const ingress = (spec: unknown, metadata: object = { name: 'shop' }) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'Ingress',
  metadata,
  spec,
});
const path = (p: object) =>
  ingress({
    rules: [{ host: 'shop.example.test', http: { paths: [p] } }],
  });
const backend = { service: { name: 'shop', port: { number: 80 } } };
const slice = (extra: object) => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: { name: 'shop-1', labels: { 'kubernetes.io/service-name': 'shop' } },
  addressType: 'IPv4',
  ...extra,
});

describe('checkManifestDocument refuses, naming object and field', () => {
  const cases: Array<[string, unknown, string | undefined, string, RegExp]> = [
    ['not a mapping', ['a'], undefined, '', /must be a mapping/],
    ['no kind', { apiVersion: 'v1' }, undefined, 'kind', /is required/],
    [
      'a kind not read',
      { apiVersion: 'apps/v1', kind: 'Deployment' },
      undefined,
      'kind',
      /not Deployment/,
    ],
    [
      'a wrong apiVersion',
      { ...ingress({}), apiVersion: 'extensions/v1beta1' },
      undefined,
      'apiVersion',
      /networking\.k8s\.io\/v1/,
    ],
    ['no name', ingress({}, {}), undefined, 'metadata.name', /is required/],
    [
      'an upper-case name',
      ingress({}, { name: 'Shop' }),
      undefined,
      'metadata.name',
      /DNS subdomain/,
    ],
    [
      'a bad namespace',
      ingress({}, { name: 'shop', namespace: 'a.b' }),
      undefined,
      'metadata.namespace',
      /DNS label/,
    ],
    ['no spec', { ...ingress({}), spec: undefined }, 'Ingress default/shop', 'spec', /is required/],
    [
      'a bad pathType',
      path({ path: '/', pathType: 'Sometimes', backend }),
      'Ingress default/shop',
      'spec.rules[0].http.paths[0].pathType',
      /^must be Exact, Prefix or ImplementationSpecific$/,
    ],
    [
      'a relative path',
      path({ path: 'shop', pathType: 'Prefix', backend }),
      'Ingress default/shop',
      'spec.rules[0].http.paths[0].path',
      /absolute/,
    ],
    [
      'no path backend',
      path({ path: '/', pathType: 'Prefix' }),
      'Ingress default/shop',
      'spec.rules[0].http.paths[0].backend',
      /is required/,
    ],
    [
      'a port with number and name',
      path({
        path: '/',
        pathType: 'Prefix',
        backend: { service: { name: 'shop', port: { number: 80, name: 'http' } } },
      }),
      'Ingress default/shop',
      'spec.rules[0].http.paths[0].backend.service.port',
      /exactly one/,
    ],
    [
      'a port out of range',
      path({
        path: '/',
        pathType: 'Prefix',
        backend: { service: { name: 'shop', port: { number: 70000 } } },
      }),
      'Ingress default/shop',
      'spec.rules[0].http.paths[0].backend.service.port.number',
      /1-65535/,
    ],
    [
      'a host with a port',
      ingress({ rules: [{ host: 'shop.example.test:80' }] }),
      'Ingress default/shop',
      'spec.rules[0].host',
      /port/,
    ],
    [
      'a tls host that is no string',
      ingress({ tls: [{ hosts: [1] }] }),
      'Ingress default/shop',
      'spec.tls[0].hosts[0]',
      /string/,
    ],
    [
      'a Service without ports',
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'shop' }, spec: {} },
      'Service default/shop',
      'spec.ports',
      /is required/,
    ],
    [
      'a Service port as text',
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'shop' },
        spec: { ports: [{ port: '80' }] },
      },
      'Service default/shop',
      'spec.ports[0].port',
      /1-65535/,
    ],
    [
      'a slice without its Service label',
      { ...slice({}), metadata: { name: 'shop-1' } },
      'EndpointSlice default/shop-1',
      'metadata.labels["kubernetes.io/service-name"]',
      /is required/,
    ],
    [
      'a slice address of the wrong family',
      slice({ endpoints: [{ addresses: ['::1'] }] }),
      'EndpointSlice default/shop-1',
      'endpoints[0].addresses[0]',
      /not an IPv4/,
    ],
    [
      'a slice without addresses',
      slice({ endpoints: [{ addresses: [] }] }),
      'EndpointSlice default/shop-1',
      'endpoints[0].addresses',
      /empty/,
    ],
    [
      'a condition as text',
      slice({ endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: 'yes' } }] }),
      'EndpointSlice default/shop-1',
      'endpoints[0].conditions.ready',
      /true or false/,
    ],
    [
      'Secret data that is not base64',
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'tls' },
        data: { 'tls.crt': '-----BEGIN' },
      },
      'Secret default/tls',
      'data["tls.crt"]',
      /base64/,
    ],
    [
      'a self-signed annotation with a wildcard',
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'tls', annotations: { [SELF_SIGNED_ANNOTATION]: '*.example.test' } },
      },
      'Secret default/tls',
      `metadata.annotations["${SELF_SIGNED_ANNOTATION}"]`,
      /wildcard/,
    ],
    [
      'a pool range backwards',
      {
        apiVersion: 'pier.dev/v1alpha1',
        kind: 'IPAddressPool',
        metadata: { name: 'demo' },
        spec: { addresses: ['192.0.2.20-192.0.2.10'] },
      },
      'IPAddressPool demo',
      'spec.addresses[0]',
      /after range end/,
    ],
    [
      'an empty pool',
      {
        apiVersion: 'pier.dev/v1alpha1',
        kind: 'IPAddressPool',
        metadata: { name: 'demo' },
        spec: { addresses: [] },
      },
      'IPAddressPool demo',
      'spec.addresses',
      /empty/,
    ],
    [
      'a policy without target',
      {
        apiVersion: 'pier.dev/v1alpha1',
        kind: 'HealthCheckPolicy',
        metadata: { name: 'web' },
        spec: {},
      },
      'HealthCheckPolicy default/web',
      'spec.targetRef',
      /is required/,
    ],
    [
      'a policy threshold as text',
      {
        apiVersion: 'pier.dev/v1alpha1',
        kind: 'HealthCheckPolicy',
        metadata: { name: 'web' },
        spec: { targetRef: { name: 'web' }, healthyThreshold: 'two' },
      },
      'HealthCheckPolicy default/web',
      'spec.healthyThreshold',
      /whole number/,
    ],
    [
      'an annotation that is no string',
      ingress({}, { name: 'shop', annotations: { a: 1 } }),
      'Ingress default/shop',
      'metadata.annotations["a"]',
      /string/,
    ],
  ];
  for (const [name, doc, object, field, message] of cases) {
    test(name, () => {
      const check = checkManifestDocument(doc);
      assert.equal(check.ok, false);
      if (check.ok) return;
      assert.equal(check.problem.object, object);
      assert.equal(check.problem.field, field);
      assert.match(check.problem.message, message);
    });
  }
});

describe('checkManifestDocument accepts', () => {
  const cases: Array<[string, unknown, string, string]> = [
    [
      'an Ingress, in the default namespace',
      path({ path: '/', pathType: 'Prefix', backend }),
      'Ingress',
      'default',
    ],
    [
      'an ImplementationSpecific path without path',
      path({ pathType: 'ImplementationSpecific', backend }),
      'Ingress',
      'default',
    ],
    [
      'a namespaced Service',
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'shop', namespace: 'team-a' },
        spec: { ports: [{ port: 80, targetPort: 'http' }] },
      },
      'Service',
      'team-a',
    ],
    [
      'a slice with conditions',
      slice({
        endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: false, serving: true } }],
        ports: [{ port: 9101 }],
      }),
      'EndpointSlice',
      'default',
    ],
    [
      'a TLS Secret with stringData',
      {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/tls',
        metadata: { name: 'tls' },
        stringData: { 'tls.crt': '-----BEGIN' },
      },
      'Secret',
      'default',
    ],
    [
      'a pool, without namespace',
      {
        apiVersion: 'pier.dev/v1alpha1',
        kind: 'IPAddressPool',
        metadata: { name: 'demo', namespace: 'x' },
        spec: { addresses: ['192.0.2.0/28'] },
      },
      'IPAddressPool',
      '',
    ],
  ];
  for (const [name, doc, kind, namespace] of cases) {
    test(name, () => {
      const check = checkManifestDocument(doc);
      assert.ok(check.ok, JSON.stringify(check));
      assert.equal(check.object.kind, kind);
      assert.equal(check.object.namespace, namespace);
      if (namespace !== '') {
        const metadata = check.object.object.metadata as { namespace: string };
        assert.equal(metadata.namespace, namespace, 'the namespace is filled in for the compiler');
      }
    });
  }
});
