import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isPierError } from './errors.ts';
import {
  backend,
  certificate,
  endpoint,
  route,
  sampleTable,
  seededRandom,
  table,
  vhost,
} from './fixtures.test.ts';
import type { PathType } from './path-match.ts';
import { canonicalJson, decodeRoutePatch, encodeRoutePatch } from './route-codec.ts';
import type { RoutePatch } from './route-patch.ts';
import { applyRoutePatch, diffRouteTables } from './route-patch.ts';
import type { Backend, Certificate, RouteTable, VirtualHost } from './route-table.ts';
import { validateRouteTable } from './route-table-validation.ts';

const SERVICES = ['web', 'api', 'img', 'auth', 'cart'];
const POD_IPS = ['192.0.2.10', '192.0.2.11', '2001:db8::10', '198.51.100.7'];
const ADDRESSES = ['203.0.113.1', '203.0.113.2', '2001:db8:1::1', '*'];
const HOSTS = ['shop.example.com', '*.api.example.com', 'example.org', ''];
const PATHS = ['/', '/api', '/api/v1', '/static/', '/login'];
const TYPES: PathType[] = ['Prefix', 'Exact', 'ImplementationSpecific'];

function randomTable(random: () => number, revision: number): RouteTable {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const backends: Backend[] = SERVICES.filter(() => random() < 0.6).map((name) => {
    const b = backend(
      name,
      random() < 0.5 ? 80 : 'http',
      POD_IPS.filter(() => random() < 0.5),
    );
    if (random() < 0.3) b.balancing = { algorithm: 'round-robin' };
    if (random() < 0.3) b.endpoints.push(endpoint('198.51.100.99', 9090, { ready: false }));
    return b;
  });
  const certificates: Certificate[] = ['shop/a-tls', 'shop/b-tls']
    .filter(() => random() < 0.5)
    .map(certificate);
  const vhosts: VirtualHost[] = [];
  for (const address of ADDRESSES) {
    for (const host of HOSTS) {
      if (random() > 0.35 || backends.length === 0) continue;
      const routes = Array.from({ length: Math.floor(random() * 4) }, () =>
        route(pick(PATHS), pick(TYPES), pick(backends).id),
      );
      const v = vhost(address, host, routes);
      if (host !== '' && certificates.length > 0 && random() < 0.5) {
        v.tls = { certificate: pick(certificates).id };
      }
      if (host === '' && random() < 0.5) v.defaultBackend = pick(backends).id;
      vhosts.push(v);
    }
  }
  return table(revision, { vhosts, backends, certificates });
}

test('applying diff(a, b) to a gives b, for many table pairs', () => {
  const random = seededRandom(20250101);
  let patches = 0;
  for (let i = 0; i < 300; i++) {
    const a = randomTable(random, i);
    // Every fifth pair shares most content, so small patches are exercised too.
    const b = i % 5 === 0 ? { ...structuredClone(a), revision: i + 1 } : randomTable(random, i + 1);
    if (i % 5 === 0 && a.backends['shop/web:80'] !== undefined) {
      (b.backends['shop/web:80'] as Backend).endpoints = [];
    }
    const patch = diffRouteTables(a, b);
    if (patch === undefined) {
      assert.equal(canonicalJson({ ...a, revision: 0 }), canonicalJson({ ...b, revision: 0 }));
      continue;
    }
    patches++;
    assert.deepEqual(validateRouteTable(a).problems, [], 'generator makes valid tables');
    const applied = applyRoutePatch(a, patch);
    assert.deepEqual(applied, b);
    // The patch survives the change log.
    assert.deepEqual(applyRoutePatch(a, decodeRoutePatch(encodeRoutePatch(patch))), b);
  }
  assert.ok(patches > 250, `only ${patches} non-empty patches`);
});

test('identical content gives no patch, whatever the revision and key order', () => {
  const a = sampleTable(3);
  const reordered: RouteTable = JSON.parse(JSON.stringify({ ...a, revision: 9 }));
  reordered.virtualHosts = Object.fromEntries(Object.entries(a.virtualHosts).reverse());
  assert.equal(diffRouteTables(a, reordered), undefined);
  assert.equal(diffRouteTables(a, structuredClone(a)), undefined);
});

test('a diff names exactly what changed', () => {
  const a = sampleTable(3);
  const b = structuredClone({ ...a, revision: 4 });
  const web = b.backends['shop/web:80'] as Backend;
  web.endpoints = [endpoint('192.0.2.99')];
  delete b.virtualHosts['203.0.113.1|*.api.example.com'];
  delete b.backends['shop/api:http'];
  assert.deepEqual(diffRouteTables(a, b), {
    fromRevision: 3,
    toRevision: 4,
    set: { backends: { 'shop/web:80': web } },
    remove: { virtualHosts: ['203.0.113.1|*.api.example.com'], backends: ['shop/api:http'] },
  });
});

test('a diff that could never apply is refused', () => {
  const a = sampleTable(5);
  const b = { ...table(5, {}) };
  assert.throws(
    () => diffRouteTables(a, b),
    (err) => isPierError(err, 'PIER_INVALID_ROUTE_PATCH'),
  );
});

test('applyRoutePatch refuses patches that do not fit', () => {
  const t = sampleTable(3);
  const patch = (p: Partial<RoutePatch>): RoutePatch => ({
    fromRevision: 3,
    toRevision: 4,
    set: {},
    remove: {},
    ...p,
  });
  const rows: Array<[string, RoutePatch, string]> = [
    ['behind', patch({ fromRevision: 2, toRevision: 3 }), 'PIER_REVISION_GAP'],
    ['ahead', patch({ fromRevision: 4, toRevision: 5 }), 'PIER_REVISION_GAP'],
    ['not advancing', patch({ toRevision: 3 }), 'PIER_INVALID_ROUTE_PATCH'],
    [
      'set and removed',
      patch({
        set: { backends: { 'shop/web:80': backend('web') } },
        remove: { backends: ['shop/web:80'] },
      }),
      'PIER_INVALID_ROUTE_PATCH',
    ],
  ];
  for (const [name, p, code] of rows) {
    assert.throws(
      () => applyRoutePatch(t, p),
      (err) => isPierError(err) && err.code === code,
      name,
    );
  }
});

test('applyRoutePatch leaves its input alone', () => {
  const t = sampleTable(3);
  const before = canonicalJson(t);
  const next = applyRoutePatch(t, {
    fromRevision: 3,
    toRevision: 4,
    set: { backends: { 'shop/img:80': backend('img') } },
    remove: { virtualHosts: ['203.0.113.1|'] },
  });
  assert.equal(canonicalJson(t), before);
  assert.equal(next.revision, 4);
  assert.ok(next.backends['shop/img:80']);
  assert.equal(next.virtualHosts['203.0.113.1|'], undefined);
  // Untouched sections are shared, not copied.
  assert.equal(next.certificates, t.certificates);
});
