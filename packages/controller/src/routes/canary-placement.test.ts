import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Ingress } from '@kubernetes/client-node';
import { DEFAULT_HEALTH_CHECK, validateRouteTable } from '@pier/shared';
import { IncrementalCompiler } from './incremental-compiler.ts';
import { compileRoutes } from './route-compiler.ts';
import {
  ADDRESS,
  compileInput,
  fakeSealer,
  ingress,
  path,
  rule,
  service,
  slice,
} from './route-fixtures.test.ts';

const P = 'nginx.ingress.kubernetes.io/';
const HOST = 'shop.example.test';
const objects = {
  services: [service('main'), service('canary'), service('other')],
  endpointSlices: [
    slice('main-1', 'main', [{ name: 'http', port: 8080 }], [['192.0.2.1']]),
    slice('canary-1', 'canary', [{ name: 'http', port: 8080 }], [['192.0.2.2']]),
    slice('other-1', 'other', [{ name: 'http', port: 8080 }], [['192.0.2.3']]),
  ],
};
const MAIN = 'shop/main:80';
const CANARY = 'shop/canary:80';

const main = (age = 1, ...paths: string[]) =>
  ingress('main', {
    age,
    rules: [rule(HOST, ...(paths.length > 0 ? paths : ['/']).map((p) => path(p, 'main', 80)))],
  });
const canary = (
  name: string,
  age: number,
  annotations: Record<string, string>,
  p = '/',
  svc = 'canary',
) =>
  ingress(name, {
    age,
    rules: [rule(HOST, path(p, svc, 80))],
    annotations: Object.fromEntries(
      Object.entries({ canary: 'true', ...annotations }).map(([k, v]) => [P + k, v]),
    ),
  });

function compile(ingresses: V1Ingress[]) {
  const out = compileRoutes(compileInput({ ingresses, ...objects }));
  assert.deepEqual(validateRouteTable({ revision: 1, ...out.table }).problems, []);
  const compiler = new IncrementalCompiler({
    defaultHealthCheck: DEFAULT_HEALTH_CHECK,
    sealKey: fakeSealer().sealKey,
  });
  const incremental = compiler.compileAll(compileInput({ ingresses, ...objects }));
  assert.deepEqual(Object.fromEntries(incremental.entries.virtualHosts), out.table.virtualHosts);
  assert.deepEqual(Object.fromEntries(incremental.entries.backends), out.table.backends);
  const said = out.problems.map((p) => [p.object.name, p.reason, p.message]);
  return { out, said, vhost: out.table.virtualHosts[`${ADDRESS}|${HOST}`] };
}

// annotations.md#canary; controller.go mergeAlternativeBackends.
test('annotations.md#canary: the canary joins the main route as its split, with no RouteConflict', () => {
  const { out, said, vhost } = compile([
    main(1),
    canary('beta', 0, {
      'canary-weight': '20',
      'canary-by-header': 'X-Canary',
      'load-balance': 'round_robin',
    }),
  ]);
  assert.deepEqual(said, []);
  assert.equal(vhost?.routes.length, 1, 'the canary claims no route of its own');
  assert.equal(vhost?.routes[0]?.backend, MAIN);
  assert.deepEqual(vhost?.routes[0]?.split, {
    affinity: 'primary',
    rules: [
      { source: 'header', name: 'x-canary', type: 'Exact', value: 'always', backend: CANARY },
      { source: 'header', name: 'x-canary', type: 'Exact', value: 'never', backend: MAIN },
    ],
    weights: [
      { backend: MAIN, weight: 80 },
      { backend: CANARY, weight: 20 },
    ],
  });
  assert.deepEqual(
    out.table.backends[CANARY]?.endpoints.map((e) => e.address),
    ['192.0.2.2'],
  );
  assert.equal(
    out.table.backends[CANARY]?.balancing.algorithm,
    'round-robin',
    "the canary's load-balance",
  );
  assert.equal(out.table.backends[MAIN]?.balancing.algorithm, 'p2c');
  assert.deepEqual(out.servedIngresses, ['shop/beta', 'shop/main']);
});

