import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { KeyRing } from '@pier/shared';
import { demoBackendSpecs } from './demo-backends.ts';
import { LastGoodObjects } from './last-good-objects.ts';
import { ManifestCompiler } from './manifest-compiler.ts';
import { formatProblem, parseManifestFile, type SourcedObject } from './manifest-file.ts';
import { MemoryRouteSource } from './memory-route-source.ts';

const EXAMPLES = resolve(import.meta.dirname, '..', '..', '..', 'examples', 'standalone');

function examples(): SourcedObject[] {
  const files = readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => parseManifestFile(f, readFileSync(join(EXAMPLES, f), 'utf8')));
  const snapshot = new LastGoodObjects().combine(files);
  assert.deepEqual(snapshot.problems, [], 'the shipped examples have no problems');
  return snapshot.objects;
}

const ring = (): KeyRing => new KeyRing({ current: 'k', keys: { k: randomBytes(32) } });

describe('ManifestCompiler on the shipped examples', () => {
  test('every Ingress gets an address from the pool and its routes are compiled for every listener', () => {
    const out = new ManifestCompiler(ring()).compile(examples());
    assert.deepEqual(out.addresses, [
      // No sharing key: the two Ingresses share one address, as in a cluster.
      { ingress: 'default/shop', addresses: ['192.0.2.10'], pool: 'demo' },
      { ingress: 'default/web', addresses: ['192.0.2.10'], pool: 'demo' },
    ]);
    assert.deepEqual(Object.keys(out.table.virtualHosts).sort(), [
      '*|shop.example.test',
      '*|web.example.test',
    ]);
    const web = out.table.virtualHosts['*|web.example.test'];
    assert.deepEqual(
      web?.routes.map((r) => [r.path, r.backend]),
      [
        ['/', 'default/web:80'],
        ['/api', 'default/api:80'],
      ],
    );
    assert.equal(out.table.backends['default/web:80']?.balancing.algorithm, 'round-robin');
    assert.equal(out.table.backends['default/web:80']?.healthCheck.intervalMs, 1_000);
    assert.deepEqual(
      out.table.backends['default/web:80']?.endpoints.map((e) => `${e.address}:${e.port}`),
      ['127.0.0.1:9101', '127.0.0.1:9102'],
    );
    // The Secret has no certificate until standalone fills it: TLS is reported, not silently lost.
    assert.equal(out.table.virtualHosts['*|shop.example.test']?.tls, undefined);
    assert.ok(
      out.problems.some(
        (p) => p.object === 'Secret default/shop-tls' || p.object === 'Ingress default/shop',
      ),
    );
  });

  test('an Ingress naming an unknown pool gets no address, is not served, and is reported on its file', () => {
    const objects = examples().map((o) =>
      o.kind === 'Ingress' && o.name === 'web'
        ? {
            ...o,
            object: {
              ...o.object,
              metadata: {
                ...(o.object.metadata as object),
                annotations: { 'pier.dev/address-pool': 'nope' },
              },
            },
          }
        : o,
    );
    const out = new ManifestCompiler(ring()).compile(objects);
    assert.deepEqual(
      out.addresses.find((a) => a.ingress === 'default/web'),
      {
        ingress: 'default/web',
        code: 'PIER_UNKNOWN_POOL',
        message: 'address pool "nope" does not exist; the Ingress is not served',
      },
    );
    assert.equal(out.table.virtualHosts['*|web.example.test'], undefined);
    assert.ok(
      out.problems
        .map(formatProblem)
        .includes(
          'web.yaml: Ingress default/web: PIER_UNKNOWN_POOL: address pool "nope" does not exist; the Ingress is not served',
        ),
    );
  });

  test('an Ingress of another IngressClass is left alone and reported; class pier is served', () => {
    const withClass = (className: string) =>
      examples().map((o) =>
        o.kind === 'Ingress' && o.name === 'web'
          ? {
              ...o,
              object: {
                ...o.object,
                spec: { ...(o.object.spec as object), ingressClassName: className },
              },
            }
          : o,
      );
    const other = new ManifestCompiler(ring()).compile(withClass('nginx'));
    assert.equal(other.table.virtualHosts['*|web.example.test'], undefined);
    assert.equal(
      other.addresses.find((a) => a.ingress === 'default/web'),
      undefined,
      'no address for an Ingress that is not Pier’s',
    );
    assert.ok(
      other.problems
        .map(formatProblem)
        .includes(
          'web.yaml: Ingress default/web: spec.ingressClassName: ingressClassName nginx is not a Pier class; not served',
        ),
      other.problems.map(formatProblem).join('\n'),
    );
    const pier = new ManifestCompiler(ring()).compile(withClass('pier'));
    assert.ok(pier.table.virtualHosts['*|web.example.test'], 'class pier is served');
  });

  test('addresses are stable across reloads and freed when the Ingress goes', () => {
    const compiler = new ManifestCompiler(ring());
    const all = examples();
    const keyed = all.map((o) =>
      o.kind === 'Ingress' && o.name === 'web'
        ? {
            ...o,
            object: {
              ...o.object,
              metadata: {
                ...(o.object.metadata as object),
                annotations: { 'pier.dev/ip-sharing-key': 'web' },
              },
            },
          }
        : o,
    );
    const first = compiler.compile(keyed);
    assert.deepEqual(
      first.addresses.map((a) => ('addresses' in a ? a.addresses[0] : a.code)),
      ['192.0.2.10', '192.0.2.11'],
    );
    assert.deepEqual(compiler.compile(keyed).addresses, first.addresses);
    const withoutShop = keyed.filter((o) => !(o.kind === 'Ingress' && o.name === 'shop'));
    assert.deepEqual(compiler.compile(withoutShop).addresses, [
      { ingress: 'default/web', addresses: ['192.0.2.11'], pool: 'demo' },
    ]);
  });
});

describe('demoBackendSpecs', () => {
  test('one demo backend per loopback endpoint of the examples, named by its targetRef', () => {
    assert.deepEqual(
      demoBackendSpecs(examples()).map((s) => `${s.name}@${s.address}:${s.port}`),
      [
        'web-1@127.0.0.1:9101',
        'web-2@127.0.0.1:9102',
        'api-1@127.0.0.1:9103',
        'shop-1@127.0.0.1:9104',
      ],
    );
  });
});

describe('MemoryRouteSource', () => {
  test('numbers new tables, skips unchanged ones, and hands the dataplane what it validated', () => {
    const tables: number[] = [];
    const source = new MemoryRouteSource().bind({
      onTable: (t) => tables.push(t.revision),
      onProblems: () => undefined,
    });
    const table = new ManifestCompiler(ring()).compile(examples()).table;
    assert.equal(source.publish(table), 1);
    assert.equal(
      source.publish(structuredClone(table)),
      undefined,
      'an identical table is not republished',
    );
    void source.start();
    assert.deepEqual(tables, [1], 'start hands over the current table');
    assert.equal(source.publish({ ...table, virtualHosts: {} }), 2);
    assert.deepEqual(tables, [1, 2]);
  });
});