test('annotations.md#canary: without a main route the canary is not used, and says so', () => {
  const alone = compile([canary('beta', 0, { 'canary-weight': '50' })]);
  assert.equal(alone.vhost, undefined, 'no virtual host for a host only canaries ask for');
  assert.deepEqual(alone.out.table.backends, {});
  assert.deepEqual(alone.out.servedIngresses, []);
  assert.deepEqual(alone.said, [
    [
      'beta',
      'CanaryWithoutMain',
      `Prefix path '/' on host '${HOST}': no main Ingress serves this host, path and path type on the address; the canary is not used, as in ingress-nginx`,
    ],
  ]);
  const otherPath = compile([main(1, '/'), canary('beta', 0, { 'canary-weight': '50' }, '/beta')]);
  assert.equal(otherPath.vhost?.routes[0]?.split, undefined);
  assert.deepEqual(
    otherPath.said.map(([name, reason]) => [name, reason]),
    [['beta', 'CanaryWithoutMain']],
  );
});

test('annotations.md#canary: one canary per route, the oldest; a canary of the main’s own Service changes nothing', () => {
  const { said, vhost } = compile([
    main(5),
    canary('late', 3, { 'canary-weight': '90' }),
    canary('early', 2, { 'canary-weight': '10' }, '/', 'other'),
    canary('same', 4, { 'canary-weight': '10' }, '/', 'main'),
  ]);
  assert.deepEqual(vhost?.routes[0]?.split?.weights?.[1], { backend: 'shop/other:80', weight: 10 });
  assert.deepEqual(said, [
    [
      'late',
      'RouteConflict',
      `Prefix path '/' on host '${HOST}' is ignored as a canary: the route already has the canary of the older Ingress shop/early; ingress-nginx serves one canary per route`,
    ],
    [
      'same',
      'InvalidRule',
      `Prefix path '/' on host '${HOST}': the canary's backend ${MAIN} is the main route's own; the canary changes nothing`,
    ],
  ]);
});

test('annotations.md#canary: the incremental compiler follows the canary and its endpoints', () => {
  const compiler = new IncrementalCompiler({
    defaultHealthCheck: DEFAULT_HEALTH_CHECK,
    sealKey: fakeSealer().sealKey,
  });
  const beta = canary('beta', 0, { 'canary-weight': '20' });
  let out = compiler.compileAll(compileInput({ ingresses: [main(1)], ...objects }));
  const key = `${ADDRESS}|${HOST}`;
  assert.equal(out.entries.virtualHosts.get(key)?.routes[0]?.split, undefined);
  const ingressChange = (object: V1Ingress | undefined, name = 'beta') => ({
    kind: 'Ingress' as const,
    namespace: 'shop',
    name,
    object,
    addresses: [ADDRESS],
  });
  out = compiler.update([ingressChange(beta)]);
  assert.deepEqual(out.changed.virtualHosts, new Set([key]));
  assert.deepEqual(out.changed.backends, new Set([CANARY]));
  assert.equal(out.entries.virtualHosts.get(key)?.routes[0]?.split?.weights?.[1]?.weight, 20);
  out = compiler.update([
    {
      kind: 'EndpointSlice',
      namespace: 'shop',
      name: 'canary-1',
      object: slice('canary-1', 'canary', [{ name: 'http', port: 8080 }], [['192.0.2.9']]),
    },
  ]);
  assert.deepEqual(out.changed.backends, new Set([CANARY]));
  assert.equal(out.entries.backends.get(CANARY)?.endpoints[0]?.address, '192.0.2.9');
  const plain = { ...beta, metadata: { ...beta.metadata, annotations: {} } };
  out = compiler.update([ingressChange(plain)]);
  assert.equal(out.entries.virtualHosts.get(key)?.routes[0]?.split, undefined);
  assert.equal(out.entries.virtualHosts.get(key)?.routes[0]?.backend, CANARY);
  assert.deepEqual(
    out.problems.map((p) => [p.object.name, p.reason]),
    [['main', 'RouteConflict']],
    'without the annotation, it is an ordinary Ingress, and the older one',
  );
  out = compiler.update([ingressChange(undefined)]);
  assert.equal(out.entries.virtualHosts.get(key)?.routes[0]?.split, undefined);
  assert.equal(out.entries.backends.has(CANARY), false);
});
